/// @file segment_median.cpp
/// @brief Median by selection: nth_element puts the upper middle value at n/2 with every
/// smaller-or-equal value before it, so for an even n the lower middle value is the maximum
/// of that first half (as numpy.median, without sorting).
#include "segment_median.hpp"

#include <algorithm>
#include <cmath>

namespace wafermill::features::detail {

double median_in_place(double* v, std::size_t n) {
  if (n == 0) return NAN;
  const std::size_t half = n / 2;
  std::nth_element(v, v + half, v + n);
  const double upper = v[half];
  if (n % 2 == 1) return upper;
  const double lower = *std::max_element(v, v + half);
  const double mid = 0.5 * (lower + upper);
  // lower + upper overflows only when both are near ±DBL_MAX; halve first then.
  return std::isfinite(mid) ? mid : 0.5 * lower + 0.5 * upper;
}

}  // namespace wafermill::features::detail
