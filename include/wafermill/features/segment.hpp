/// @file segment.hpp
/// @brief Per-segment arithmetic shared by the CPU backend and the CUDA kernels.
///
/// A segment is the samples of one wafer for one sensor (optionally one recipe step), in
/// file order. Every sample has a position p = 0..n-1 in the segment, skipped samples
/// included. Finite samples are accumulated as shifted power sums about K, the segment's
/// first finite value, so the single pass stays accurate when |mean| >> std, and the result
/// depends only on the order of the samples, never on how rows were chunked or on which
/// rank ran it.
#pragma once

#include <cmath>

#include "wafermill/hd.hpp"
#include "wafermill/reduce/moments.hpp"

namespace wafermill::features {

/// @brief Running sums of one segment. All fields are double.
struct SegmentSums {
  double positions = 0.0;  ///< samples seen, finite or not: the next sample's position
  double count = 0.0;      ///< finite samples
  double invalid = 0.0;    ///< non-finite samples
  double shift = 0.0;      ///< K: the first finite value
  double s1 = 0.0, s2 = 0.0, s3 = 0.0, s4 = 0.0;  ///< Σ d^k with d = x - K
  double sp = 0.0, spp = 0.0, spd = 0.0;          ///< Σ p, Σ p², Σ p·d
  double min = HUGE_VAL;
  double max = -HUGE_VAL;
};

/// @brief Adds the next sample of the segment (NaN/±Inf counted and skipped).
WAFERMILL_HD inline void add_sample(SegmentSums& s, double x) {
  const double p = s.positions;
  s.positions += 1.0;
  if (!std::isfinite(x)) {
    s.invalid += 1.0;
    return;
  }
  if (s.count == 0.0) s.shift = x;
  const double d = x - s.shift;
  const double d2 = d * d;
  s.count += 1.0;
  s.s1 += d;
  s.s2 += d2;
  s.s3 += d2 * d;
  s.s4 += d2 * d2;
  s.sp += p;
  s.spp += p * p;
  s.spd += p * d;
  s.min = x < s.min ? x : s.min;
  s.max = x > s.max ? x : s.max;
}

/// @brief Central moments of the segment's finite samples, for fleet-wide merging.
WAFERMILL_HD inline reduce::Moments to_moments(const SegmentSums& s) {
  reduce::Moments m;
  if (s.count == 0.0) return m;
  const double n = s.count;
  const double md = s.s1 / n;  // mean of d
  const double e2 = s.s2 / n, e3 = s.s3 / n, e4 = s.s4 / n;
  double c2 = e2 - md * md;
  if (c2 < 0.0) c2 = 0.0;
  const double c3 = e3 - 3.0 * md * e2 + 2.0 * md * md * md;
  double c4 = e4 - 4.0 * md * e3 + 6.0 * md * md * e2 - 3.0 * md * md * md * md;
  if (c4 < 0.0) c4 = 0.0;
  m.n = n;
  m.mean = s.shift + md;
  m.m2 = c2 * n;
  m.m3 = c3 * n;
  m.m4 = c4 * n;
  m.min = s.min;
  m.max = s.max;
  return m;
}

/// @brief Values of every feature (in Feature enum order, kFeatureCount entries) from the
/// sums and the median (NaN when there is no finite sample). Undefined features are NaN:
/// no finite sample; std and slope below two samples; skewness and kurtosis when m2 == 0.
WAFERMILL_HD inline void finalize_all(const SegmentSums& s, double median, double* out) {
  const double nan = NAN;
  const double n = s.count;
  out[0] = n;
  out[1] = s.invalid;
  if (n == 0.0) {
    for (int i = 2; i < 12; ++i) out[i] = nan;
    return;
  }
  const reduce::Moments m = to_moments(s);
  const double c2 = m.m2 / n;  // population variance
  out[2] = m.mean;
  out[3] = n >= 2.0 ? std::sqrt(m.m2 / (n - 1.0)) : nan;
  out[4] = s.min;
  out[5] = s.max;
  out[6] = s.max - s.min;
  out[7] = std::sqrt(c2 + m.mean * m.mean);
  if (c2 > 0.0) {
    out[8] = (m.m3 / n) / (c2 * std::sqrt(c2));
    out[9] = (m.m4 / n) / (c2 * c2) - 3.0;
  } else {
    out[8] = nan;
    out[9] = nan;
  }
  if (n >= 2.0) {
    const double mp = s.sp / n;
    const double var_p = s.spp / n - mp * mp;
    const double cov = s.spd / n - mp * (s.s1 / n);
    out[10] = var_p > 0.0 ? cov / var_p : nan;
  } else {
    out[10] = nan;
  }
  out[11] = median;
}

}  // namespace wafermill::features
