/// @file trace_file_writer.hpp
/// @brief The HDF5 side of the generator: creates the datasets of a "wafermill traces v1"
/// file at their final sizes and fills them by hyperslab, batch by batch.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "wafermill/format/h5.hpp"
#include "wafermill/generate/generator.hpp"

namespace wafermill::generate {

/// @brief Per-wafer columns of one batch of consecutive wafers.
struct WaferBatch {
  std::vector<std::int64_t> lot_id;
  std::vector<std::int64_t> wafer_id;
  std::vector<std::int64_t> tool_id;
  std::vector<std::uint8_t> label;
  std::vector<std::uint8_t> anomaly_kind;
  std::vector<std::int32_t> anomaly_sensor;
  std::vector<std::int64_t> anomaly_begin;  ///< first affected row within the wafer, or -1
  std::vector<std::int64_t> anomaly_end;    ///< one past the last affected row, or -1

  /// @brief Wafers in the batch.
  std::size_t size() const { return lot_id.size(); }
  /// @brief Empties every column.
  void clear();
};

/// @brief Where a file stands in a set of generated files (generator.hpp n_files).
struct SetPart {
  std::uint64_t n_files = 0;      ///< 0: a single file, not a set
  std::uint64_t index = 0;        ///< this file's position in the set
  std::uint64_t first_wafer = 0;  ///< the set's wafer number of the file's first wafer
  std::uint64_t n_wafers = 0;     ///< wafers in this file
};

/// @brief Writes one generated file. Every dataset is created at its final size up front,
/// so the file is filled by hyperslab writes and never resized.
class TraceFileWriter {
 public:
  /// @brief Creates `path` (truncating) with every dataset and attribute except the data:
  /// n_wafers wafers, n_samples rows of sensor_names.size() columns.
  /// @throws HdfError
  TraceFileWriter(const std::string& path, const GeneratorOptions& options, std::uint64_t n_wafers,
                  std::uint64_t n_samples, const std::vector<std::string>& sensor_names);

  /// @brief Writes rows [first_row, first_row + n_rows) of /traces/values (the element
  /// type must match options.float64) and of /traces/step (ignored without steps).
  /// @throws HdfError
  template <typename T>
  void write_rows(std::uint64_t first_row, std::uint64_t n_rows, std::span<const T> values,
                  std::span<const std::int32_t> steps);
  /// @brief Writes /wafers/* and /truth/* for wafers [first_wafer, first_wafer + size).
  /// @throws HdfError
  void write_wafers(std::uint64_t first_wafer, const WaferBatch& batch);
  /// @brief Writes /traces/offsets whole (n_wafers + 1 entries). @throws HdfError
  void write_offsets(std::span<const std::int64_t> offsets);
  /// @brief Writes the root attributes that describe the generator run (and, for a file of
  /// a set, its place in the set). @throws HdfError
  void write_run_attributes(const GeneratorOptions& options, std::uint64_t n_anomalous,
                            const SetPart& part);
  /// @brief Closes every dataset and the file, reporting any failure. @throws HdfError
  void close();

 private:
  std::string path_;
  std::uint32_t n_sensors_;
  format::h5::File file_;
  format::h5::Dataset values_;
  bool has_steps_ = false;
  format::h5::Dataset steps_;  // only with steps
  format::h5::Dataset offsets_;
  std::vector<format::h5::Dataset> wafer_columns_;  // in WaferBatch member order
};

}  // namespace wafermill::generate
