/// @file input_wafers.hpp
/// @brief Copying the input's per-wafer metadata (/wafers/*: labels, lot names, failure
/// types ...) into an output under /input/wafers/, where no input name can clash with what the
/// job writes (docs/FORMAT.md "Output").
#pragma once

#include <string>

#include "wafermill/format/trace_index.hpp"

namespace wafermill::format {

namespace h5 {
class Group;
}

/// @brief Copies every dataset under /wafers of `input_path` into `output_root`/input/wafers/
/// with its name, stored type (strings become variable-length UTF-8) and length, in bounded
/// chunks. With `also_into` set, each field is written there too, an input `score` or `flag`
/// renamed `input_score` / `input_flag` (the trace output's /wafers/ group). Does nothing when
/// the input has no /wafers group.
/// @throws InputError naming the file and dataset when /wafers or a member is not a 1-D
/// dataset of numbers or strings; HdfError when reading or writing fails.
void copy_input_wafers(const std::string& input_path, h5::Group& output_root,
                       h5::Group* also_into = nullptr);

/// @brief The trace output's record of where each wafer came from: /inputs/files (the input
/// files in the job's order), /wafers/source_file (int64, the file's position there) and
/// /wafers/source_index (int64, the wafer's index in its file) in `wafers`; with several files
/// also the /wafers fields every file holds (merge_trace_indexes), file after file, into
/// `output_root`/input/wafers/ and `wafers` as copy_input_wafers does (numbers in the first
/// file's type). A single file's fields are copied by copy_input_wafers. `carried[k]`, where
/// present and not empty, is file k's values (WaferFieldValues::encode): that file is not
/// opened (the same values: HDF5 converts the carried 8-byte numbers to the first file's type
/// as it converts the file's own).
/// @throws std::runtime_error when a carried entry is malformed or lacks a field.
void copy_source_wafers(const TraceIndex& index, h5::Group& output_root, h5::Group& wafers,
                        const std::vector<std::string>& carried = {});

}  // namespace wafermill::format
