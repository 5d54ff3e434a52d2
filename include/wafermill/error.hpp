/// @file error.hpp
/// @brief The error types of wafermill and the exit codes they map to.
#pragma once

#include <stdexcept>
#include <string>

namespace wafermill {

/// @brief Process exit codes (README "Exit codes").
enum class ExitCode : int { success = 0, runtime_failure = 1, bad_input = 2 };

/// @brief Bad input or usage: the user's problem, not a bug. Maps to exit code 2.
/// The message names the file, the dataset and the index where they are known.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// @brief A command line or configuration that cannot be honoured. Maps to exit code 2.
class UsageError : public InputError {
 public:
  using InputError::InputError;
};

/// @brief Bad input detected by rank 0 and broadcast, so that every rank throws it together:
/// the ranks can finalise MPI and exit with code 2 without MPI_Abort; rank 0 alone prints it.
class CollectiveInputError : public InputError {
 public:
  using InputError::InputError;
};

/// @brief An HDF5 call failed on a file that is otherwise acceptable (I/O error, locking...).
/// Carries the file, the object path and HDF5's own error stack. Maps to exit code 1 unless
/// raised while validating input, where format/ throws InputError instead.
class HdfError : public std::runtime_error {
 public:
  HdfError(std::string file, std::string object, const std::string& what)
      : std::runtime_error(what), file_(std::move(file)), object_(std::move(object)) {}
  /// @brief The file the failing call worked on.
  const std::string& file() const noexcept { return file_; }
  /// @brief The object path inside the file ("/traces/values"), or empty.
  const std::string& object() const noexcept { return object_; }

 private:
  std::string file_;
  std::string object_;
};

/// @brief The file cannot be opened because an HDF5 writer holds it, or left it marked open
/// when it crashed (HDF5 1.10's superblock status flags, or another process's file lock).
/// The message names the file and says how to proceed. An HdfError, so every open path treats
/// it as one; the input checks turn it into InputError (exit code 2) without calling the file
/// damaged.
class FileInUseError : public HdfError {
 public:
  using HdfError::HdfError;
};

}  // namespace wafermill
