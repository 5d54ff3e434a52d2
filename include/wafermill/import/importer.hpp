/// @file importer.hpp
/// @brief `wafermill import`: converts fab text data into a "wafermill traces v1" HDF5 file
/// (docs/FORMAT.md, docs/IMPORT.md). Two streaming passes over the text: the first checks
/// every line and counts wafers, samples and sensors; the second writes the rows in bounded
/// batches into datasets created at their final sizes. The output is written under a
/// temporary name and renamed only when complete, so bad input leaves no file behind.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "wafermill/import/labels.hpp"
#include "wafermill/import/text_table.hpp"

namespace wafermill::import {

/// @brief How the text maps onto wafers, samples and sensors.
enum class Layout : std::uint8_t {
  trace_per_row,   ///< one wafer per row: its samples of one sensor (UCR time series)
  sample_per_row,  ///< one wafer per row: one sample of every sensor (UCI SECOM)
  file_per_wafer,  ///< one file per wafer: rows are samples, columns are sensors
};

/// @brief "trace-per-row", "sample-per-row" or "file-per-wafer". @throws UsageError
Layout parse_layout(std::string_view name);
/// @brief The name parse_layout reads.
std::string_view to_string(Layout layout);

/// @brief Everything an import decides.
struct ImportOptions {
  Layout layout = Layout::sample_per_row;
  /// Data files, read in order; for file_per_wafer also a single directory, whose regular
  /// files (hidden ones excepted) are read in name order.
  std::vector<std::string> inputs;
  std::string output;
  bool force = false;
  TextFormat text;
  /// Row layouts: the first field of each row is the wafer's class token.
  bool label_column = false;
  /// A labels file (one row per wafer, in data order); empty: none.
  std::string labels_file;
  LabelMap label_map;
  std::string timestamp_format = "%d/%m/%Y %H:%M:%S";
  TimestampType timestamp_type = TimestampType::unix_seconds;
  /// trace_per_row: accept rows of different lengths (else a ragged row is an error).
  bool ragged = false;
  /// file_per_wafer (--transpose, --transpose-file): files stored transposed (rows are sensors,
  /// columns samples), read column by column. transpose_all: every file; else the files named in
  /// transpose_files (each matched by the path as given or by its file name).
  bool transpose_all = false;
  std::vector<std::string> transpose_files;
  bool float32 = false;  ///< store float32 samples (default float64, exact for text)
  int gzip_level = 0;    ///< 1-9: shuffle + deflate on /traces/values
  std::uint64_t buffer_bytes = 16ULL << 20;  ///< sample rows held before a write
  std::string citation;                      ///< stored as the root attribute source_citation
  /// N > 0 (--time-windows): write /traces/step splitting each wafer's samples into N
  /// consecutive windows of (nearly) equal length, the recipe steps of data that records none,
  /// so that features, models and contributions are per window (docs/IMPORT.md).
  std::uint32_t time_windows = 0;

  /// @brief Checks combinations. @throws UsageError naming the conflicting options.
  void validate() const;
  /// @brief Whether the file at `path` is to be read transposed.
  bool transposed(const std::string& path) const;
};

/// @brief Defaults of a named data set: "ucr" (UCR archive TSV: trace-per-row, class in the
/// first column, 1 = normal -> 0, -1 = abnormal -> 1, 8 time windows per series) or "secom"
/// (UCI SECOM: sample-per-row, whitespace, labels file with -1 = pass -> 0, 1 = fail -> 1).
/// @throws UsageError for another name.
ImportOptions preset(std::string_view name);

/// @brief What an import wrote.
struct ImportSummary {
  std::uint64_t n_wafers = 0;
  std::uint64_t n_samples = 0;
  std::uint64_t n_sensors = 0;
  std::uint64_t n_missing = 0;  ///< cells read as missing (NaN)
  bool has_labels = false;
  std::uint64_t n_bad = 0;  ///< wafers labelled 1
  bool has_timestamps = false;
  std::uint64_t n_files = 0;  ///< data files read
  std::uint64_t output_bytes = 0;
  /// Things worth a look that are not errors (e.g. every file has fewer rows than columns,
  /// as a transposed file would).
  std::vector<std::string> notes;
};

/// @brief Runs the import described by `options`.
/// @throws UsageError for bad options or an existing output without force; InputError
/// naming the file and line of the first malformed line (no output is left behind);
/// HdfError when writing fails.
ImportSummary import_traces(const ImportOptions& options);

}  // namespace wafermill::import
