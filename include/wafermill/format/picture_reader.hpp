/// @file picture_reader.hpp
/// @brief What kinds of wafer data a file holds, and reads of die-map cells and images.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "wafermill/format/image_index.hpp"
#include "wafermill/format/map_index.hpp"

namespace wafermill::format {

namespace h5 {
class File;
}

/// @brief Which top-level groups a file has (any mix of the three is a valid input).
struct FileContents {
  bool traces = false;
  bool maps = false;
  bool images = false;
};

/// @brief Looks for /traces, /maps and /images (links of any kind count as present, so that
/// the index readers reject a foreign link rather than the data being silently skipped).
/// @throws InputError if the file is missing, not HDF5 or cannot be opened.
FileContents probe_contents(const std::string& path);
/// @brief The same, leaving the file open in `*open` for the reads that follow (e.g.
/// read_trace_index(path, *open)): one HDF5 open where there were two.
FileContents probe_contents(const std::string& path, h5::File* open);

/// @brief An open file for reading /maps/cells and /images/pixels by hyperslab (sec2 driver;
/// every rank opens its own).
class PictureReader {
 public:
  /// @brief Opens `path` read-only. @throws InputError if it cannot be opened.
  explicit PictureReader(const std::string& path);
  ~PictureReader();
  PictureReader(const PictureReader&) = delete;
  PictureReader& operator=(const PictureReader&) = delete;

  /// @brief Reads cells [first, first + out.size()) of /maps/cells.
  /// @throws InputError naming file, dataset and range when the read fails.
  void read_cells(std::uint64_t first, std::span<std::uint8_t> out);
  /// @brief Reads image i of /images/pixels into `out` (values_per_image() values, converted
  /// to uint16 exactly). @throws InputError naming file, dataset and image when it fails.
  void read_image(const ImageIndex& index, std::uint64_t i, std::span<std::uint16_t> out);
  /// @brief Stored bytes read so far.
  std::uint64_t bytes_read() const { return bytes_read_; }

 private:
  struct Handles;
  std::unique_ptr<Handles> h_;
  std::string path_;
  std::uint64_t bytes_read_ = 0;
};

}  // namespace wafermill::format
