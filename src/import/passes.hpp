/// @file passes.hpp
/// @brief One pass over the text of an import. The same function serves the scan pass
/// (sink == nullptr: check every line, count) and the write pass (sink set), so the two
/// cannot read the text differently.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "trace_sink.hpp"
#include "wafermill/import/importer.hpp"

namespace wafermill::import {

/// @brief What a pass saw.
struct PassResult {
  std::uint64_t n_wafers = 0;
  std::uint64_t n_samples = 0;
  std::uint64_t n_sensors = 0;
  std::vector<std::string> sensor_names;  ///< from a header row, else empty
  std::uint64_t n_missing = 0;
  std::uint64_t n_bad = 0;
  bool has_labels = false;
  bool has_timestamps = false;
  std::vector<std::string> notes;  ///< things the user should look at, not errors
};

/// @brief A labels file opened for one pass, or none.
std::optional<LabelsReader> open_labels(const ImportOptions& options);
/// @brief The metadata of the next wafer from the labels file; `data_where` ("FILE:LINE")
/// names the data row it belongs to. @throws InputError when the labels file has ended.
WaferMeta next_label(LabelsReader& labels, const std::string& data_where, std::uint64_t wafer);
/// @brief Checks that the labels file has no rows left after `n_wafers` wafers.
/// @throws InputError naming the first extra line.
void expect_labels_end(LabelsReader& labels, std::uint64_t n_wafers);

/// @brief trace_per_row and sample_per_row: one wafer per non-blank, non-header row.
/// @throws InputError naming file and line of the first malformed row.
PassResult pass_rows(const ImportOptions& options, const std::vector<std::string>& files,
                     TraceSink* sink);

/// @brief file_per_wafer: one wafer per file, rows are samples, columns sensors.
/// @throws InputError naming file and line of the first malformed row.
PassResult pass_files(const ImportOptions& options, const std::vector<std::string>& files,
                      TraceSink* sink);

}  // namespace wafermill::import
