/// @file cpu.hpp
/// @brief Whether the AVX2 paths chosen at run time may be taken (the median, the strip
/// kernel's default, the exact sums' window, the fleet verdict's residuals): the CPU has AVX2
/// and the environment does not set `WAFERMILL_NO_AVX2` (to anything but "" or "0"); and
/// whether the strip kernel's AVX-512 path may: AVX2 allowed, the CPU has AVX-512F and the
/// environment does not set `WAFERMILL_NO_AVX512`. Either way the results are the same bits;
/// the variables let the tests run the narrower paths on a machine with the wider ones, and a
/// user rule the vector paths out when chasing a difference.
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

/// @brief True when the AVX-512F paths may run in this process (decided once).
inline bool avx512_allowed() {
  static const bool allowed = [] {
    const char* v = std::getenv("WAFERMILL_NO_AVX512");
    const bool off = v != nullptr && *v != '\0' && std::string_view(v) != "0";
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    return !off && avx2_allowed() && __builtin_cpu_supports("avx512f");
#else
    return false && !off;
#endif
  }();
  return allowed;
}

}  // namespace wafermill
