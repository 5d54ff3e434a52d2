#include "wafermill/model/fleet_limits.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

#include <immintrin.h>
#include <boost/math/distributions/normal.hpp>
#include <boost/math/distributions/students_t.hpp>

#include "wafermill/cpu.hpp"

namespace wafermill::model {

double prediction_limit(std::uint64_t dof, std::size_t columns, double a) {
  if (dof == 0) return std::numeric_limits<double>::infinity();
  if (!(a > 0.0 && a < 1.0))
    throw std::invalid_argument("prediction_limit: the false-alarm rate must be in (0, 1)");
  const double tail = a / (2.0 * static_cast<double>(std::max<std::size_t>(1, columns)));
  const boost::math::students_t dist(static_cast<double>(dof));
  return boost::math::quantile(boost::math::complement(dist, tail));
}

double normal_limit(std::size_t columns, double a) {
  if (!(a > 0.0 && a < 1.0))
    throw std::invalid_argument("normal_limit: the false-alarm rate must be in (0, 1)");
  const double tail = a / (2.0 * static_cast<double>(std::max<std::size_t>(1, columns)));
  return boost::math::quantile(boost::math::complement(boost::math::normal(), tail));
}

std::uint64_t smallest_fleet(std::size_t columns, double a) {
  const double unbounded = normal_limit(columns, a);
  std::uint64_t n = 3;
  while (prediction_limit(n - 2, columns, a) > 1.5 * unbounded) ++n;
  return n;
}

double column_limit(const ColumnFit& c, std::uint64_t dof, std::size_t columns, double a) {
  if (dof == 0) return std::numeric_limits<double>::infinity();
  if (c.kurtosis > 0.0) {
    const double nu = 4.0 + 6.0 / c.kurtosis;
    if (nu < static_cast<double>(dof)) {
      const double tail = a / (2.0 * static_cast<double>(std::max<std::size_t>(1, columns)));
      const boost::math::students_t dist(nu);
      return boost::math::quantile(boost::math::complement(dist, tail)) *
             std::sqrt((nu - 2.0) / nu);
    }
  }
  return prediction_limit(dof, columns, a);
}

Residual prediction_residual(const ColumnFit& c, double x, bool in_reference) {
  Residual r;
  if (!std::isfinite(x)) return r;
  const double n = static_cast<double>(c.n);
  const double d = x - c.mean;
  if (in_reference) {
    // The reference without x: n − 1 values, x − mean' = d n/(n − 1), m2' = m2 − d² n/(n − 1).
    if (c.n < 3) return r;
    const double m2 = c.m2 - d * d * n / (n - 1.0);
    if (!(m2 > 0.0)) return r;  // the others are constant: no rate can be stated
    const double s = std::sqrt(m2 / (n - 2.0));
    r.t = d * n / (n - 1.0) / (s * std::sqrt(n / (n - 1.0)));
    r.dof = c.n - 2;
  } else {
    if (c.n < 2 || !(c.m2 > 0.0)) return r;
    const double s = std::sqrt(c.m2 / (n - 1.0));
    r.t = d / (s * std::sqrt(1.0 + 1.0 / n));
    r.dof = c.n - 1;
  }
  return r;
}

ColumnResidual::ColumnResidual(const ColumnFit& c)
    : n_(c.n),
      mean_(c.mean),
      m2_(c.m2),
      n_d_(static_cast<double>(c.n)),
      n1_(n_d_ - 1.0),
      n2_(n_d_ - 2.0),
      root_in_(std::sqrt(n_d_ / (n_d_ - 1.0))),
      out_ok_(c.n >= 2 && c.m2 > 0.0) {
  if (out_ok_) scale_out_ = std::sqrt(c.m2 / (n_d_ - 1.0)) * std::sqrt(1.0 + 1.0 / n_d_);
}

namespace {

// ColumnResidual::raise_scores four values at a time: the same operations in the same order
// (IEEE division and square root are correctly rounded in every lane), no branch.
__attribute__((target("avx2"))) std::size_t raise_avx2(const double* x, const std::uint8_t* outside,
                                                       std::size_t n, double mean, double m2,
                                                       double nd, double n1, double n2,
                                                       double root_in, double scale_out, bool in_ok,
                                                       bool out_ok, double lim_in, double lim_out,
                                                       double* score) {
  const __m256d vmean = _mm256_set1_pd(mean), vm2 = _mm256_set1_pd(m2), vn = _mm256_set1_pd(nd),
                vn1 = _mm256_set1_pd(n1), vn2 = _mm256_set1_pd(n2), vroot = _mm256_set1_pd(root_in),
                vout = _mm256_set1_pd(scale_out), vlin = _mm256_set1_pd(lim_in),
                vlout = _mm256_set1_pd(lim_out), zero = _mm256_setzero_pd(),
                inf = _mm256_set1_pd(std::numeric_limits<double>::infinity()),
                abs_mask = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffLL));
  const __m256d in_ok_v = _mm256_castsi256_pd(_mm256_set1_epi64x(in_ok ? -1 : 0));
  const __m256d out_ok_v = _mm256_castsi256_pd(_mm256_set1_epi64x(out_ok ? -1 : 0));
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const __m256d xv = _mm256_loadu_pd(x + i);
    const __m256d finite = _mm256_cmp_pd(_mm256_and_pd(xv, abs_mask), inf, _CMP_LT_OQ);
    const __m256d d = _mm256_sub_pd(xv, vmean);
    std::int32_t flags4;
    std::memcpy(&flags4, outside + i, sizeof flags4);
    const __m256d out = _mm256_castsi256_pd(_mm256_cmpgt_epi64(
        _mm256_cvtepu8_epi64(_mm_cvtsi32_si128(flags4)), _mm256_setzero_si256()));
    // Each lane needs one of the two residuals: the divisions of the other are skipped when no
    // lane of the four needs them (the reference is most of the fleet).
    __m256d r_in = zero, valid_in = zero, r_out = zero;
    if (flags4 != 0x01010101) {
      // In the reference: m2' = m2 - d d n / (n - 1), t = d n / (n - 1) / (sqrt(m2' / (n - 2))
      // root).
      const __m256d m2p =
          _mm256_sub_pd(vm2, _mm256_div_pd(_mm256_mul_pd(_mm256_mul_pd(d, d), vn), vn1));
      const __m256d s = _mm256_sqrt_pd(_mm256_div_pd(m2p, vn2));
      const __m256d t_in =
          _mm256_div_pd(_mm256_div_pd(_mm256_mul_pd(d, vn), vn1), _mm256_mul_pd(s, vroot));
      r_in = _mm256_div_pd(_mm256_and_pd(t_in, abs_mask), vlin);
      valid_in = _mm256_and_pd(in_ok_v, _mm256_cmp_pd(m2p, zero, _CMP_GT_OQ));
    }
    if (flags4 != 0) {
      const __m256d t_out = _mm256_div_pd(d, vout);
      r_out = _mm256_div_pd(_mm256_and_pd(t_out, abs_mask), vlout);
    }
    const __m256d ratio = _mm256_blendv_pd(r_in, r_out, out);
    const __m256d valid = _mm256_and_pd(finite, _mm256_blendv_pd(valid_in, out_ok_v, out));
    const __m256d old = _mm256_loadu_pd(score + i);
    // std::max(old, ratio): ratio when old < ratio.
    const __m256d raised = _mm256_blendv_pd(old, ratio, _mm256_cmp_pd(old, ratio, _CMP_LT_OQ));
    _mm256_storeu_pd(score + i, _mm256_blendv_pd(old, raised, valid));
  }
  return i;
}

}  // namespace

void ColumnResidual::raise_scores(const double* x, const std::uint8_t* outside, std::size_t n,
                                  double lim_in, double lim_out, double* score) const {
  const bool avx2 = avx2_allowed();
  const std::size_t done = avx2 ? raise_avx2(x, outside, n, mean_, m2_, n_d_, n1_, n2_, root_in_,
                                             scale_out_, n_ >= 3, out_ok_, lim_in, lim_out, score)
                                : 0;
  for (std::size_t i = done; i < n; ++i) {
    const bool in_reference = outside[i] == 0;
    const Residual r = (*this)(x[i], in_reference);
    if (r.dof == 0) continue;
    score[i] = std::max(score[i], std::fabs(r.t) / (in_reference ? lim_in : lim_out));
  }
}

ReferenceSums::ReferenceSums(std::vector<double> origin, bool kurtosis)
    : origin_(std::move(origin)),
      n_(origin_.size(), 0),
      per_(kurtosis ? 4 : 2),
      sums_(per_ * origin_.size()) {}

void ReferenceSums::add(std::span<const double> x) {
  if (x.size() != origin_.size())
    throw std::invalid_argument("ReferenceSums::add: wrong number of columns");
  for (std::size_t j = 0; j < x.size(); ++j) {
    if (!std::isfinite(x[j])) continue;
    const double d = x[j] - origin_[j];
    ++n_[j];
    reduce::ExactSum* s = &sums_[per_ * j];
    s[0].add(d);
    s[1].add_product(d, d);
    if (per_ == 4) {
      const double d2 = d * d;  // rounded once per wafer: the same bits on any rank
      s[2].add_product(d2, d);
      s[3].add_product(d2, d2);
    }
  }
}

void ReferenceSums::add_column(std::size_t j, std::span<const double> x) {
  if (j >= origin_.size()) throw std::invalid_argument("ReferenceSums::add_column: no such column");
  const std::span<const double> d = deviations(j, x);
  const std::size_t k = d.size();
  n_[j] += k;
  reduce::ExactSum* s = &sums_[per_ * j];
  s[0].add(d);
  s[1].add_products(d, d);
  if (per_ == 4) {
    if (d2_.size() < k) d2_.resize(k);
    for (std::size_t i = 0; i < k; ++i) d2_[i] = d[i] * d[i];  // as add() rounds it
    const std::span<const double> d2(d2_.data(), k);
    s[2].add_products(d2, d);
    s[3].add_products(d2, d2);
  }
}

void ReferenceSums::subtract_column(std::size_t j, std::span<const double> x) {
  if (j >= origin_.size())
    throw std::invalid_argument("ReferenceSums::subtract_column: no such column");
  if (per_ != 2)
    throw std::logic_error("ReferenceSums::subtract_column: only the sums without kurtosis");
  const std::span<const double> d = deviations(j, x);
  const std::size_t k = d.size();
  // -d and (-d)·d: the exact negatives of what add_column added (negation is exact, and so is
  // the product's rounding error), so the sums are exactly those without these values.
  n_[j] -= k;
  if (d2_.size() < k) d2_.resize(k);
  for (std::size_t i = 0; i < k; ++i) d2_[i] = -d[i];
  const std::span<const double> minus(d2_.data(), k);
  reduce::ExactSum* s = &sums_[per_ * j];
  s[0].add(minus);
  s[1].add_products(minus, d);
}

std::span<const double> ReferenceSums::deviations(std::size_t j, std::span<const double> x) {
  // Compacted in place (no capacity check per value).
  if (d_.size() < x.size()) d_.resize(x.size());
  const double o = origin_[j];
  std::size_t k = 0;
  for (const double v : x) {
    d_[k] = v - o;
    k += std::isfinite(v) ? 1 : 0;
  }
  return std::span<const double>(d_.data(), k);
}

ReferenceSums ReferenceSums::remainder(const std::vector<std::size_t>& columns, bool whole) const {
  std::vector<double> origin(columns.size());
  for (std::size_t k = 0; k < columns.size(); ++k) {
    if (columns[k] >= origin_.size())
      throw std::invalid_argument("ReferenceSums::remainder: no such column");
    origin[k] = origin_[columns[k]];
  }
  ReferenceSums r(std::move(origin), false);
  if (!whole) return r;
  for (std::size_t k = 0; k < columns.size(); ++k) {
    r.n_[k] = n_[columns[k]];
    r.sums_[2 * k] = sums_[per_ * columns[k]];
    r.sums_[2 * k + 1] = sums_[per_ * columns[k] + 1];
  }
  return r;
}

std::vector<ColumnFit> ReferenceSums::reduce(MPI_Comm comm) {
  if (comm != MPI_COMM_NULL) {
    MPI_Allreduce(MPI_IN_PLACE, n_.data(), static_cast<int>(n_.size()), MPI_UINT64_T, MPI_SUM,
                  comm);
    reduce::allreduce_exact(sums_.data(), sums_.size(), comm);
  }
  std::vector<ColumnFit> out(origin_.size());
  for (std::size_t j = 0; j < out.size(); ++j) {
    ColumnFit& c = out[j];
    c.n = n_[j];
    if (c.n == 0) continue;
    const double n = static_cast<double>(c.n);
    const double s1 = sums_[per_ * j].value(), s2 = sums_[per_ * j + 1].value();
    const double e = s1 / n;  // the mean's offset from the origin
    c.mean = origin_[j] + e;
    c.m2 = std::max(0.0, s2 - s1 * e);
    if (per_ == 4 && c.n >= 4 && c.m2 > 0.0) {
      const double s3 = sums_[per_ * j + 2].value(), s4 = sums_[per_ * j + 3].value();
      const double m4 = s4 - 4.0 * e * s3 + 6.0 * e * e * s2 - 3.0 * n * e * e * e * e;
      c.kurtosis = n * m4 / (c.m2 * c.m2) - 3.0;
    }
  }
  return out;
}

nlohmann::json fleet_fit_json(const FleetFitSummary& s, bool old_rule) {
  nlohmann::json j{{"kind", old_rule ? "max_z" : "fleet"},
                   {"columns", s.columns},
                   {"wafers", s.wafers},
                   {"limit", s.limit},
                   {"smallest_fleet", s.smallest_fleet},
                   {"warning", s.warning}};
  if (!old_rule) {
    j["method"] =
        "per-column studentised prediction residual (leave-one-out for a reference wafer), Student "
        "t "
        "limit at A split over the columns (Bonferroni), widened for a heavy-tailed column to the "
        "t of its "
        "kurtosis (of the whole fleet); fitted on the fleet, then refitted once without the wafers "
        "it flagged";
    if (s.limit_rule != "parametric")
      j["method"] =
          j["method"].get<std::string>() +
          "; the wafer-level limit is max(1, the split-conformal (1 - A) quantile of the "
          "scores of " +
          (s.limit_rule == "fleet" ? "every wafer" : "the reference wafers (leave-one-out)") +
          "), and /wafers/score is divided by it";
    j["false_alarm_rate"] = s.false_alarm_rate;
    j["columns_dropped"] = s.columns_dropped;
    j["reference"] = s.reference;
    j["rounds"] = s.rounds;
    j["converged"] = s.converged;
    j["limit_unbounded"] = s.limit_unbounded;
    j["limit_rule"] = s.limit_rule;
    j["limit_used"] = s.limit_used;
    j["calibrated_limit"] = s.calibrated_limit;  // NaN (null): too small a reference
    j["calibration_reference"] = s.calibration_reference;
    j["calibration_rank"] = s.calibration_rank;
    j["limit_factor"] = s.limit_factor;
    j["flagged_parametric"] = s.flagged_parametric;
  } else {
    j["method"] = "max |z| of every column against the whole fleet (--threshold)";
  }
  return j;
}

}  // namespace wafermill::model
