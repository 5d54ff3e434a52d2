/// @file reference_features.hpp
/// @brief A deliberately naive reference for the segment features: two passes over the
/// samples in long double (mean first, then the central sums about it), a full sort for the median.
/// It shares no code with segment.hpp, so agreement means the one-pass shifted sums are right.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "wafermill/features/feature_set.hpp"

namespace wafermill::features::testing {

/// @brief The 12 features (enum order) of a segment given as its samples in order; a sample's
/// position is its index in `samples`, non-finite ones included.
inline std::array<double, kFeatureCount> reference_features(const std::vector<double>& samples) {
  const double nan = NAN;
  std::array<double, kFeatureCount> out;
  out.fill(nan);
  std::vector<double> x, p;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    if (std::isfinite(samples[i])) {
      x.push_back(samples[i]);
      p.push_back(static_cast<double>(i));
    }
  }
  const double n = static_cast<double>(x.size());
  out[0] = n;
  out[1] = static_cast<double>(samples.size() - x.size());
  if (x.empty()) return out;

  // long double (80-bit on x86-64): with values near 1e6 and a spread of 1e-2, a double
  // mean is off by up to half an ulp of 1e6 (6e-11), which shifts every deviation by that
  // much and the skewness by ~2e-8; the reference must be better than the code it checks.
  long double sum = 0, sum_sq = 0, sum_p = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sum += x[i];
    sum_sq += static_cast<long double>(x[i]) * x[i];
    sum_p += p[i];
  }
  const long double mean = sum / n;
  const long double mean_p = sum_p / n;
  long double m2 = 0, m3 = 0, m4 = 0, spp = 0, spx = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const long double d = x[i] - mean;
    m2 += d * d;
    m3 += d * d * d;
    m4 += d * d * d * d;
    spp += (p[i] - mean_p) * (p[i] - mean_p);
    spx += (p[i] - mean_p) * d;
  }
  const auto [lo, hi] = std::minmax_element(x.begin(), x.end());
  // A constant segment has m2 = 0 exactly; sum / n may round away from the value, which
  // would leave a spurious m2 of rounding noise here.
  if (*lo == *hi) m2 = m3 = m4 = 0;
  out[2] = static_cast<double>(mean);
  if (x.size() >= 2) out[3] = static_cast<double>(std::sqrt(m2 / (n - 1)));
  out[4] = *lo;
  out[5] = *hi;
  out[6] = *hi - *lo;
  out[7] = static_cast<double>(std::sqrt(sum_sq / n));
  if (m2 > 0) {
    const long double var = m2 / n;  // scipy.stats.skew/kurtosis with bias=True
    out[8] = static_cast<double>((m3 / n) / std::pow(var, 1.5L));
    out[9] = static_cast<double>((m4 / n) / (var * var) - 3.0L);
  }
  if (x.size() >= 2 && spp > 0) out[10] = static_cast<double>(spx / spp);
  std::vector<double> sorted = x;
  std::sort(sorted.begin(), sorted.end());
  const std::size_t h = sorted.size() / 2;
  out[11] = sorted.size() % 2 == 1 ? sorted[h] : 0.5 * (sorted[h - 1] + sorted[h]);
  return out;
}

}  // namespace wafermill::features::testing
