// How the format room names stored types and extents in its messages (private to format/):
// one wording for the trace, map and image checks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "wafermill/format/h5.hpp"

namespace wafermill::format::detail {

/// "int32", "uint8", "float64", "variable-length string"... for messages.
std::string describe(const h5::TypeInfo& t);
/// "[a, b, c]".
std::string dims_text(const std::vector<std::uint64_t>& d);

}  // namespace wafermill::format::detail
