/// @file picture_checks.hpp
/// @brief Checks shared by the map and image indexes (private to format/): the same rules as
/// the trace index (docs/FORMAT.md "Validation rules"), stopping at the first problem.
/// (trace_index.cpp keeps its own dataset checks, with a collecting mode that `wafermill
/// validate` needs; the message wording is shared through type_text.hpp.)
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "type_text.hpp"
#include "wafermill/format/h5.hpp"

namespace wafermill::format::detail {

/// @brief What the dataset checks learnt.
struct CheckedDataset {
  h5::Dataset dataset;
  std::vector<std::uint64_t> dims;
  h5::TypeInfo type;
  h5::StorageInfo storage;
};

/// @brief Returns "" when a type is acceptable, else what was expected ("uint8").
using TypeRule = std::function<std::string(const h5::TypeInfo&)>;

/// @brief Throws InputError "<file>: <object>: <what>" at the first problem.
class PictureChecker {
 public:
  /// @brief Checks that `path` is a regular HDF5 file and opens it read-only.
  /// @throws InputError otherwise.
  explicit PictureChecker(std::string path);

  const std::string& path() const { return path_; }
  std::uint64_t file_size() const { return file_size_; }
  const h5::File& file() const { return file_; }
  /// @brief The open file, moved out (the checker is done with it).
  h5::File release_file() { return std::move(file_); }

  /// @brief Throws InputError "<file>: <object>: <what>".
  [[noreturn]] void fail(const std::string& object, const std::string& what) const;
  /// @brief Throws InputError "<file>: <object>[<i>] = <value><rest>" (the form of
  /// per-element problems, as for traces).
  [[noreturn]] void fail_element(const std::string& object, std::uint64_t i,
                                 const std::string& value, const std::string& rest) const;
  /// @brief Opens group `name` of the root, a hard link to a group. @throws InputError
  h5::Group group(const std::string& name) const;
  /// @brief Opens dataset `name` of `group` (a hard link to a dataset) and checks its rank,
  /// type, layout, filters, chunk size, extent against the file and that it is completely
  /// written. @throws InputError
  CheckedDataset dataset(const h5::Group& group, const std::string& name, std::size_t rank,
                         const TypeRule& rule) const;
  /// @brief Reads a 1-D integer dataset whole as int64 (its size already checked against the
  /// file). @throws InputError
  std::vector<std::int64_t> read_int64(const CheckedDataset& d) const;

 private:
  std::string path_;
  std::uint64_t file_size_ = 0;
  h5::File file_;
};

/// @brief Runs `body`, turning an HdfError (damaged metadata or data) into an InputError
/// naming the file. @throws InputError
void as_input_errors(const std::string& path, const std::function<void()>& body);

}  // namespace wafermill::format::detail
