/// @file input_wafers.hpp
/// @brief Copying the input's per-wafer metadata (/wafers/*: labels, lot names, failure
/// types ...) into an output under /input/wafers/, where no input name can clash with what the
/// job writes (docs/FORMAT.md "Output").
#pragma once

#include <string>

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

}  // namespace wafermill::format
