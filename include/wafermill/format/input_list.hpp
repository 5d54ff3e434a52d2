/// @file input_list.hpp
/// @brief The input specifications of a run (`--input`, repeatable, and `input =` lines of an
/// INI file) expanded to the trace files, in order (docs/FORMAT.md "Several input files").
#pragma once

#include <string>
#include <vector>

namespace wafermill::format {

/// @brief The files of the given specifications, in the order given and then each
/// specification's own order. A specification is, checked in this order:
/// - `@FILE`: a manifest, one file per line; blank lines and lines whose first non-blank
///   character is `#` are skipped, leading and trailing blanks are trimmed, a relative path is
///   relative to the manifest's directory; a line names one file (not a directory, glob or
///   manifest);
/// - an existing directory: its regular files (symbolic links followed) whose names end in
///   `.h5` or `.hdf5` and do not start with `.`, sorted by name (bytewise), not recursive;
/// - an existing file;
/// - a pattern with `*`, `?` or `[`: glob(3), sorted; its regular files (matched directories
///   are skipped).
/// @throws UsageError naming the specification (and the manifest line) when a file, directory
/// or manifest does not exist, a glob matches no file, a directory holds no trace file, a
/// manifest lists nothing, or a file is named twice (two spellings or links of one file are one
/// file): the message gives both positions in the expanded list.
std::vector<std::string> expand_inputs(const std::vector<std::string>& specs);

/// @brief The specifications as one line for messages and the report: joined by spaces.
std::string join_input_specs(const std::vector<std::string>& specs);

}  // namespace wafermill::format
