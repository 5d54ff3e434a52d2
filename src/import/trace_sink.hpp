/// @file trace_sink.hpp
/// @brief The HDF5 side of an import: a "wafermill traces v1" file whose datasets are
/// created at their final sizes (known from the scan pass) and filled in bounded batches of
/// rows and wafers by hyperslab writes.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "wafermill/format/h5.hpp"
#include "wafermill/import/labels.hpp"

namespace wafermill::import {

/// @brief Sizes and optional columns of the file to write.
struct SinkShape {
  std::uint64_t n_wafers = 0;
  std::uint64_t n_samples = 0;
  std::uint64_t n_sensors = 0;
  std::vector<std::string> sensor_names;  ///< empty: none stored (readers use sensor_<i>)
  bool float32 = false;
  int gzip_level = 0;
  std::uint64_t buffer_bytes = 16ULL << 20;
  bool labels = false;
  std::optional<TimestampType> timestamps;
  bool source_line = false;        ///< /wafers/source_line (row layouts)
  bool source_file_index = false;  ///< /wafers/source_file_index (row layouts, several files)
  bool source_file = false;        ///< /wafers/source_file (one file per wafer)
  /// N > 0: /traces/step holds time windows, row i of a wafer of n rows in window ⌊i·N/n⌋
  /// (--time-windows): the recipe steps of data that records none.
  std::uint32_t time_windows = 0;
};

/// @brief Per-wafer values besides its samples.
struct WaferMeta {
  std::uint8_t label = 0;
  std::string timestamp_text;
  std::int64_t unix_s = 0;
  std::int64_t source_line = 0;
  std::int64_t source_file_index = 0;
  std::string source_file;
};

/// @brief Writes one imported file; rows and wafers must come in order.
class TraceSink {
 public:
  /// @brief Creates `path` (truncating) with every dataset at its final size. @throws HdfError
  TraceSink(const std::string& path, SinkShape shape);

  /// @brief Root attribute describing the import. @throws HdfError
  void attribute(const std::string& name, const std::string& value);
  /// @brief Root string-array attribute. @throws HdfError
  void attribute(const std::string& name, const std::vector<std::string>& values);

  /// @brief Appends rows (row-major, a multiple of n_sensors values) of the current wafer,
  /// writing a batch whenever the buffer is full.
  /// @throws HdfError; InputError past n_samples (an input changed between the passes).
  void append_rows(std::span<const double> values);
  /// @brief Ends the current wafer: its offset and metadata are queued for writing.
  /// @throws HdfError; InputError past n_wafers.
  void end_wafer(const WaferMeta& meta);
  /// @brief Writes what is buffered and closes the file.
  /// @throws HdfError; InputError if fewer rows or wafers came than announced.
  void close();

 private:
  void flush_rows();
  void flush_wafers();
  void flush_steps();

  std::string path_;
  SinkShape shape_;
  format::h5::File file_;
  format::h5::Dataset values_, offsets_, label_, timestamp_, source_line_, source_file_index_,
      source_file_, step_;
  std::uint64_t buffer_rows_ = 0;
  std::vector<double> rows_;         // buffered rows, row-major
  std::vector<float> rows32_;        // the same converted, when storing float32
  std::uint64_t rows_written_ = 0;   // rows of /traces/values already in the file
  std::uint64_t rows_appended_ = 0;  // rows received so far
  std::uint64_t wafer_batch_ = 0;
  std::uint64_t wafers_written_ = 0;
  std::vector<std::int64_t> offsets_buf_;  // offsets[1 + w] of the queued wafers
  std::vector<std::uint8_t> label_buf_;
  std::vector<std::int64_t> unix_buf_, line_buf_, file_index_buf_;
  std::vector<std::string> text_buf_, file_buf_;
  std::uint64_t wafer_first_row_ = 0;  // the current wafer's first row
  std::uint64_t steps_written_ = 0;    // rows of /traces/step already in the file
  std::vector<std::int32_t> step_buf_;
};

}  // namespace wafermill::import
