/// @file cpu.hpp
/// @brief Whether the AVX2 paths chosen at run time may be taken (the median, the strip
/// kernel's default, the exact sums' window, the fleet verdict's residuals): the CPU has AVX2
/// and the environment does not set `WAFERMILL_NO_AVX2` (to anything but "" or "0"). Either way
/// the results are the same bits; the variable lets the tests run the portable paths on a
/// machine with AVX2, and a user rule the vector paths out when chasing a difference.
#pragma once

#include <cstdlib>
#include <string_view>

namespace wafermill {

/// @brief True when the AVX2 paths may run in this process (decided once).
inline bool avx2_allowed() {
  static const bool allowed = [] {
    const char* v = std::getenv("WAFERMILL_NO_AVX2");
    const bool off = v != nullptr && *v != '\0' && std::string_view(v) != "0";
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    return !off && __builtin_cpu_supports("avx2");
#else
    return false && !off;
#endif
  }();
  return allowed;
}

}  // namespace wafermill
