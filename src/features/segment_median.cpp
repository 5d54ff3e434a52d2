/// @file segment_median.cpp
/// @brief Median by selection: nth_element puts the upper middle value at n/2 with every
/// smaller-or-equal value before it, so for an even n the lower middle value is the maximum
/// of that first half (as numpy.median, without sorting). MedianSelector first narrows the
/// search to one bucket of a histogram over [min, max].
#include "segment_median.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace wafermill::features::detail {
namespace {

/// (lower + upper) / 2; lower + upper overflows only near ±DBL_MAX, then halve first.
double midpoint(double lower, double upper) {
  const double mid = 0.5 * (lower + upper);
  return std::isfinite(mid) ? mid : 0.5 * lower + 0.5 * upper;
}

}  // namespace

double median_in_place(double* v, std::size_t n) {
  if (n == 0) return NAN;
  const std::size_t half = n / 2;
  std::nth_element(v, v + half, v + n);
  const double upper = v[half];
  if (n % 2 == 1) return upper;
  return midpoint(*std::max_element(v, v + half), upper);
}

double MedianSelector::median(double* v, std::size_t n, double lo, double hi) {
  constexpr std::size_t kSmall = 64;  // below this, plain selection is as fast
  if (n == 0) return NAN;
  // Every sample equals the minimum (-0 and +0 may both be present: lo and hi keep the sign
  // add_sample saw first, so the result is still a function of the sample order only).
  if (!(hi > lo)) return n % 2 == 1 ? lo : midpoint(lo, hi);
  const double width = hi - lo;
  if (n < kSmall || n > UINT32_MAX || !std::isfinite(width)) return median_in_place(v, n);

  const std::size_t n_buckets = std::min<std::size_t>(n / 2, 1U << 16);
  const double scale = static_cast<double>(n_buckets) / width;
  const auto bucket = [lo, scale, n_buckets](double x) {
    // x >= lo, so the product is in [0, n_buckets·(1 + eps)]: the conversion is defined.
    return std::min(static_cast<std::size_t>((x - lo) * scale), n_buckets - 1);
  };
  counts_.assign(n_buckets, 0);
  for (std::size_t i = 0; i < n; ++i) ++counts_[bucket(v[i])];

  // The bucket b holding rank `half`, and that rank's place r inside it.
  const std::size_t half = n / 2;
  std::size_t b = 0;
  std::size_t before = 0;
  while (before + counts_[b] <= half) before += counts_[b++];
  const std::size_t r = half - before;

  // Move bucket b's samples to the front and select inside them.
  std::size_t m = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (bucket(v[i]) == b) std::swap(v[i], v[m++]);
  }
  std::nth_element(v, v + r, v + m);
  const double upper = v[r];
  if (n % 2 == 1) return upper;
  if (r > 0) return midpoint(*std::max_element(v, v + r), upper);
  // Rank half - 1 is the largest sample of the last non-empty bucket below b.
  std::size_t below = b - 1;
  while (counts_[below] == 0) --below;
  double lower = -HUGE_VAL;
  for (std::size_t i = m; i < n; ++i) {
    if (bucket(v[i]) == below) lower = std::max(lower, v[i]);
  }
  return midpoint(lower, upper);
}

}  // namespace wafermill::features::detail
