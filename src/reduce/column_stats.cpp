/// @file column_stats.cpp
/// @brief Per-(sensor, feature) column statistics across wafers, their histograms, and the
/// anomaly score of a wafer against them.
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#include <immintrin.h>

#include "wafermill/cpu.hpp"
#include "wafermill/reduce/fleet.hpp"

namespace wafermill::reduce {

namespace {

// Histogram::bin's per-histogram constants, computed once for many values: the same bins.
class Binner {
 public:
  explicit Binner(const Histogram& h) : n_bins_(h.counts.size()), degenerate_(!(h.hi > h.lo)) {
    if (n_bins_ == 0) throw std::logic_error("Histogram::bin: the histogram has no bins");
    lo_ = h.lo;
    hi_ = h.hi;
    // numpy.histogram's equal-width rule (numpy/lib/histograms.py): i = floor((x - lo) * n /
    // (hi - lo)), then moved by one where rounding put x on the wrong side of the edges
    // lo + k * ((hi - lo) / n) that numpy.linspace would give; x == hi falls in the last bin.
    // Where hi - lo overflows (values near ±DBL_MAX) both are halved, exact for normal numbers.
    scale_ = std::isfinite(hi_ - lo_) ? 1.0 : 0.5;
    const double span = scale_ * hi_ - scale_ * lo_;
    step_ = span / static_cast<double>(n_bins_);
    factor_ = static_cast<double>(n_bins_) / span;
    slo_ = scale_ * lo_;
    shi_ = scale_ * hi_;
  }
  std::size_t operator()(double x) const {
    // A degenerate range (a constant column, or no finite value at all) puts everything in
    // bin 0.
    if (degenerate_) return 0;
    if (x <= lo_) return 0;
    if (x >= hi_) return n_bins_ - 1;
    const double xs = scale_ * x;
    std::size_t i =
        static_cast<std::size_t>(std::min(static_cast<double>(n_bins_ - 1), (xs - slo_) * factor_));
    if (i > 0 && xs < edge(i)) --i;
    if (i + 1 < n_bins_ && xs >= edge(i + 1)) ++i;
    return i;
  }

  /// bin[i] = (*this)(x[i]) for finite x[i], -1 for the others (AVX2 where
  /// allowed): the same bins.
  void bins(const double* x, std::size_t n, std::int32_t* bin) const;

 private:
  __attribute__((target("avx2"))) void bins_avx2(const double* x, std::size_t n,
                                                 std::int32_t* bin) const;
  double edge(std::size_t k) const {
    return k == n_bins_ ? shi_ : slo_ + static_cast<double>(k) * step_;
  }
  std::size_t n_bins_;
  bool degenerate_;
  double lo_ = 0.0, hi_ = 0.0, scale_ = 1.0, step_ = 0.0, factor_ = 0.0, slo_ = 0.0, shi_ = 0.0;
};

void Binner::bins(const double* x, std::size_t n, std::int32_t* bin) const {
  if (!degenerate_ && avx2_allowed()) return bins_avx2(x, n, bin);
  for (std::size_t i = 0; i < n; ++i)
    bin[i] = std::isfinite(x[i]) ? static_cast<std::int32_t>((*this)(x[i])) : -1;
}

// operator() four values at a time: the same double operations in the same order (no fused
// multiply-add), the bin index kept as an exact integer in a double until the end.
void Binner::bins_avx2(const double* x, std::size_t n, std::int32_t* bin) const {
  const __m256d scale = _mm256_set1_pd(scale_), slo = _mm256_set1_pd(slo_),
                factor = _mm256_set1_pd(factor_), step = _mm256_set1_pd(step_),
                lo = _mm256_set1_pd(lo_), hi = _mm256_set1_pd(hi_),
                last = _mm256_set1_pd(static_cast<double>(n_bins_ - 1)),
                bins = _mm256_set1_pd(static_cast<double>(n_bins_)), one = _mm256_set1_pd(1.0),
                zero = _mm256_setzero_pd(), inf = _mm256_set1_pd(HUGE_VAL),
                abs_mask = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffLL));
  constexpr int kTrunc = _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC;
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const __m256d v = _mm256_loadu_pd(x + i);
    const __m256d xs = _mm256_mul_pd(scale, v);
    // std::min(n - 1, t): t unless n - 1 < t.
    const __m256d t = _mm256_mul_pd(_mm256_sub_pd(xs, slo), factor);
    __m256d k =
        _mm256_round_pd(_mm256_blendv_pd(t, last, _mm256_cmp_pd(last, t, _CMP_LT_OQ)), kTrunc);
    const __m256d down =
        _mm256_and_pd(_mm256_cmp_pd(k, zero, _CMP_GT_OQ),
                      _mm256_cmp_pd(xs, _mm256_add_pd(slo, _mm256_mul_pd(k, step)), _CMP_LT_OQ));
    k = _mm256_sub_pd(k, _mm256_and_pd(down, one));
    const __m256d next = _mm256_add_pd(k, one);
    const __m256d up =
        _mm256_and_pd(_mm256_cmp_pd(next, bins, _CMP_LT_OQ),
                      _mm256_cmp_pd(xs, _mm256_add_pd(slo, _mm256_mul_pd(next, step)), _CMP_GE_OQ));
    k = _mm256_add_pd(k, _mm256_and_pd(up, one));
    // x <= lo: bin 0; x >= hi: the last bin (checked in this order, on the unscaled value).
    k = _mm256_blendv_pd(k, last, _mm256_cmp_pd(v, hi, _CMP_GE_OQ));
    k = _mm256_blendv_pd(k, zero, _mm256_cmp_pd(v, lo, _CMP_LE_OQ));
    // Not finite (NaN, ±inf): -1.
    const __m256d finite = _mm256_cmp_pd(_mm256_and_pd(v, abs_mask), inf, _CMP_LT_OQ);
    k = _mm256_blendv_pd(_mm256_set1_pd(-1.0), k, finite);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(bin + i), _mm256_cvttpd_epi32(k));
  }
  for (; i < n; ++i) bin[i] = std::isfinite(x[i]) ? static_cast<std::int32_t>((*this)(x[i])) : -1;
}

}  // namespace

std::size_t Histogram::bin(double x) const { return Binner(*this)(x); }

void Histogram::add(double x) {
  if (!std::isfinite(x)) return;
  ++counts[bin(x)];
}

FeatureColumnStats::FeatureColumnStats(std::size_t n_columns, std::size_t bins)
    : count_(n_columns, 0),
      sum_(n_columns),
      sum_sq_(n_columns),
      min_(n_columns, HUGE_VAL),
      max_(n_columns, -HUGE_VAL),
      histograms_(n_columns),
      bins_(bins) {
  if (bins == 0)
    throw std::invalid_argument("FeatureColumnStats: a histogram needs at least one bin");
  if (bins > static_cast<std::size_t>(INT32_MAX))
    throw std::invalid_argument("FeatureColumnStats: more than 2^31 - 1 bins");
}

namespace {

void check_rows(std::span<const double> rows, std::uint64_t n_wafers, std::size_t n_columns,
                const char* who) {
  if (rows.size() != n_wafers * n_columns) {
    throw std::invalid_argument(std::string(who) + ": " + std::to_string(rows.size()) +
                                " values are not " + std::to_string(n_wafers) + " rows of " +
                                std::to_string(n_columns) + " columns");
  }
}

// Double-double arithmetic (Dekker; Knuth's two-sum): x = hi + lo, |lo| <= ulp(hi) / 2.
struct DD {
  double hi = 0.0, lo = 0.0;
};

DD two_sum(double a, double b) {
  const double s = a + b, bb = s - a;
  return {s, (a - (s - bb)) + (b - bb)};
}

DD normalise(double hi, double lo) {
  const double s = hi + lo;
  return {s, lo - (s - hi)};
}

DD mul(DD x, DD y) {
  const double p = x.hi * y.hi;
  const double e = std::fma(x.hi, y.hi, -p) + (x.hi * y.lo + x.lo * y.hi);
  return normalise(p, e);
}

DD div(DD x, double n) {
  const double q1 = x.hi / n;
  // x - q1 n, exactly up to the rounding of the low part
  const double p = q1 * n, e = std::fma(q1, n, -p);
  const DD r = two_sum(x.hi, -p);
  const double q2 = (r.hi + (r.lo - e + x.lo)) / n;
  return normalise(q1, q2);
}

DD sub(DD x, DD y) {
  const DD s = two_sum(x.hi, -y.hi);
  return normalise(s.hi, s.lo + x.lo - y.lo);
}

DD pair(const ExactSum& e) {
  DD d;
  e.value_pair(d.hi, d.lo);
  return d;
}

}  // namespace

void FeatureColumnStats::add(std::span<const double> rows, std::uint64_t n_wafers) {
  if (histograms_started_)
    throw std::logic_error("FeatureColumnStats::add after start_histograms()");
  const std::size_t n_cols = n_columns();
  check_rows(rows, n_wafers, n_cols, "FeatureColumnStats::add");
  // Exact sums: the order of the rows, and so the ranks that hold them, cannot matter. Column
  // by column (the span adds) over blocks of rows that stay in cache (a column's values are a
  // row apart: a whole batch per column went through memory once a column), min and max still
  // in row order (±0 keep the first seen).
  constexpr std::uint64_t kBlock = 256;
  double finite[kBlock];
  for (std::uint64_t b = 0; b < n_wafers; b += kBlock) {
    const std::size_t n = static_cast<std::size_t>(std::min(kBlock, n_wafers - b));
    const double* block = rows.data() + b * n_cols;
    for (std::size_t c = 0; c < n_cols; ++c) {
      std::size_t k = 0;
      double lo = min_[c], hi = max_[c];
      for (std::size_t w = 0; w < n; ++w) {
        const double x = block[w * n_cols + c];
        if (!std::isfinite(x)) continue;
        finite[k++] = x;
        lo = std::min(lo, x);
        hi = std::max(hi, x);
      }
      count_[c] += k;
      const std::span<const double> f(finite, k);
      sum_[c].add(f);
      sum_sq_[c].add_products(f, f);
      min_[c] = lo;
      max_[c] = hi;
    }
  }
}

void FeatureColumnStats::start_histograms(MPI_Comm comm) {
  if (histograms_started_)
    throw std::logic_error("FeatureColumnStats::start_histograms called twice");
  const std::size_t n_cols = n_columns();
  allreduce_exact(sum_.data(), n_cols, comm);
  allreduce_exact(sum_sq_.data(), n_cols, comm);
  if (comm != MPI_COMM_NULL && n_cols > 0) {
    const int n = static_cast<int>(n_cols);
    MPI_Allreduce(MPI_IN_PLACE, count_.data(), n, MPI_UINT64_T, MPI_SUM, comm);
    MPI_Allreduce(MPI_IN_PLACE, min_.data(), n, MPI_DOUBLE, MPI_MIN, comm);
    MPI_Allreduce(MPI_IN_PLACE, max_.data(), n, MPI_DOUBLE, MPI_MAX, comm);
  }
  moments_.assign(n_cols, Moments{});
  for (std::size_t c = 0; c < n_cols; ++c) {
    Moments& m = moments_[c];
    if (count_[c] == 0) continue;
    const double n = static_cast<double>(count_[c]);
    const DD s1 = pair(sum_[c]), s2 = pair(sum_sq_[c]);
    m.n = n;
    m.mean = div(s1, n).hi;
    // M2 = Σx² - (Σx)²/n in double-double: the cancellation of a column whose mean is far
    // larger than its spread costs digits of the ~106, not of the 53.
    m.m2 = min_[c] == max_[c] ? 0.0 : std::max(0.0, sub(s2, div(mul(s1, s1), n)).hi);
    m.min = min_[c];
    m.max = max_[c];
    Histogram& h = histograms_[c];
    h.lo = m.min;
    h.hi = m.max;
  }
  for (auto& h : histograms_) h.counts.assign(bins_, 0);
  histograms_started_ = true;
}

void FeatureColumnStats::add_to_histograms(std::span<const double> rows, std::uint64_t n_wafers) {
  if (!histograms_started_) {
    throw std::logic_error("FeatureColumnStats::add_to_histograms before start_histograms()");
  }
  const std::size_t n_cols = n_columns();
  check_rows(rows, n_wafers, n_cols, "FeatureColumnStats::add_to_histograms");
  // Column by column over blocks of rows (in cache): each column's values of the block
  // gathered, binned together (Binner::bins), then counted.
  constexpr std::uint64_t kBlock = 64;
  std::vector<Binner> binners;
  binners.reserve(n_cols);
  for (const Histogram& h : histograms_) binners.emplace_back(h);
  double x[kBlock];
  std::int32_t bin[kBlock];
  for (std::uint64_t b = 0; b < n_wafers; b += kBlock) {
    const std::size_t n = static_cast<std::size_t>(std::min(kBlock, n_wafers - b));
    const double* block = rows.data() + b * n_cols;
    for (std::size_t c = 0; c < n_cols; ++c) {
      for (std::size_t w = 0; w < n; ++w) x[w] = block[w * n_cols + c];
      binners[c].bins(x, n, bin);
      std::uint64_t* counts = histograms_[c].counts.data();
      for (std::size_t w = 0; w < n; ++w)
        if (bin[w] >= 0) ++counts[bin[w]];
    }
  }
}

void FeatureColumnStats::reduce_histograms(MPI_Comm comm) {
  if (comm == MPI_COMM_NULL) return;
  // One buffer: bins are counts (integers), so the sum is exact in any order.
  std::vector<std::uint64_t> all;
  all.reserve(n_columns() * bins_);
  for (const auto& h : histograms_) all.insert(all.end(), h.counts.begin(), h.counts.end());
  constexpr std::size_t kPiece = 1 << 26;
  for (std::size_t off = 0; off < all.size(); off += kPiece)
    MPI_Allreduce(MPI_IN_PLACE, all.data() + off,
                  static_cast<int>(std::min(kPiece, all.size() - off)), MPI_UINT64_T, MPI_SUM,
                  comm);
  for (std::size_t c = 0; c < n_columns(); ++c)
    std::copy_n(all.begin() + c * bins_, bins_, histograms_[c].counts.begin());
}

const std::vector<Moments>& FeatureColumnStats::moments() const {
  if (!histograms_started_)
    throw std::logic_error("FeatureColumnStats::moments before start_histograms()");
  return moments_;
}

double FeatureColumnStats::stddev(std::size_t c) const {
  return std::sqrt(sample_variance(moments().at(c)));
}

double anomaly_score(std::span<const double> wafer_row, const FeatureColumnStats& stats) {
  if (wafer_row.size() != stats.n_columns()) {
    throw std::invalid_argument("anomaly_score: the row has " + std::to_string(wafer_row.size()) +
                                " values, the statistics " + std::to_string(stats.n_columns()) +
                                " columns");
  }
  // z-score max-norm: max_c |x_c - mean_c| / std_c over columns that can tell anything.
  double score = 0.0;
  for (std::size_t c = 0; c < wafer_row.size(); ++c) {
    const double x = wafer_row[c];
    if (!std::isfinite(x)) continue;
    const double sd = stats.stddev(c);
    if (!(sd > 0.0) || !std::isfinite(sd)) continue;  // NaN (under two values) or constant
    score = std::max(score, std::abs(x - stats.moments()[c].mean) / sd);
  }
  return score;
}

}  // namespace wafermill::reduce
