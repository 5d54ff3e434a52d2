/// @file atomic_output.hpp
/// @brief An output path written under a temporary name and renamed into place only when
/// complete, so the final name never holds a partial file (FIELD_NOTES "Crash-safe output").
#pragma once

#include <string>
#include <vector>

namespace wafermill::format {

/// @brief Owns `<final>.tmp.<pid>` until commit() renames it to `<final>`.
class AtomicOutput {
 public:
  /// @brief Reserves the temporary name beside `final_path` (removing a stale one).
  /// @throws UsageError "OUT exists; pass --force to overwrite" if final_path exists and !force,
  /// when final_path is a directory, or when it is the same file (file_guard.hpp: not just the
  /// same string) as one of `inputs`, whatever force says.
  AtomicOutput(std::string final_path, bool force, const std::vector<std::string>& inputs = {});
  /// @brief Removes the temporary file unless commit() succeeded.
  ~AtomicOutput();
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;

  /// @brief The name to write to.
  const std::string& temp_path() const { return temp_path_; }
  /// @brief The name the file gets on commit().
  const std::string& final_path() const { return final_path_; }
  /// @brief fsyncs the (closed) temporary file, renames it to the final name and fsyncs the
  /// directory. @throws InputError if any step fails (the temporary file is then removed).
  void commit();

 private:
  std::string final_path_;
  std::string temp_path_;
  bool committed_ = false;
};

}  // namespace wafermill::format
