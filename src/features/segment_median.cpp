/// @file segment_median.cpp
/// @brief Median by selection: nth_element puts the upper middle value at n/2 with every
/// smaller-or-equal value before it, so for an even n the lower middle value is the maximum
/// of that first half (as numpy.median, without sorting). MedianSelector and ColumnMedians
/// first narrow the search to one bucket of a histogram over [min, max]; StridedMedians
/// narrows it 11 bits of the samples' order-preserving bit patterns at a time.
#include "segment_median.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace wafermill::features::detail {

double median_midpoint(double lower, double upper) {
  const double mid = 0.5 * (lower + upper);
  return std::isfinite(mid) ? mid : 0.5 * lower + 0.5 * upper;
}

double median_in_place(double* v, std::size_t n) {
  if (n == 0) return NAN;
  const std::size_t half = n / 2;
  std::nth_element(v, v + half, v + n);
  const double upper = v[half];
  if (n % 2 == 1) return upper;
  return median_midpoint(*std::max_element(v, v + half), upper);
}

double MedianSelector::median(double* v, std::size_t n, double lo, double hi) {
  constexpr std::size_t kSmall = 64;  // below this, plain selection is as fast
  if (n == 0) return NAN;
  // Every sample equals the minimum (-0 and +0 may both be present: lo and hi keep the sign
  // add_sample saw first, so the result is still a function of the sample order only).
  if (!(hi > lo)) return n % 2 == 1 ? lo : median_midpoint(lo, hi);
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
  if (r > 0) return median_midpoint(*std::max_element(v, v + r), upper);
  // Rank half - 1 is the largest sample of the last non-empty bucket below b.
  std::size_t below = b - 1;
  while (counts_[below] == 0) --below;
  double lower = -HUGE_VAL;
  for (std::size_t i = m; i < n; ++i) {
    if (bucket(v[i]) == below) lower = std::max(lower, v[i]);
  }
  return median_midpoint(lower, upper);
}

// ---------------------------------------------------------------------------------------------
// ColumnMedians

namespace {

/// Largest grid: bucket indices and the past-the-end bucket fit 16 bits.
constexpr std::uint32_t kMaxBuckets = 1U << 15;

template <class T>
bool is_finite(T x) {
  return x - x == T(0);  // NaN for NaN and ±Inf
}

/// Whether x[runs] holds zeros of both signs.
template <class T, class Runs>
bool zeros_of_both_signs(const T* x, const Runs& runs) {
  bool negative = false;
  bool positive = false;
  runs([&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      if (x[i] == T(0)) (std::signbit(x[i]) ? negative : positive) = true;
    }
  });
  return negative && positive;
}

}  // namespace

namespace {

/// Bucket of x in a grid: floor((x - lo)·scale) computed in T (8 float lanes in AVX2), monotonic
/// in x since each rounding is, clamped to the last bucket (x = max may round to n_buckets);
/// non-finite x (NaN or ±Inf after the product) go to the bucket past the end. lo, scale and
/// limit are values of T held in doubles. Grids that do not select (empty, constant, wide)
/// have scale 0: every finite sample lands in bucket 0, and nothing reads those counts.
template <class T>
inline std::uint16_t bucket_of(T x, T lo, T scale, T limit, std::int32_t nb) {
  const T t = (x - lo) * scale;
  const bool inside = t >= T(0) && t < limit;
  // t < n_buckets + 1 <= 2^15 + 1: a signed conversion (one instruction; an unsigned one
  // has none before AVX-512).
  const std::int32_t b = std::min(static_cast<std::int32_t>(inside ? t : T(0)), nb - 1);
  return static_cast<std::uint16_t>(inside ? b : nb);
}

/// idx[i] = bucket of x[i] for i in [begin, end), and counts[idx[i]] incremented. The first
/// loop vectorizes (4 lanes in the AVX2 clone); the counting stays scalar.
template <class T>
[[gnu::always_inline]] inline void bucket_count_body(const T* x, std::size_t begin, std::size_t end,
                                                     double lo, double scale, double limit,
                                                     std::uint32_t nb, std::uint16_t* idx,
                                                     std::uint32_t* counts) {
  const T lo_t = static_cast<T>(lo);
  const T scale_t = static_cast<T>(scale);
  const T limit_t = static_cast<T>(limit);
  const auto n_t = static_cast<std::int32_t>(nb);
  const T* __restrict in = x + begin;
  std::uint16_t* __restrict out = idx + begin;
  const std::size_t n = end - begin;
  for (std::size_t i = 0; i < n; ++i) out[i] = bucket_of(in[i], lo_t, scale_t, limit_t, n_t);
  for (std::size_t i = 0; i < n; ++i) ++counts[out[i]];
}

/// Appends to cand[m...] the x[i] whose idx[i] == b and raises `low` to the largest x[i]
/// whose idx[i] == below (when need_below); returns the new m. The bucket holds a few of the
/// samples (two on average for a smooth distribution): 16 indices are compared at a time and
/// only the matching lanes of a group are visited, from its byte mask (pmovmskb).
template <class T>
[[gnu::always_inline]] inline std::size_t collect_body(const T* x, const std::uint16_t* idx,
                                                       std::size_t begin, std::size_t end,
                                                       std::uint16_t b, std::uint16_t below,
                                                       bool need_below, T* cand, std::size_t m,
                                                       T& low) {
  typedef std::uint16_t U16 __attribute__((vector_size(32)));
  typedef std::uint64_t U64 __attribute__((vector_size(32)));
  const U16 want = U16{} + b;
  const std::uint16_t other = need_below ? below : b;
  const U16 want_below = U16{} + other;
  const auto scalar = [&](std::size_t i0, std::size_t i1) {
    for (std::size_t i = i0; i < i1; ++i) {
      if (idx[i] == b) {
        cand[m++] = x[i];
      } else if (need_below && idx[i] == below && x[i] > low) {
        low = x[i];
      }
    }
  };
  std::size_t i = begin;
  for (; i + 16 <= end; i += 16) {
    U16 v;
    std::memcpy(&v, idx + i, sizeof v);
    const U16 hit = (v == want) | (v == want_below);
    U64 h;
    std::memcpy(&h, &hit, sizeof h);
    if ((h[0] | h[1] | h[2] | h[3]) == 0) continue;
#if defined(__x86_64__)
    // Two bits per matching lane. SSE2's byte mask, as the AVX2 one cannot be inlined here
    // (this body is not itself compiled for AVX2).
    __m128i half[2];
    std::memcpy(half, &hit, sizeof half);
    std::uint32_t bits = static_cast<std::uint32_t>(_mm_movemask_epi8(half[0])) |
                         (static_cast<std::uint32_t>(_mm_movemask_epi8(half[1])) << 16);
    while (bits != 0) {
      const std::size_t k = i + static_cast<std::size_t>(__builtin_ctz(bits)) / 2;
      bits &= bits - 1;
      bits &= bits - 1;
      if (idx[k] == b) {
        cand[m++] = x[k];
      } else if (x[k] > low) {
        low = x[k];
      }
    }
#else
    scalar(i, i + 16);
#endif
  }
  scalar(i, end);
  return m;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define WAFERMILL_HAVE_AVX2_MEDIAN 1
template <class T>
__attribute__((target("avx2"))) void bucket_count_avx2(const T* x, std::size_t begin,
                                                       std::size_t end, double lo, double scale,
                                                       double limit, std::uint32_t nb,
                                                       std::uint16_t* idx, std::uint32_t* counts) {
  bucket_count_body(x, begin, end, lo, scale, limit, nb, idx, counts);
}
template <class T>
__attribute__((target("avx2"))) std::size_t collect_avx2(const T* x, const std::uint16_t* idx,
                                                         std::size_t begin, std::size_t end,
                                                         std::uint16_t b, std::uint16_t below,
                                                         bool need_below, T* cand, std::size_t m,
                                                         T& low) {
  return collect_body(x, idx, begin, end, b, below, need_below, cand, m, low);
}
#else
#define WAFERMILL_HAVE_AVX2_MEDIAN 0
#endif

/// Whether this CPU runs the AVX2 clones (decided once).
bool use_avx2() {
#if WAFERMILL_HAVE_AVX2_MEDIAN
  static const bool avx2 = __builtin_cpu_supports("avx2");
  return avx2;
#else
  return false;
#endif
}

template <class T>
void bucket_count(const T* x, std::size_t begin, std::size_t end, double lo, double scale,
                  double limit, std::uint32_t nb, std::uint16_t* idx, std::uint32_t* counts) {
#if WAFERMILL_HAVE_AVX2_MEDIAN
  if (use_avx2()) return bucket_count_avx2(x, begin, end, lo, scale, limit, nb, idx, counts);
#endif
  bucket_count_body(x, begin, end, lo, scale, limit, nb, idx, counts);
}

template <class T>
std::size_t collect(const T* x, const std::uint16_t* idx, std::size_t begin, std::size_t end,
                    std::uint16_t b, std::uint16_t below, bool need_below, T* cand, std::size_t m,
                    T& low) {
#if WAFERMILL_HAVE_AVX2_MEDIAN
  if (use_avx2()) return collect_avx2(x, idx, begin, end, b, below, need_below, cand, m, low);
#endif
  return collect_body(x, idx, begin, end, b, below, need_below, cand, m, low);
}

/// Median of the candidates cand[0, m) whose rank r is the middle, with `low` the largest
/// sample of the bucket below for an even count whose upper middle is the bucket's first.
template <class T>
double finish(T* cand, std::size_t m, std::size_t r, bool even, T low, T& lower_out, T& upper_out) {
  std::nth_element(cand, cand + r, cand + m);
  const T upper = cand[r];
  upper_out = upper;
  if (!even) return static_cast<double>(upper);
  const T lower = r > 0 ? *std::max_element(cand, cand + r) : low;
  lower_out = lower;
  return median_midpoint(static_cast<double>(lower), static_cast<double>(upper));
}

}  // namespace

void find_step_runs(const std::int32_t* steps, std::size_t n_rows, std::vector<StepRun>& runs) {
  runs.clear();
  for (std::size_t r = 0; r < n_rows;) {
    const std::int32_t step = steps[r];
    std::size_t end = r + 1;
    while (end < n_rows && steps[end] == step) ++end;
    runs.push_back(StepRun{r, end, static_cast<std::size_t>(step)});
    r = end;
  }
}

template <class T>
bool ColumnMedians::medians(const T* x, std::size_t n_rows, const std::vector<StepRun>& step_runs,
                            std::size_t n_steps, const SegmentRange* ranges, double* out) {
  const std::size_t n_segments = 1 + n_steps;
  grids_.resize(n_segments);
  std::size_t n_counts = 0;
  for (std::size_t s = 0; s < n_segments; ++s) {
    Grid& g = grids_[s];
    const SegmentRange& range = ranges[s];
    g = Grid{};
    if (range.count == 0) {
      g.mode = Mode::empty;
    } else if (!(range.max > range.min)) {
      g.mode = Mode::constant;
    } else {
      // The grid in T: min and max are samples of T, so exact there. A width or scale that
      // overflows (a range wider than T's largest value, or a few denormals wide) selects
      // among all the samples instead.
      const auto n_buckets =
          static_cast<std::uint32_t>(std::clamp<std::size_t>(range.count / 2, 1, kMaxBuckets));
      const T width = static_cast<T>(range.max) - static_cast<T>(range.min);
      const T scale = static_cast<T>(n_buckets) / width;
      // The max must land below the limit, or it would count as non-finite: true whenever
      // scale is a normal number (t_max <= n_buckets·(1 + 2 eps)); checked for denormal ones.
      const T t_max = width * scale;
      const T limit = static_cast<T>(n_buckets) + T(1);
      if (!std::isfinite(width) || !std::isfinite(scale) || !(t_max < limit)) {
        g.mode = Mode::wide;
      } else {
        g.mode = Mode::buckets;
        g.n_buckets = n_buckets;
        g.lo = range.min;
        g.scale = static_cast<double>(scale);
        g.limit = static_cast<double>(limit);
      }
    }
    g.base = n_counts;
    n_counts += g.n_buckets + 1;
  }
  if (counts_.size() < n_counts) counts_.resize(n_counts);
  std::fill_n(counts_.begin(), n_counts, 0U);
  if (whole_idx_.size() < n_rows) whole_idx_.resize(n_rows);
  if (n_steps > 0 && step_idx_.size() < n_rows) step_idx_.resize(n_rows);
  std::vector<T>& cand = [this]() -> std::vector<T>& {
    if constexpr (sizeof(T) == sizeof(float)) {
      return cand_float_;
    } else {
      return cand_double_;
    }
  }();
  if (cand.size() < n_rows) cand.resize(n_rows);

  // Pass 1: every sample's bucket in the whole-wafer grid and in its step's grid, counted.
  std::uint16_t* widx = whole_idx_.data();
  std::uint16_t* sidx = step_idx_.data();
  std::uint32_t* counts = counts_.data();
  {
    const Grid& g = grids_[0];
    bucket_count(x, 0, n_rows, g.lo, g.scale, g.limit, g.n_buckets, widx, counts + g.base);
  }
  const auto for_runs = [&](std::size_t k, const auto& f) {
    for (const StepRun& run : step_runs)
      if (run.step == k) f(run.begin, run.end);
  };
  if (n_steps > 0) {
    for (const StepRun& run : step_runs) {
      const Grid& g = grids_[1 + run.step];
      bucket_count(x, run.begin, run.end, g.lo, g.scale, g.limit, g.n_buckets, sidx,
                   counts + g.base);
    }
  }

  // Pass 2, per segment: the bucket holding the middle rank, its samples, and a selection.
  for (std::size_t s = 0; s < n_segments; ++s) {
    const Grid& g = grids_[s];
    const SegmentRange& range = ranges[s];
    const std::size_t n = range.count;
    const bool even = n % 2 == 0;
    const auto runs = [&](const auto& f) {
      if (s == 0) {
        f(std::size_t{0}, n_rows);
      } else {
        for_runs(s - 1, f);
      }
    };
    const std::uint16_t* idx = s == 0 ? widx : sidx;
    T lower = T(1);
    T upper = T(1);
    switch (g.mode) {
      case Mode::empty:
        out[s] = NAN;
        continue;
      case Mode::constant:
        out[s] = even ? median_midpoint(range.min, range.max) : range.min;
        continue;
      case Mode::wide: {
        // [min, max] spans more than the largest double: select among all finite samples.
        std::size_t m = 0;
        runs([&](std::size_t begin, std::size_t end) {
          for (std::size_t i = begin; i < end; ++i) {
            cand[m] = x[i];
            m += is_finite(x[i]) ? 1 : 0;
          }
        });
        out[s] = finish(cand.data(), m, n / 2, even, T(0), lower, upper);
        break;
      }
      case Mode::buckets: {
        const std::uint32_t* c = counts + g.base;
        const std::size_t half = n / 2;
        std::uint32_t b = 0;
        std::size_t before = 0;
        while (before + c[b] <= half) before += c[b++];
        const std::size_t r = half - before;
        // Rank half - 1 is then the largest sample of the last non-empty bucket below b.
        const bool need_below = even && r == 0;
        std::uint32_t below = b;
        if (need_below) {
          below = b - 1;
          while (c[below] == 0) --below;
        }
        std::size_t m = 0;
        T low = -std::numeric_limits<T>::infinity();
        runs([&](std::size_t begin, std::size_t end) {
          m = collect(x, idx, begin, end, static_cast<std::uint16_t>(b),
                      static_cast<std::uint16_t>(below), need_below, cand.data(), m, low);
        });
        out[s] = finish(cand.data(), m, r, even, low, lower, upper);
        break;
      }
    }
    // The sign of a zero result is open only when every middle value is a zero.
    if (upper == T(0) && (!even || lower == T(0)) && zeros_of_both_signs(x, runs)) return false;
  }
  return true;
}

template bool ColumnMedians::medians<float>(const float*, std::size_t, const std::vector<StepRun>&,
                                            std::size_t, const SegmentRange*, double*);
template bool ColumnMedians::medians<double>(const double*, std::size_t,
                                             const std::vector<StepRun>&, std::size_t,
                                             const SegmentRange*, double*);

// ---------------------------------------------------------------------------------------------
// StridedMedians

namespace {

/// Order-preserving bit patterns: unsigned order of key() is the numeric order of finite
/// samples, with -0 before +0.
template <class T>
using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;

template <class T>
std::uint64_t key_of(T x) {
  Bits<T> u;
  std::memcpy(&u, &x, sizeof u);
  constexpr Bits<T> sign = Bits<T>(1) << (8 * sizeof(T) - 1);
  return (u & sign) != 0 ? static_cast<Bits<T>>(~u) : static_cast<Bits<T>>(u | sign);
}

template <class T>
T value_of(std::uint64_t key) {
  constexpr Bits<T> sign = Bits<T>(1) << (8 * sizeof(T) - 1);
  const auto k = static_cast<Bits<T>>(key);
  const Bits<T> u = (k & sign) != 0 ? static_cast<Bits<T>>(k ^ sign) : static_cast<Bits<T>>(~k);
  T x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

constexpr unsigned kDigitBits = 11;

}  // namespace

template <class T>
void StridedMedians::medians(const T* x, std::size_t stride, std::size_t n_rows,
                             const std::int32_t* steps, std::size_t n_steps,
                             const SegmentRange* ranges, double* out) {
  if (steps == nullptr) n_steps = 0;
  const std::size_t n_segments = 1 + n_steps;
  targets_.clear();
  first_target_.assign(n_segments + 1, 0);
  for (std::size_t s = 0; s < n_segments; ++s) {
    first_target_[s] = targets_.size();
    const SegmentRange& range = ranges[s];
    if (range.count == 0 || !(range.max > range.min)) continue;
    targets_.push_back(Target{range.count / 2, 0});
    if (range.count % 2 == 0) targets_.push_back(Target{range.count / 2 - 1, 0});
  }
  first_target_[n_segments] = targets_.size();

  constexpr unsigned kBits = 8 * sizeof(T);
  constexpr std::size_t kDigits = std::size_t{1} << kDigitBits;
  for (unsigned done = 0; done < kBits && !targets_.empty();) {
    const unsigned width = std::min(kDigitBits, kBits - done);
    const unsigned shift = kBits - done - width;
    const std::uint64_t mask = (std::uint64_t{1} << width) - 1;
    hist_.assign(targets_.size() * kDigits, 0);
    // The two middle ranks of an even count mostly share their high bits (always before the
    // first pass): one histogram serves both then.
    source_.resize(targets_.size());
    counted_end_.resize(n_segments);
    for (std::size_t s = 0; s < n_segments; ++s) {
      const std::size_t b = first_target_[s];
      const std::size_t e = first_target_[s + 1];
      counted_end_[s] = e;
      for (std::size_t t = b; t < e; ++t) source_[t] = t;
      if (e - b == 2 && targets_[b].prefix == targets_[b + 1].prefix) {
        source_[b + 1] = b;
        counted_end_[s] = b + 1;
      }
    }
    const auto count = [&](std::size_t segment, std::uint64_t key) {
      for (std::size_t t = first_target_[segment]; t < counted_end_[segment]; ++t) {
        if (done == 0 || (key >> (kBits - done)) == targets_[t].prefix)
          ++hist_[t * kDigits + ((key >> shift) & mask)];
      }
    };
    for (std::size_t r = 0; r < n_rows; ++r) {
      const T v = x[r * stride];
      if (!is_finite(v)) continue;
      const std::uint64_t key = key_of(v);
      count(0, key);
      if (n_steps > 0) count(1 + static_cast<std::size_t>(steps[r]), key);
    }
    for (std::size_t t = 0; t < targets_.size(); ++t) {
      const std::uint64_t* h = hist_.data() + source_[t] * kDigits;
      std::uint64_t d = 0;
      while (h[d] <= targets_[t].rank) targets_[t].rank -= h[d++];
      targets_[t].prefix = (targets_[t].prefix << width) | d;
    }
    done += width;
  }

  for (std::size_t s = 0; s < n_segments; ++s) {
    const SegmentRange& range = ranges[s];
    const bool even = range.count % 2 == 0;
    if (range.count == 0) {
      out[s] = NAN;
    } else if (!(range.max > range.min)) {
      out[s] = even ? median_midpoint(range.min, range.max) : range.min;
    } else {
      const Target* t = targets_.data() + first_target_[s];
      const double upper = static_cast<double>(value_of<T>(t[0].prefix));
      out[s] = even ? median_midpoint(static_cast<double>(value_of<T>(t[1].prefix)), upper) : upper;
    }
  }
}

template void StridedMedians::medians<float>(const float*, std::size_t, std::size_t,
                                             const std::int32_t*, std::size_t, const SegmentRange*,
                                             double*);
template void StridedMedians::medians<double>(const double*, std::size_t, std::size_t,
                                              const std::int32_t*, std::size_t, const SegmentRange*,
                                              double*);

}  // namespace wafermill::features::detail
