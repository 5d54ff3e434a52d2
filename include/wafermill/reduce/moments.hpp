/// @file moments.hpp
/// @brief Mergeable central moments (count, mean, M2, M3, M4, min, max) over finite samples.
///
/// Merge: Pébay, "Formulas for robust, one-pass parallel computation of covariances and
/// arbitrary-order statistical moments", Sandia SAND2008-6212, eq. 2.1-2.4 (the pairwise
/// update of Chan, Golub and LeVeque 1979 extended to M3 and M4).
#pragma once

#include <cmath>

#include "wafermill/hd.hpp"

namespace wafermill::reduce {

/// @brief Central-moment summary of a set of finite samples; n == 0 means empty.
/// M_k = Σ (x - mean)^k. min/max are +inf/-inf when empty.
struct Moments {
  double n = 0.0;
  double mean = 0.0;
  double m2 = 0.0;
  double m3 = 0.0;
  double m4 = 0.0;
  double min = HUGE_VAL;
  double max = -HUGE_VAL;
};

/// @brief The merge of two summaries (Pébay 2008). Not associative in floating point:
/// callers that need reproducible results merge in a fixed order.
WAFERMILL_HD inline Moments merge(const Moments& a, const Moments& b) {
  if (b.n == 0.0) return a;
  if (a.n == 0.0) return b;
  Moments r;
  r.n = a.n + b.n;
  const double delta = b.mean - a.mean;
  const double delta_n = delta / r.n;
  const double delta_n2 = delta_n * delta_n;
  const double na_nb = a.n * b.n;
  r.mean = a.mean + b.n * delta_n;
  r.m2 = a.m2 + b.m2 + na_nb * delta * delta_n;
  r.m3 = a.m3 + b.m3 + na_nb * delta * delta_n2 * (a.n - b.n) +
         3.0 * delta_n * (a.n * b.m2 - b.n * a.m2);
  r.m4 = a.m4 + b.m4 +
         na_nb * delta * delta_n2 * delta_n * (a.n * a.n - a.n * b.n + b.n * b.n) +
         6.0 * delta_n2 * (a.n * a.n * b.m2 + b.n * b.n * a.m2) +
         4.0 * delta_n * (a.n * b.m3 - b.n * a.m3);
  r.min = a.min < b.min ? a.min : b.min;
  r.max = a.max > b.max ? a.max : b.max;
  return r;
}

/// @brief The summary of one sample x (finite).
WAFERMILL_HD inline Moments single(double x) {
  Moments r;
  r.n = 1.0;
  r.mean = x;
  r.min = x;
  r.max = x;
  return r;
}

/// @brief Sample variance (ddof 1); NaN below two samples.
WAFERMILL_HD inline double sample_variance(const Moments& m) {
  return m.n >= 2.0 ? m.m2 / (m.n - 1.0) : NAN;
}

}  // namespace wafermill::reduce
