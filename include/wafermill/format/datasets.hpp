/// @file datasets.hpp
/// @brief Small reads of whole datasets that the job needs besides the traces: the wafers'
/// labels of an input and the summary arrays of an output.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "wafermill/format/trace_index.hpp"

namespace wafermill::format {

/// @brief /wafers/label of the input as 0 (good) / 1 (bad: any nonzero value), or nullopt
/// when the file has no such dataset. @throws InputError if it exists but is not numeric.
std::optional<std::vector<std::uint8_t>> read_wafer_labels(const TraceIndex& index);
/// @brief Labels of wafers [first, first + n) only (each rank reads its own wafers'); nullopt
/// without /wafers/label. @throws InputError as read_wafer_labels(index).
std::optional<std::vector<std::uint8_t>> read_wafer_labels(const TraceIndex& index, std::uint64_t first,
                                                           std::uint64_t n);

/// @brief /wafers/<name> of `path` as strings, or nullopt when the file has no such dataset.
/// @throws InputError naming file and dataset when it is not a 1-D string dataset of `n`
/// entries.
std::optional<std::vector<std::string>> read_wafer_strings(const std::string& path,
                                                           const std::string& name,
                                                           std::uint64_t n);

/// @brief A whole uint64 dataset of an output file and its dims.
/// @throws InputError naming file and dataset when absent or not an unsigned integer type.
std::vector<std::uint64_t> read_u64_dataset(const std::string& path, const std::string& dataset,
                                            std::vector<std::uint64_t>* dims = nullptr);

/// @brief A whole dataset of an output file converted to double, and its dims.
std::vector<double> read_f64_dataset(const std::string& path, const std::string& dataset,
                                     std::vector<std::uint64_t>* dims = nullptr);

}  // namespace wafermill::format
