/// @file segment_median.cpp
/// @brief Median by selection: nth_element puts the upper middle value at n/2 with every
/// smaller-or-equal value before it, so for an even n the lower middle value is the maximum
/// of that first half (as numpy.median, without sorting). MedianSelector and ColumnMedians
/// first narrow the search to one bucket of a histogram over [min, max]; StridedMedians
/// narrows it 11 bits of the samples' order-preserving bit patterns at a time.
#include "segment_median.hpp"

#include "wafermill/cpu.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
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

/// A grid has count / kSamplesPerBucket buckets (at most kMaxBuckets).
constexpr std::size_t kSamplesPerBucket = 6;

/// A step is counted on the wafer's grid when its samples average at most this many per
/// bucket of their span there; otherwise on its own grid, in a second pass.
constexpr std::size_t kSharedDensity = 16;

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

/// idx[i] = bucket of x[i] for i in [begin, end) (vectorizes: 8 float lanes in the AVX2 clone).
template <class T>
[[gnu::always_inline]] inline void bucket_index_body(const T* x, std::size_t begin, std::size_t end,
                                                     double lo, double scale, double limit,
                                                     std::uint32_t nb, std::uint16_t* idx) {
  const T lo_t = static_cast<T>(lo);
  const T scale_t = static_cast<T>(scale);
  const T limit_t = static_cast<T>(limit);
  const auto n_t = static_cast<std::int32_t>(nb);
  const T* __restrict in = x + begin;
  std::uint16_t* __restrict out = idx + begin;
  const std::size_t n = end - begin;
  for (std::size_t i = 0; i < n; ++i) out[i] = bucket_of(in[i], lo_t, scale_t, limit_t, n_t);
}

/// counts[min(idx[i] - first, span)] incremented for i in [begin, end) (idx[i] - first wraps
/// below first), counts holding span + 1 counters: first = 0 and span = the grid's past-the-end
/// bucket for a whole grid, a step's part of the wafer's grid otherwise (non-finite samples
/// then land in counts[span]). Four interleaved copies (spare: 3·(span + 1) more counters, zero,
/// and left zero) summed at the end, so that consecutive samples of one bucket (ties, quantized
/// sensors) do not wait on each other's stores; one copy for a run shorter than half of them.
/// kPart: a step's part of the wafer's grid; otherwise a whole grid, whose indices are all at
/// most span already (no clamp).
template <bool kPart = false>
inline void count_into(const std::uint16_t* idx, std::size_t begin, std::size_t end,
                       std::uint32_t first, std::uint32_t span, std::uint32_t* __restrict counts,
                       std::uint32_t* __restrict spare) {
  const std::size_t n = std::size_t{span} + 1;
  std::uint32_t* __restrict c1 = spare;
  std::uint32_t* __restrict c2 = spare + n;
  std::uint32_t* __restrict c3 = spare + 2 * n;
  const auto at = [idx, first, span](std::size_t i) -> std::uint32_t {
    if constexpr (kPart) {
      const std::uint32_t j = static_cast<std::uint32_t>(idx[i]) - first;
      return j < span ? j : span;
    } else {
      return idx[i];
    }
  };
  if (end - begin < n / 2) {
    // A short run (a step's, of a few rows): the copies would cost more than they save.
    for (std::size_t i = begin; i < end; ++i) ++counts[at(i)];
    return;
  }
  std::size_t i = begin;
  for (; i + 4 <= end; i += 4) {
    ++counts[at(i)];
    ++c1[at(i + 1)];
    ++c2[at(i + 2)];
    ++c3[at(i + 3)];
  }
  for (; i < end; ++i) ++counts[at(i)];
  for (std::size_t j = 0; j < n; ++j) {
    counts[j] += c1[j] + c2[j] + c3[j];
    c1[j] = c2[j] = c3[j] = 0;
  }
}

/// to[j] += from[j] for j in [0, n) (the arrays do not overlap; vectorizes).
inline void add_counts(const std::uint32_t* __restrict from, std::uint32_t n,
                       std::uint32_t* __restrict to) {
  for (std::uint32_t j = 0; j < n; ++j) to[j] += from[j];
}

/// The bucket b holding rank `rank` (its counts c[0..b) sum to at most rank, with c[b] they
/// exceed it; the caller knows there is one), and into `before` the count below it. Blocks of
/// 16 counters are summed at a time (vectorizes), then the last block is walked.
inline std::uint32_t find_rank(const std::uint32_t* c, std::size_t rank, std::size_t& before) {
  constexpr std::uint32_t kBlock = 16;
  std::uint32_t b = 0;
  std::size_t sum = 0;
  for (;; b += kBlock) {
    std::uint32_t block = 0;
    for (std::uint32_t j = 0; j < kBlock; ++j) block += c[b + j];
    if (sum + block > rank) break;
    sum += block;
  }
  while (sum + c[b] <= rank) sum += c[b++];
  before = sum;
  return b;
}

/// A grid of n_buckets equal buckets over [lo, hi] (lo < hi, values of T) computed in T, its
/// scale and limit (n_buckets + 1: every finite sample's (x - lo)·scale is below it). False
/// where the width or scale overflows (a range wider than T's largest value, or a few
/// denormals wide): such a range selects among all its samples instead.
template <class T>
bool make_grid(T lo, T hi, std::uint32_t n_buckets, T& scale, T& limit) {
  const T width = hi - lo;
  scale = static_cast<T>(n_buckets) / width;
  limit = static_cast<T>(n_buckets) + T(1);
  // The max must land below the limit, or it would count as non-finite: true whenever scale
  // is a normal number (t_max <= n_buckets·(1 + 2 eps)); checked for denormal ones.
  const T t_max = width * scale;
  return std::isfinite(width) && std::isfinite(scale) && t_max < limit;
}

/// Values collect_avx2 may store past a segment's candidates: the candidate buffers leave this
/// much room after each segment's.
constexpr std::size_t kCollectSpill = 8;

/// No bucket: bucket indices are at most kMaxBuckets.
constexpr std::uint16_t kNone = 0xFFFF;

/// What one segment's scan looks for: the samples of bucket `bucket` (appended to cand[m...])
/// and the largest sample of bucket `below` (kept in `low`); kNone disables either.
template <class T>
struct Want {
  std::uint16_t bucket = kNone;
  std::uint16_t below = kNone;
  T* cand = nullptr;
  std::size_t m = 0;
  T low = -std::numeric_limits<T>::infinity();
};

/// What a scan keeps of two Wants while it runs (locals, so that they stay in registers):
/// visit(k) takes sample k when its bucket is one of them, or raises the largest sample seen
/// below it; store() hands them back.
template <class T>
struct WantScan {
  const std::uint16_t a_bucket, a_below, b_bucket, b_below;
  T* const a_cand;
  T* const b_cand;
  std::size_t a_m, b_m;
  T a_low, b_low;

  WantScan(const Want<T>& a, const Want<T>& b)
      : a_bucket(a.bucket),
        a_below(a.below),
        b_bucket(b.bucket),
        b_below(b.below),
        a_cand(a.cand),
        b_cand(b.cand),
        a_m(a.m),
        b_m(b.m),
        a_low(a.low),
        b_low(b.low) {}
  [[gnu::always_inline]] void visit(const T* x, const std::uint16_t* idx, std::size_t k) {
    const std::uint16_t i = idx[k];
    const T v = x[k];
    if (i == a_bucket) {
      a_cand[a_m++] = v;
    } else if (i == a_below && v > a_low) {
      a_low = v;
    }
    if (i == b_bucket) {
      b_cand[b_m++] = v;
    } else if (i == b_below && v > b_low) {
      b_low = v;
    }
  }
  void store(Want<T>& a, Want<T>& b) const {
    a.m = a_m;
    b.m = b_m;
    a.low = a_low;
    b.low = b_low;
  }
};

/// The samples x[i], i in [begin, end), that two segments want (a and b: the wafer and the
/// step these rows belong to, both indexed by idx, or one of them disabled). The buckets hold
/// a few of the samples: 16 indices are compared at a time and only the matching lanes of a
/// group are visited, from its byte mask (pmovmskb).
template <class T>
[[gnu::always_inline]] inline void collect_body(const T* x, const std::uint16_t* idx,
                                                std::size_t begin, std::size_t end, Want<T>& a,
                                                Want<T>& b) {
  typedef std::uint16_t U16 __attribute__((vector_size(32)));
  typedef std::uint64_t U64 __attribute__((vector_size(32)));
  WantScan<T> scan(a, b);
  const U16 want_a = U16{} + scan.a_bucket;
  const U16 want_a_below = U16{} + scan.a_below;
  const U16 want_b = U16{} + scan.b_bucket;
  const U16 want_b_below = U16{} + scan.b_below;
  const auto visit = [&](std::size_t k) { scan.visit(x, idx, k); };
  std::size_t i = begin;
  for (; i + 16 <= end; i += 16) {
    U16 v;
    std::memcpy(&v, idx + i, sizeof v);
    const U16 hit = (v == want_a) | (v == want_a_below) | (v == want_b) | (v == want_b_below);
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
      visit(i + static_cast<std::size_t>(__builtin_ctz(bits)) / 2);
      bits &= bits - 1;
      bits &= bits - 1;
    }
#else
    for (std::size_t k = i; k < i + 16; ++k) visit(k);
#endif
  }
  for (; i < end; ++i) visit(i);
  scan.store(a, b);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define WAFERMILL_HAVE_AVX2_MEDIAN 1

/// kCompress8.lane[mask]: the 32-bit lane indices that move the lanes set in an 8-bit mask to
/// the front, in order (vpermps), for the window's compaction.
struct CompressTable {
  alignas(32) std::int32_t lane[256][8];
};
constexpr CompressTable make_compress_table() {
  CompressTable t{};
  for (int mask = 0; mask < 256; ++mask) {
    int k = 0;
    for (int j = 0; j < 8; ++j)
      if ((mask >> j) & 1) t.lane[mask][k++] = j;
    for (; k < 8; ++k) t.lane[mask][k] = 0;
  }
  return t;
}
constexpr CompressTable kCompress8 = make_compress_table();

/// The same for 4 double lanes (a 4-bit mask): each moves as its two 32-bit halves.
struct CompressTable4 {
  alignas(32) std::int32_t lane[16][8];
};
constexpr CompressTable4 make_compress_table4() {
  CompressTable4 t{};
  for (int mask = 0; mask < 16; ++mask) {
    int k = 0;
    for (int j = 0; j < 4; ++j)
      if ((mask >> j) & 1) {
        t.lane[mask][k++] = 2 * j;
        t.lane[mask][k++] = 2 * j + 1;
      }
    for (; k < 8; ++k) t.lane[mask][k] = 0;
  }
  return t;
}
constexpr CompressTable4 kCompress4 = make_compress_table4();

/// The AVX2 operations the median's vector passes use, on float (8 lanes) and double (4 lanes):
/// each pass is one template over them.
template <class T>
struct Avx2Lanes;

#define WAFERMILL_LANES_OP __attribute__((target("avx2,popcnt"), always_inline)) static inline

template <>
struct Avx2Lanes<float> {
  using V = __m256;
  static constexpr std::size_t kWidth = 8;
  WAFERMILL_LANES_OP V set1(float x) { return _mm256_set1_ps(x); }
  WAFERMILL_LANES_OP V load(const float* p) { return _mm256_loadu_ps(p); }
  WAFERMILL_LANES_OP void store_aligned(float* p, V v) { _mm256_store_ps(p, v); }
  WAFERMILL_LANES_OP V min(V a, V b) { return _mm256_min_ps(a, b); }
  WAFERMILL_LANES_OP V max(V a, V b) { return _mm256_max_ps(a, b); }
  WAFERMILL_LANES_OP V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  WAFERMILL_LANES_OP V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  WAFERMILL_LANES_OP V lt(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
  WAFERMILL_LANES_OP V ge(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
  WAFERMILL_LANES_OP V both(V a, V b) { return _mm256_and_ps(a, b); }
  /// b's lanes where a's are not set.
  WAFERMILL_LANES_OP V but_not(V a, V b) { return _mm256_andnot_ps(a, b); }
  /// b where mask is set, else a.
  WAFERMILL_LANES_OP V blend(V a, V b, V mask) { return _mm256_blendv_ps(a, b, mask); }
  WAFERMILL_LANES_OP unsigned mask(V v) { return static_cast<unsigned>(_mm256_movemask_ps(v)); }
  /// The lanes whose bucket index idx[0, 8) equals `want` (its 16 bits in every word).
  WAFERMILL_LANES_OP V index_is(const std::uint16_t* idx, __m128i want) {
    const __m128i k = _mm_loadu_si128(reinterpret_cast<const __m128i*>(idx));
    return _mm256_castsi256_ps(_mm256_cvtepi16_epi32(_mm_cmpeq_epi16(k, want)));
  }
  /// counts less the set lanes of mask (+1 each), in 32-bit lanes.
  WAFERMILL_LANES_OP __m256i count(__m256i counts, V mask) {
    return _mm256_sub_epi32(counts, _mm256_castps_si256(mask));
  }
  WAFERMILL_LANES_OP std::size_t sum(__m256i counts) {
    alignas(32) std::uint32_t c[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(c), counts);
    std::size_t total = 0;
    for (const std::uint32_t x : c) total += x;
    return total;
  }
  /// v's lanes set in `bits` stored in order at out, followed by other lanes (a whole register).
  WAFERMILL_LANES_OP void store_packed(float* out, V v, unsigned bits) {
    const __m256i lanes =
        _mm256_load_si256(reinterpret_cast<const __m256i*>(kCompress8.lane[bits]));
    _mm256_storeu_ps(out, _mm256_permutevar8x32_ps(v, lanes));
  }
};

template <>
struct Avx2Lanes<double> {
  using V = __m256d;
  static constexpr std::size_t kWidth = 4;
  WAFERMILL_LANES_OP V set1(double x) { return _mm256_set1_pd(x); }
  WAFERMILL_LANES_OP V load(const double* p) { return _mm256_loadu_pd(p); }
  WAFERMILL_LANES_OP void store_aligned(double* p, V v) { _mm256_store_pd(p, v); }
  WAFERMILL_LANES_OP V min(V a, V b) { return _mm256_min_pd(a, b); }
  WAFERMILL_LANES_OP V max(V a, V b) { return _mm256_max_pd(a, b); }
  WAFERMILL_LANES_OP V sub(V a, V b) { return _mm256_sub_pd(a, b); }
  WAFERMILL_LANES_OP V mul(V a, V b) { return _mm256_mul_pd(a, b); }
  WAFERMILL_LANES_OP V lt(V a, V b) { return _mm256_cmp_pd(a, b, _CMP_LT_OQ); }
  WAFERMILL_LANES_OP V ge(V a, V b) { return _mm256_cmp_pd(a, b, _CMP_GE_OQ); }
  WAFERMILL_LANES_OP V both(V a, V b) { return _mm256_and_pd(a, b); }
  WAFERMILL_LANES_OP V but_not(V a, V b) { return _mm256_andnot_pd(a, b); }
  WAFERMILL_LANES_OP V blend(V a, V b, V mask) { return _mm256_blendv_pd(a, b, mask); }
  WAFERMILL_LANES_OP unsigned mask(V v) { return static_cast<unsigned>(_mm256_movemask_pd(v)); }
  /// As for float, over idx[0, 4).
  WAFERMILL_LANES_OP V index_is(const std::uint16_t* idx, __m128i want) {
    const __m128i k = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(idx));
    return _mm256_castsi256_pd(_mm256_cvtepi16_epi64(_mm_cmpeq_epi16(k, want)));
  }
  /// In 64-bit lanes.
  WAFERMILL_LANES_OP __m256i count(__m256i counts, V mask) {
    return _mm256_sub_epi64(counts, _mm256_castpd_si256(mask));
  }
  WAFERMILL_LANES_OP std::size_t sum(__m256i counts) {
    alignas(32) std::uint64_t c[4];
    _mm256_store_si256(reinterpret_cast<__m256i*>(c), counts);
    std::size_t total = 0;
    for (const std::uint64_t x : c) total += x;
    return total;
  }
  /// Each double moves as its two 32-bit halves.
  WAFERMILL_LANES_OP void store_packed(double* out, V v, unsigned bits) {
    const __m256i lanes =
        _mm256_load_si256(reinterpret_cast<const __m256i*>(kCompress4.lane[bits]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out),
                        _mm256_permutevar8x32_epi32(_mm256_castpd_si256(v), lanes));
  }
};

#undef WAFERMILL_LANES_OP
template <class T>
__attribute__((target("avx2"))) void bucket_index_avx2(const T* x, std::size_t begin,
                                                       std::size_t end, double lo, double scale,
                                                       double limit, std::uint32_t nb,
                                                       std::uint16_t* idx) {
  bucket_index_body(x, begin, end, lo, scale, limit, nb, idx);
}
/// collect_body a register at a time without a branch on the data, for a and, with kBoth, b
/// (the wafer and a step counted on its grid): each one's wanted lanes packed to the front of
/// its candidates by a permutation and stored whole (up to a register past them: the buffers
/// leave kCollectSpill after each segment's candidates), the largest sample of each one's
/// bucket below kept by a masked max. The same candidates in the same order as collect_body (a
/// zero's sign in `low` aside, which only a result of zero could show; the callers check
/// zeros_of_both_signs then). The last samples, fewer than a register, go through collect_body.
template <class T, bool kBoth>
__attribute__((target("avx2,popcnt"))) void collect_avx2(const T* x, const std::uint16_t* idx,
                                                         std::size_t begin, std::size_t end,
                                                         Want<T>& a, Want<T>& b) {
  using L = Avx2Lanes<T>;
  const __m128i want_a = _mm_set1_epi16(static_cast<short>(a.bucket));
  const __m128i want_a_below = _mm_set1_epi16(static_cast<short>(a.below));
  const __m128i want_b = _mm_set1_epi16(static_cast<short>(b.bucket));
  const __m128i want_b_below = _mm_set1_epi16(static_cast<short>(b.below));
  const typename L::V none = L::set1(-std::numeric_limits<T>::infinity());
  typename L::V a_low = L::set1(a.low);
  typename L::V b_low = L::set1(b.low);
  std::size_t a_m = a.m;
  std::size_t b_m = b.m;
  std::size_t i = begin;
  for (; i + L::kWidth <= end; i += L::kWidth) {
    const typename L::V v = L::load(x + i);
    const unsigned a_hit = L::mask(L::index_is(idx + i, want_a));
    L::store_packed(a.cand + a_m, v, a_hit);
    a_m += static_cast<std::size_t>(__builtin_popcount(a_hit));
    a_low = L::max(a_low, L::blend(none, v, L::index_is(idx + i, want_a_below)));
    if constexpr (kBoth) {
      const unsigned b_hit = L::mask(L::index_is(idx + i, want_b));
      L::store_packed(b.cand + b_m, v, b_hit);
      b_m += static_cast<std::size_t>(__builtin_popcount(b_hit));
      b_low = L::max(b_low, L::blend(none, v, L::index_is(idx + i, want_b_below)));
    }
  }
  alignas(32) T lanes[2][L::kWidth];
  L::store_aligned(lanes[0], a_low);
  L::store_aligned(lanes[1], b_low);
  for (std::size_t k = 0; k < L::kWidth; ++k) {
    a.low = lanes[0][k] > a.low ? lanes[0][k] : a.low;
    b.low = lanes[1][k] > b.low ? lanes[1][k] : b.low;
  }
  a.m = a_m;
  b.m = b_m;
  collect_body(x, idx, i, end, a, b);
}
#else
#define WAFERMILL_HAVE_AVX2_MEDIAN 0
#endif

/// Whether this CPU runs the AVX2 clones (decided once).
bool use_avx2() {
#if WAFERMILL_HAVE_AVX2_MEDIAN
  return avx2_allowed();
#else
  return false;
#endif
}

template <class T>
void bucket_index(const T* x, std::size_t begin, std::size_t end, double lo, double scale,
                  double limit, std::uint32_t nb, std::uint16_t* idx) {
#if WAFERMILL_HAVE_AVX2_MEDIAN
  if (use_avx2()) return bucket_index_avx2(x, begin, end, lo, scale, limit, nb, idx);
#endif
  bucket_index_body(x, begin, end, lo, scale, limit, nb, idx);
}

/// collect_body for one Want, where the candidate buffer has kCollectSpill values of room past
/// a.cand + (the bucket's count): collect_avx2 under AVX2.
template <class T>
void collect_one(const T* x, const std::uint16_t* idx, std::size_t begin, std::size_t end,
                 Want<T>& a) {
  Want<T> none;
#if WAFERMILL_HAVE_AVX2_MEDIAN
  if (use_avx2()) return collect_avx2<T, false>(x, idx, begin, end, a, none);
#endif
  collect_body(x, idx, begin, end, a, none);
}

/// collect_body for two Wants whose candidates lie at least kCollectSpill apart: collect_avx2
/// under AVX2.
template <class T>
void collect_two(const T* x, const std::uint16_t* idx, std::size_t begin, std::size_t end,
                 Want<T>& a, Want<T>& b) {
#if WAFERMILL_HAVE_AVX2_MEDIAN
  if (use_avx2()) return collect_avx2<T, true>(x, idx, begin, end, a, b);
#endif
  collect_body(x, idx, begin, end, a, b);
}

/// Candidates at most this many are selected by counting ranks (rank_select) instead of
/// nth_element: a middle bucket holds about 15 samples of a normal column of 500 (6 a bucket on
/// average), where nth_element's unpredictable branches took as long as counting the column.
constexpr std::size_t kRankSelectMax = 32;

/// The order statistics r and r - 1 (when r > 0) of c[0, m), m <= kRankSelectMax, none NaN: a
/// value with at most k smaller values and more than k smaller-or-equal ones is the k-th
/// smallest, the value nth_element puts at k. A vector of candidates is compared with every
/// candidate in turn (its lanes count their ranks at once), and the lanes whose counts bracket
/// r and r - 1 are kept by mask, without a branch on the data. Equal values are the same value
/// (a zero of either sign: the caller handles columns holding both, zeros_of_both_signs).
template <class T>
[[gnu::always_inline]] inline void rank_select_body(const T* c, std::size_t m, std::size_t r,
                                                    T& upper, T& lower) {
  typedef T V __attribute__((vector_size(32)));
  using I = std::conditional_t<sizeof(T) == 4, std::int32_t, std::int64_t>;
  typedef I IV __attribute__((vector_size(32)));
  constexpr std::size_t kLanes = 32 / sizeof(T);
  constexpr T kInf = std::numeric_limits<T>::infinity();
  alignas(32) T pad[kRankSelectMax + kLanes];
  std::copy_n(c, m, pad);
  std::fill(pad + m, pad + m + kLanes, kInf);  // lanes past m: ranks m and more, never selected
  const IV rank = IV{} + static_cast<I>(r);
  const IV rank_below = rank - 1;  // -1 when r = 0: no lane matches
  V up = V{} - kInf;
  V low = V{} - kInf;
  for (std::size_t i = 0; i < m; i += kLanes) {
    V x;
    std::memcpy(&x, pad + i, sizeof x);
    IV less{};
    IV less_equal{};
    for (std::size_t j = 0; j < m; ++j) {
      const V y = V{} + c[j];
      less -= (y < x);  // a true lane is -1
      less_equal -= (y <= x);
    }
    up = (less <= rank) & (rank < less_equal) ? x : up;
    low = (less <= rank_below) & (rank_below < less_equal) ? x : low;
  }
  T u = -kInf;
  T l = -kInf;
  for (std::size_t k = 0; k < kLanes; ++k) {
    u = std::max(u, up[k]);
    l = std::max(l, low[k]);
  }
  upper = u;
  if (r > 0) lower = l;
}

#if WAFERMILL_HAVE_AVX2_MEDIAN
template <class T>
__attribute__((target("avx2"))) void rank_select_avx2(const T* c, std::size_t m, std::size_t r,
                                                      T& upper, T& lower) {
  rank_select_body(c, m, r, upper, lower);
}
#endif

template <class T>
void rank_select(const T* c, std::size_t m, std::size_t r, T& upper, T& lower) {
#if WAFERMILL_HAVE_AVX2_MEDIAN
  if (use_avx2()) return rank_select_avx2(c, m, r, upper, lower);
#endif
  rank_select_body(c, m, r, upper, lower);
}

/// Median of the candidates cand[0, m) whose rank r is the middle, with `low` the largest
/// sample of the bucket below for an even count whose upper middle is the bucket's first.
/// Finite candidates (m <= kRankSelectMax) by rank_select, the others by nth_element: the same
/// values.
template <class T>
double finish(T* cand, std::size_t m, std::size_t r, bool even, T low, T& lower_out, T& upper_out) {
  T upper;
  T lower = low;
  if (m <= kRankSelectMax) {
    rank_select(cand, m, r, upper, lower);
  } else {
    std::nth_element(cand, cand + r, cand + m);
    upper = cand[r];
    if (even && r > 0) lower = *std::max_element(cand, cand + r);
  }
  upper_out = upper;
  if (!even) return static_cast<double>(upper);
  lower_out = lower;
  return median_midpoint(static_cast<double>(lower), static_cast<double>(upper));
}

// ---------------------------------------------------------------------------------------------
// The window around the median (ColumnMedians::window_median)

/// Columns shorter than this skip the window: its sample is too small to place the median.
constexpr std::size_t kWindowMinCount = 512;

/// Every kSampleStride-th row goes into the sample that places the window. An odd stride, so
/// that a pattern repeating every 2^k rows (common in tool cycles) does not fool it.
constexpr std::size_t kSampleStride = 7;

/// Half-width of the window, in standard deviations of the sample's rank of the median
/// (sqrt(S)/2 for S sampled samples): the window misses the median (and the column takes the
/// full pass after all, exact either way) about once in 400 columns of unpatterned data.
constexpr double kWindowSigmas = 3.0;

/// The window's grid (placing it) has a bucket for this many of the column's samples.
constexpr std::size_t kWindowRowsPerBucket = 16;

/// The window's samples get a grid of their own, this many a bucket on average.
constexpr std::size_t kWindowSamplesPerBucket = 4;

/// With t = (x - lo)·scale: how many of x[i], i in [begin, end), have t in [t_min, t_low)
/// (the finite samples below the window: t_min is t of the column's min) added to `below`,
/// and those with t in [t_low, t_high) (the window) appended to window[m...] in their order;
/// window[m] may be written past the last one kept. On a grid t is bucket_of's, so that the
/// window is exactly some buckets' samples; with lo = 0 and scale = 1, t = x.
template <class T>
[[gnu::always_inline]] inline void window_body(const T* x, std::size_t begin, std::size_t end, T lo,
                                               T scale, T t_min, T t_low, T t_high, T* window,
                                               std::size_t& below, std::size_t& m) {
  std::size_t b = below;
  std::size_t k = m;
  for (std::size_t i = begin; i < end; ++i) {
    const T v = x[i];
    const T t = (v - lo) * scale;
    window[k] = v;
    k += (t >= t_low && t < t_high) ? 1 : 0;
    b += (t >= t_min && t < t_low) ? 1 : 0;  // -Inf: t < t_min; NaN: both false
  }
  below = b;
  m = k;
}

#if WAFERMILL_HAVE_AVX2_MEDIAN
/// window_body a register at a time: compares and a movemask place the lanes, a table permute
/// packs the window's to the front, stored unaligned at window + m (up to a register past the
/// last one kept, all below end: m <= i).
template <class T>
__attribute__((target("avx2,popcnt"))) void window_avx2(const T* x, std::size_t n, T lo, T scale,
                                                        T t_min, T t_low, T t_high, T* window,
                                                        std::size_t& below, std::size_t& m) {
  using L = Avx2Lanes<T>;
  const typename L::V v_lo = L::set1(lo);
  const typename L::V v_scale = L::set1(scale);
  const typename L::V v_low = L::set1(t_low);
  const typename L::V v_high = L::set1(t_high);
  const typename L::V v_min = L::set1(t_min);
  // Lanes below the window are counted in integer lanes of T's width (a compare's all-ones is
  // -1), summed at the end: at most n / width < 2^31 each.
  __m256i below_lanes = _mm256_setzero_si256();
  std::size_t k = 0;
  std::size_t i = 0;
  for (; i + L::kWidth <= n; i += L::kWidth) {
    const typename L::V v = L::load(x + i);
    const typename L::V t = L::mul(L::sub(v, v_lo), v_scale);
    const typename L::V under = L::lt(t, v_low);  // -Inf too, not NaN
    below_lanes = L::count(below_lanes, L::both(under, L::ge(t, v_min)));
    // Not under and below t_high: in the window (NaN and +Inf fail the second compare).
    const unsigned in = L::mask(L::but_not(under, L::lt(t, v_high)));
    L::store_packed(window + k, v, in);
    k += static_cast<std::size_t>(__builtin_popcount(in));
  }
  below = L::sum(below_lanes);
  m = k;
  window_body(x, i, n, lo, scale, t_min, t_low, t_high, window, below, m);
}

/// AVX-512F registers of T for window_avx512: 16 floats or 8 doubles, a mask bit a lane.
template <class T>
struct Avx512Lanes;

#define WAFERMILL_LANES_OP __attribute__((target("avx512f"), always_inline)) static inline

template <>
struct Avx512Lanes<float> {
  using V = __m512;
  using M = __mmask16;
  static constexpr std::size_t kWidth = 16;
  WAFERMILL_LANES_OP V set1(float x) { return _mm512_set1_ps(x); }
  WAFERMILL_LANES_OP V load(const float* p) { return _mm512_loadu_ps(p); }
  WAFERMILL_LANES_OP V load(M live, const float* p) { return _mm512_maskz_loadu_ps(live, p); }
  WAFERMILL_LANES_OP V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  WAFERMILL_LANES_OP V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  WAFERMILL_LANES_OP M lt(M k, V a, V b) { return _mm512_mask_cmp_ps_mask(k, a, b, _CMP_LT_OQ); }
  WAFERMILL_LANES_OP M ge(M k, V a, V b) { return _mm512_mask_cmp_ps_mask(k, a, b, _CMP_GE_OQ); }
  WAFERMILL_LANES_OP void store_packed(float* out, M keep, V v) {
    _mm512_storeu_ps(out, _mm512_maskz_compress_ps(keep, v));
  }
  WAFERMILL_LANES_OP void store_packed(float* out, M keep, V v, M first) {
    _mm512_mask_storeu_ps(out, first, _mm512_maskz_compress_ps(keep, v));
  }
};

template <>
struct Avx512Lanes<double> {
  using V = __m512d;
  using M = __mmask8;
  static constexpr std::size_t kWidth = 8;
  WAFERMILL_LANES_OP V set1(double x) { return _mm512_set1_pd(x); }
  WAFERMILL_LANES_OP V load(const double* p) { return _mm512_loadu_pd(p); }
  WAFERMILL_LANES_OP V load(M live, const double* p) { return _mm512_maskz_loadu_pd(live, p); }
  WAFERMILL_LANES_OP V sub(V a, V b) { return _mm512_sub_pd(a, b); }
  WAFERMILL_LANES_OP V mul(V a, V b) { return _mm512_mul_pd(a, b); }
  WAFERMILL_LANES_OP M lt(M k, V a, V b) { return _mm512_mask_cmp_pd_mask(k, a, b, _CMP_LT_OQ); }
  WAFERMILL_LANES_OP M ge(M k, V a, V b) { return _mm512_mask_cmp_pd_mask(k, a, b, _CMP_GE_OQ); }
  WAFERMILL_LANES_OP void store_packed(double* out, M keep, V v) {
    _mm512_storeu_pd(out, _mm512_maskz_compress_pd(keep, v));
  }
  WAFERMILL_LANES_OP void store_packed(double* out, M keep, V v, M first) {
    _mm512_mask_storeu_pd(out, first, _mm512_maskz_compress_pd(keep, v));
  }
};

#undef WAFERMILL_LANES_OP

/// One register of window_avx512: the `live` lanes from x, those below the window counted into
/// b, those in it packed to window + k, stored whole (kFull: a register past the last kept may
/// be written; below the column's end since k <= i) or under a mask of as many lanes.
template <class T, bool kFull>
__attribute__((target("avx512f,popcnt"), always_inline)) inline void window_step(
    const T* x, typename Avx512Lanes<T>::M live, typename Avx512Lanes<T>::V v_lo,
    typename Avx512Lanes<T>::V v_scale, typename Avx512Lanes<T>::V v_min,
    typename Avx512Lanes<T>::V v_low, typename Avx512Lanes<T>::V v_high, T* window,
    std::size_t& b, std::size_t& k) {
  using L = Avx512Lanes<T>;
  using M = typename L::M;
  const typename L::V v = kFull ? L::load(x) : L::load(live, x);
  const typename L::V t = L::mul(L::sub(v, v_lo), v_scale);
  const M under = L::lt(live, t, v_low);  // -Inf too, not NaN
  const M counted = L::ge(under, t, v_min);
  const M in = L::lt(static_cast<M>(live & ~under), t, v_high);  // NaN, +Inf: not below t_high
  const int kept = __builtin_popcount(in);
  if constexpr (kFull) {
    L::store_packed(window + k, in, v);
  } else {
    L::store_packed(window + k, in, v, static_cast<M>((1U << kept) - 1U));
  }
  b += static_cast<std::size_t>(__builtin_popcount(counted));
  k += static_cast<std::size_t>(kept);
}

/// window_avx2 in 16 floats (8 doubles) a register, where the CPU has AVX-512F: the compares
/// give masks, the window's lanes are packed by vcompress in a register (the memory form is
/// microcoded on some CPUs); the last lanes are loaded and stored under masks, so there is no
/// scalar tail (a guess's window is short).
template <class T>
__attribute__((target("avx512f,popcnt"))) void window_avx512(const T* x, std::size_t n, T lo,
                                                             T scale, T t_min, T t_low, T t_high,
                                                             T* window, std::size_t& below,
                                                             std::size_t& m) {
  using L = Avx512Lanes<T>;
  using M = typename L::M;
  const typename L::V v_lo = L::set1(lo);
  const typename L::V v_scale = L::set1(scale);
  const typename L::V v_min = L::set1(t_min);
  const typename L::V v_low = L::set1(t_low);
  const typename L::V v_high = L::set1(t_high);
  std::size_t k = 0;
  std::size_t b = 0;
  std::size_t i = 0;
  for (; i + L::kWidth <= n; i += L::kWidth)
    window_step<T, true>(x + i, static_cast<M>(~M{0}), v_lo, v_scale, v_min, v_low, v_high,
                         window, b, k);
  if (i < n)
    window_step<T, false>(x + i, static_cast<M>((1U << (n - i)) - 1U), v_lo, v_scale, v_min,
                          v_low, v_high, window, b, k);
  below = b;
  m = k;
}
#endif

/// The least and greatest of v[0, m), m >= 1, none NaN, in independent lanes (a register's
/// worth: vectorizes, where one running minimum waits on each compare).
template <class T>
[[gnu::always_inline]] inline void min_max_body(const T* v, std::size_t m, T& lo_out, T& hi_out) {
  constexpr std::size_t kLanes = 32 / sizeof(T);
  T lo[kLanes];
  T hi[kLanes];
  for (std::size_t j = 0; j < kLanes; ++j) lo[j] = hi[j] = v[0];
  std::size_t i = 0;
  for (; i + kLanes <= m; i += kLanes) {
    for (std::size_t j = 0; j < kLanes; ++j) {
      const T x = v[i + j];
      lo[j] = x < lo[j] ? x : lo[j];
      hi[j] = x > hi[j] ? x : hi[j];
    }
  }
  for (; i < m; ++i) {
    lo[0] = v[i] < lo[0] ? v[i] : lo[0];
    hi[0] = v[i] > hi[0] ? v[i] : hi[0];
  }
  for (std::size_t j = 1; j < kLanes; ++j) {
    lo[0] = lo[j] < lo[0] ? lo[j] : lo[0];
    hi[0] = hi[j] > hi[0] ? hi[j] : hi[0];
  }
  lo_out = lo[0];
  hi_out = hi[0];
}

#if WAFERMILL_HAVE_AVX2_MEDIAN
/// min_max_body a register at a time (the compiler keeps its lanes scalar: vminps is
/// x < lo ? x : lo only for the operands in this order).
template <class T>
__attribute__((target("avx2"))) void min_max_avx2(const T* v, std::size_t m, T& lo_out, T& hi_out) {
  using L = Avx2Lanes<T>;
  constexpr std::size_t kWidth = L::kWidth;
  if (m < kWidth) return min_max_body(v, m, lo_out, hi_out);
  typename L::V lo = L::load(v);
  typename L::V hi = lo;
  for (std::size_t i = kWidth; i + kWidth <= m; i += kWidth) {
    const typename L::V x = L::load(v + i);
    lo = L::min(x, lo);
    hi = L::max(x, hi);
  }
  // The last register (overlapping some already seen: harmless for a minimum).
  const typename L::V x = L::load(v + m - kWidth);
  alignas(32) T l[kWidth];
  alignas(32) T h[kWidth];
  L::store_aligned(l, L::min(x, lo));
  L::store_aligned(h, L::max(x, hi));
  min_max_body(l, kWidth, lo_out, hi_out);
  T unused;
  min_max_body(h, kWidth, unused, hi_out);
}
#endif

template <class T>
void min_max(const T* v, std::size_t m, T& lo, T& hi) {
#if WAFERMILL_HAVE_AVX2_MEDIAN
  if (use_avx2()) return min_max_avx2(v, m, lo, hi);
#endif
  min_max_body(v, m, lo, hi);
}

template <class T>
void window_pass(const T* x, std::size_t n, T lo, T scale, T t_min, T t_low, T t_high, T* window,
                 std::size_t& below, std::size_t& m) {
  below = 0;
  m = 0;
#if WAFERMILL_HAVE_AVX2_MEDIAN
  if (avx512_allowed())
    return window_avx512(x, n, lo, scale, t_min, t_low, t_high, window, below, m);
  if (use_avx2()) return window_avx2(x, n, lo, scale, t_min, t_low, t_high, window, below, m);
#endif
  window_body(x, 0, n, lo, scale, t_min, t_low, t_high, window, below, m);
}

}  // namespace

namespace {

/// Scalar copy of columns [j0, j0 + width) and rows [r0, n_rows): tiles of 8 rows, so that
/// each column gets 8 consecutive samples at a time from rows that stay in L1.
template <class T>
void transpose_scalar(const T* rows, std::size_t n_columns, std::size_t n_rows, std::size_t r0,
                      std::size_t c0, std::size_t j0, std::size_t width, T* dst, std::size_t ld) {
  constexpr std::size_t kTile = 8;
  const std::size_t full = r0 + (n_rows - r0) / kTile * kTile;
  for (std::size_t t = r0; t < full; t += kTile) {
    const T* tile = rows + t * n_columns + c0;
    for (std::size_t j = j0; j < width; ++j) {
      T* out = dst + j * ld + t;
      for (std::size_t r = 0; r < kTile; ++r) out[r] = tile[r * n_columns + j];
    }
  }
  for (std::size_t r = full; r < n_rows; ++r) {
    const T* row = rows + r * n_columns + c0;
    for (std::size_t j = j0; j < width; ++j) dst[j * ld + r] = row[j];
  }
}

#if WAFERMILL_HAVE_AVX2_MEDIAN
__attribute__((target("avx2"))) void transpose_avx2(const float* rows, std::size_t n_columns,
                                                    std::size_t n_rows, std::size_t c0,
                                                    std::size_t width, float* dst, std::size_t ld) {
  const std::size_t full_rows = n_rows / 8 * 8;
  const std::size_t full_cols = width / 8 * 8;
  for (std::size_t r0 = 0; r0 < full_rows; r0 += 8) {
    const float* tile = rows + r0 * n_columns + c0;
    for (std::size_t j0 = 0; j0 < full_cols; j0 += 8) {
      __m256 r[8];
      for (std::size_t i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(tile + i * n_columns + j0);
      const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]);
      const __m256 t1 = _mm256_unpackhi_ps(r[0], r[1]);
      const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]);
      const __m256 t3 = _mm256_unpackhi_ps(r[2], r[3]);
      const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]);
      const __m256 t5 = _mm256_unpackhi_ps(r[4], r[5]);
      const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]);
      const __m256 t7 = _mm256_unpackhi_ps(r[6], r[7]);
      const __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
      const __m256 u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
      const __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
      const __m256 u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
      const __m256 u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
      const __m256 u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
      const __m256 u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
      const __m256 u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
      float* out = dst + j0 * ld + r0;
      _mm256_storeu_ps(out + 0 * ld, _mm256_permute2f128_ps(u0, u4, 0x20));
      _mm256_storeu_ps(out + 1 * ld, _mm256_permute2f128_ps(u1, u5, 0x20));
      _mm256_storeu_ps(out + 2 * ld, _mm256_permute2f128_ps(u2, u6, 0x20));
      _mm256_storeu_ps(out + 3 * ld, _mm256_permute2f128_ps(u3, u7, 0x20));
      _mm256_storeu_ps(out + 4 * ld, _mm256_permute2f128_ps(u0, u4, 0x31));
      _mm256_storeu_ps(out + 5 * ld, _mm256_permute2f128_ps(u1, u5, 0x31));
      _mm256_storeu_ps(out + 6 * ld, _mm256_permute2f128_ps(u2, u6, 0x31));
      _mm256_storeu_ps(out + 7 * ld, _mm256_permute2f128_ps(u3, u7, 0x31));
    }
  }
  if (full_cols < width)
    transpose_scalar(rows, n_columns, full_rows, 0, c0, full_cols, width, dst, ld);
  transpose_scalar(rows, n_columns, n_rows, full_rows, c0, 0, width, dst, ld);
}

__attribute__((target("avx2"))) void transpose_avx2(const double* rows, std::size_t n_columns,
                                                    std::size_t n_rows, std::size_t c0,
                                                    std::size_t width, double* dst,
                                                    std::size_t ld) {
  const std::size_t full_rows = n_rows / 4 * 4;
  const std::size_t full_cols = width / 4 * 4;
  for (std::size_t r0 = 0; r0 < full_rows; r0 += 4) {
    const double* tile = rows + r0 * n_columns + c0;
    for (std::size_t j0 = 0; j0 < full_cols; j0 += 4) {
      const __m256d r0v = _mm256_loadu_pd(tile + 0 * n_columns + j0);
      const __m256d r1v = _mm256_loadu_pd(tile + 1 * n_columns + j0);
      const __m256d r2v = _mm256_loadu_pd(tile + 2 * n_columns + j0);
      const __m256d r3v = _mm256_loadu_pd(tile + 3 * n_columns + j0);
      const __m256d t0 = _mm256_unpacklo_pd(r0v, r1v);
      const __m256d t1 = _mm256_unpackhi_pd(r0v, r1v);
      const __m256d t2 = _mm256_unpacklo_pd(r2v, r3v);
      const __m256d t3 = _mm256_unpackhi_pd(r2v, r3v);
      double* out = dst + j0 * ld + r0;
      _mm256_storeu_pd(out + 0 * ld, _mm256_permute2f128_pd(t0, t2, 0x20));
      _mm256_storeu_pd(out + 1 * ld, _mm256_permute2f128_pd(t1, t3, 0x20));
      _mm256_storeu_pd(out + 2 * ld, _mm256_permute2f128_pd(t0, t2, 0x31));
      _mm256_storeu_pd(out + 3 * ld, _mm256_permute2f128_pd(t1, t3, 0x31));
    }
  }
  if (full_cols < width)
    transpose_scalar(rows, n_columns, full_rows, 0, c0, full_cols, width, dst, ld);
  transpose_scalar(rows, n_columns, n_rows, full_rows, c0, 0, width, dst, ld);
}
#endif

}  // namespace

template <class T>
void transpose_columns(const T* rows, std::size_t n_columns, std::size_t n_rows, std::size_t c0,
                       std::size_t width, T* dst, std::size_t ld) {
#if WAFERMILL_HAVE_AVX2_MEDIAN
  if (use_avx2()) return transpose_avx2(rows, n_columns, n_rows, c0, width, dst, ld);
#endif
  transpose_scalar(rows, n_columns, n_rows, 0, c0, 0, width, dst, ld);
}

template void transpose_columns<float>(const float*, std::size_t, std::size_t, std::size_t,
                                       std::size_t, float*, std::size_t);
template void transpose_columns<double>(const double*, std::size_t, std::size_t, std::size_t,
                                        std::size_t, double*, std::size_t);

bool MedianGuesses::guess(std::size_t s, double mean, double std, double* window) const {
  const Sensor& g = sensors_[s];
  if (!g.known || !(std > 0.0) || !std::isfinite(std) || !std::isfinite(mean)) return false;
  const double half_width = kWidth * g.error;
  if (half_width > kMaxHalfWidth) return false;
  window[0] = mean + std * (g.offset - half_width);
  window[1] = mean + std * (g.offset + half_width);
  return std::isfinite(window[0]) && std::isfinite(window[1]);
}

void MedianGuesses::learn(std::size_t s, double mean, double std, double median) {
  Sensor& g = sensors_[s];
  if (!(std > 0.0) || !std::isfinite(std) || !std::isfinite(mean) || !std::isfinite(median))
    return;
  const double offset = (median - mean) / std;
  if (!std::isfinite(offset)) return;
  if (g.known) {
    g.error += kLearningRate * (std::abs(offset - g.offset) - g.error);
  } else {
    g.error = kFirstError;
    g.known = true;
  }
  g.offset = offset;
}

namespace {

/// Calls f(begin, end) for each run of rows of segment s: the whole column (s = 0), or the runs
/// of step s - 1.
template <class F>
void for_each_segment_run(std::size_t s, std::size_t n_rows, const std::vector<StepRun>& step_runs,
                          const F& f) {
  if (s == 0) {
    f(std::size_t{0}, n_rows);
  } else {
    for (const StepRun& run : step_runs)
      if (run.step == s - 1) f(run.begin, run.end);
  }
}

/// The median of a segment with nothing to select: NaN without a finite sample, else (min ==
/// max) that value.
double median_without_selection(const SegmentRange& range) {
  if (range.count == 0) return NAN;
  return range.count % 2 == 0 ? median_midpoint(range.min, range.max) : range.min;
}

}  // namespace

template <class T>
void ColumnMedians::reserve_window(std::size_t n_rows) {
  std::vector<T>& window = window_buffer<T>();
  std::vector<T>& cand = cand_buffer<T>();
  if (window.size() < n_rows) window.resize(n_rows);
  if (cand.size() < n_rows + kCollectSpill) cand.resize(n_rows + kCollectSpill);
  if (whole_idx_.size() < n_rows) whole_idx_.resize(n_rows);
}

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
double ColumnMedians::select_among(const T* v, std::size_t m, std::size_t rank, bool even, T& lower,
                                   T& upper) {
  std::vector<T>& cand = cand_buffer<T>();
  // The samples' own grid (their span is a small part of the column's: its buckets hold a few
  // of them where the column's hold many).
  T lo;
  T hi;
  min_max(v, m, lo, hi);
  if (!(hi > lo)) {
    lower = upper = lo;
    return even ? median_midpoint(lo, lo) : static_cast<double>(lo);
  }
  const auto n_buckets = static_cast<std::uint32_t>(
      std::clamp<std::size_t>(m / kWindowSamplesPerBucket, 1, kMaxBuckets));
  T scale;
  T limit;
  if (!make_grid(lo, hi, n_buckets, scale, limit)) {
    // A few denormals wide: select among all of them.
    std::copy_n(v, m, cand.data());
    return finish(cand.data(), m, rank, even, -std::numeric_limits<T>::infinity(), lower, upper);
  }
  if (counts_.size() < std::size_t{n_buckets} + 17) counts_.resize(std::size_t{n_buckets} + 17);
  if (spare_.size() < 3 * (std::size_t{n_buckets} + 1))
    spare_.resize(3 * (std::size_t{n_buckets} + 1));
  std::uint16_t* idx = whole_idx_.data();
  std::uint32_t* counts = counts_.data();
  bucket_index(v, 0, m, static_cast<double>(lo), static_cast<double>(scale),
               static_cast<double>(limit), n_buckets, idx);
  std::fill_n(counts, n_buckets + 1, 0U);
  count_into(idx, 0, m, 0, n_buckets, counts, spare_.data());
  // As medians(): the bucket holding `rank`, and for an even count whose upper middle is that
  // bucket's first, the last non-empty bucket below (there is one: rank >= 1 then).
  std::size_t before = 0;
  const std::uint32_t b = find_rank(counts, rank, before);
  Want<T> w;
  w.bucket = static_cast<std::uint16_t>(b);
  w.cand = cand.data();
  if (even && rank == before) {
    std::uint32_t prev = b - 1;
    while (counts[prev] == 0) --prev;
    w.below = static_cast<std::uint16_t>(prev);
  }
  collect_one(v, idx, 0, m, w);
  return finish(cand.data(), w.m, rank - before, even, w.low, lower, upper);
}

template <class T>
bool ColumnMedians::window_median(const T* x, std::size_t n_rows, const SegmentRange& range,
                                  double& out, T& lower, T& upper) {
  const std::size_t count = range.count;
  if (count < kWindowMinCount) return false;
  // The window's grid, coarser than the one medians() counts on: the sample only places the
  // window, and the pass below counts exactly on whatever grid, so its buckets need only be
  // narrow next to the window. Few counters keep the sample's counting cheap.
  const auto nb = static_cast<std::uint32_t>(
      std::clamp<std::size_t>(count / kWindowRowsPerBucket, 1, kMaxBuckets));
  const T lo = static_cast<T>(range.min);
  T scale;
  T limit;
  if (!make_grid(lo, static_cast<T>(range.max), nb, scale, limit)) return false;
  std::vector<T>& window = window_buffer<T>();
  reserve_window<T>(n_rows);
  // find_rank reads up to 15 counters past the last one.
  if (counts_.size() < std::size_t{nb} + 17) counts_.resize(std::size_t{nb} + 17);
  if (spare_.size() < 3 * (std::size_t{nb} + 1)) spare_.resize(3 * (std::size_t{nb} + 1));
  std::uint16_t* idx = whole_idx_.data();
  std::uint32_t* counts = counts_.data();

  // The sample: every kSampleStride-th row, counted on the window's grid.
  std::size_t s = 0;
  for (std::size_t i = 0; i < n_rows; i += kSampleStride) window[s++] = x[i];
  bucket_index(window.data(), 0, s, static_cast<double>(lo), static_cast<double>(scale),
               static_cast<double>(limit), nb, idx);
  std::fill_n(counts, nb + 1, 0U);
  count_into(idx, 0, s, 0, nb, counts, spare_.data());
  const std::size_t sampled = s - counts[nb];  // the finite ones
  if (sampled == 0) return false;

  // The middle ranks' expected places in the sample, widened by kWindowSigmas of their spread;
  // the window is the buckets holding those places, all of the grid's below (above) when the
  // place falls off its first (last) sample.
  const std::size_t half = count / 2;
  const std::size_t lower_rank = count % 2 == 0 ? half - 1 : half;
  const double ratio = static_cast<double>(sampled) / static_cast<double>(count);
  const double margin = kWindowSigmas * 0.5 * std::sqrt(static_cast<double>(sampled)) + 1.0;
  const double place_low = static_cast<double>(lower_rank) * ratio - margin;
  const double place_high = static_cast<double>(half) * ratio + margin;
  std::size_t unused = 0;
  const std::uint32_t first =
      place_low > 0.0 ? find_rank(counts, static_cast<std::size_t>(place_low), unused) : 0;
  const std::uint32_t end =
      place_high < static_cast<double>(sampled - 1)
          ? find_rank(counts, static_cast<std::size_t>(place_high), unused) + 1
          : nb;
  // The window's bounds, compared with t = (x - lo)·scale as bucket_of computes it; the last
  // bucket takes everything up to the limit, as bucket_of's clamp does.
  T t_lo = lo;
  T t_scale = scale;
  T t_min = T(0);
  T t_low = static_cast<T>(first);
  T t_high = end == nb ? limit : static_cast<T>(end);
  std::size_t in_sample = 0;
  for (std::uint32_t j = first; j < end; ++j) in_sample += counts[j];
  if (2 * in_sample > sampled) {
    // The buckets put most samples in the window: ties, or a heavy tail squeezing the bulk
    // into a few buckets. The window is then the values between the sample's order
    // statistics at those places (t = x): costlier to find, but as narrow whatever the
    // distribution. The finite ones of the sample first.
    std::size_t f = 0;
    for (std::size_t i = 0; i < s; ++i) {
      window[f] = window[i];
      f += idx[i] != nb ? 1 : 0;
    }
    T* sample = window.data();
    const std::size_t a = place_low > 0.0 ? static_cast<std::size_t>(place_low) : 0;
    const std::size_t b = std::max(
        a, place_high < static_cast<double>(f - 1) ? static_cast<std::size_t>(place_high) : f - 1);
    std::nth_element(sample, sample + a, sample + f);
    t_low = a > 0 ? sample[a] : static_cast<T>(range.min);
    std::nth_element(sample + a, sample + b, sample + f);
    // Up to sample[b] included.
    t_high = std::nextafter(sample[b], std::numeric_limits<T>::infinity());
    t_lo = T(0);
    t_scale = T(1);
    t_min = static_cast<T>(range.min);
  }

  // One pass over the column: how many finite samples lie below the window, and the window's
  // samples.
  std::size_t below = 0;
  std::size_t m = 0;
  window_pass(x, n_rows, t_lo, t_scale, t_min, t_low, t_high, window.data(), below, m);
  if (below > lower_rank || below + m <= half) return false;  // a middle rank outside

  // Both middle ranks are among the window's samples, at half - below and the one before.
  out = select_among(window.data(), m, half - below, count % 2 == 0, lower, upper);
  return true;
}

/// Half-width of guessed_median's inner window, in standard deviations of the place of the
/// rank it seeks. 2, not 3: a miss (about one column in 20 on evenly spread samples) costs a
/// bucket selection among the outer window's samples, but every hit ranks a third fewer
/// candidates (features_bench: 6 % less time at 128, 500 and 2,048 rows a wafer).
constexpr double kInnerSigmas = 2.0;

template <class T, class Runs>
bool ColumnMedians::guessed_median(const T* x, std::size_t n_rows, const Runs& runs,
                                   const SegmentRange& range, double low, double high, double& out,
                                   T& lower, T& upper) {
  // Within the finite samples' range ([min, max], so that -Inf stays out of the window and
  // +Inf above it), in T: compared with the samples themselves (t = x).
  const T t_min = static_cast<T>(range.min);
  const T t_max = static_cast<T>(range.max);
  const T t_low = low <= range.min ? t_min : static_cast<T>(low);
  const T t_high = high > range.max ? std::nextafter(t_max, std::numeric_limits<T>::infinity())
                                    : static_cast<T>(high);
  if (!(t_low < t_high)) return false;
  std::vector<T>& window = window_buffer<T>();
  std::vector<T>& cand = cand_buffer<T>();
  reserve_window<T>(n_rows);
  // The segment's runs one after the other into the window (each pass may write a register
  // past what it keeps, within its own run's length: within n_rows in all).
  std::size_t below = 0;
  std::size_t m = 0;
  runs([&](std::size_t begin, std::size_t end) {
    std::size_t b = 0;
    std::size_t k = 0;
    window_pass(x + begin, end - begin, T(0), T(1), t_min, t_low, t_high, window.data() + m, b, k);
    below += b;
    m += k;
  });
  const std::size_t count = range.count;
  const std::size_t half = count / 2;
  const std::size_t lower_rank = count % 2 == 0 ? half - 1 : half;
  if (below > lower_rank || below + m <= half) return false;  // a middle rank outside
  // Both middle ranks are in the window, at r and r - 1 (even) among its m samples.
  const bool even = count % 2 == 0;
  const std::size_t r = half - below;
  const T none = -std::numeric_limits<T>::infinity();
  if (m <= kRankSelectMax) {
    out = finish(window.data(), m, r, even, none, lower, upper);
    return true;
  }
  // More than rank_select takes: a narrower window inside this one, where rank r would lie
  // were the m samples spread evenly over [t_low, t_high) (near the median, where a guess
  // puts them, a density varies little), widened by kInnerSigmas standard deviations of that
  // rank's place and a sample. Where it misses a middle rank or holds too many, the bucket
  // selection among the m samples decides.
  const double md = static_cast<double>(m);
  const double p = (static_cast<double>(r) + 0.5) / md;
  const double margin = (kInnerSigmas * std::sqrt(md * p * (1.0 - p)) + 1.0) / md;
  const double width = static_cast<double>(t_high) - static_cast<double>(t_low);
  const double a = p - margin - 0.5 / md;
  const double b = p + margin + 0.5 / md;
  const T s_low = a <= 0.0 ? t_low : static_cast<T>(static_cast<double>(t_low) + width * a);
  const T s_high = b >= 1.0 ? t_high : static_cast<T>(static_cast<double>(t_low) + width * b);
  if (s_low < s_high && std::isfinite(width)) {
    std::size_t below2 = 0;
    std::size_t m2 = 0;
    window_pass(window.data(), m, T(0), T(1), t_low, s_low, s_high, cand.data(), below2, m2);
    if (m2 <= kRankSelectMax && below2 <= (even ? r - 1 : r) && below2 + m2 > r) {
      out = finish(cand.data(), m2, r - below2, even, none, lower, upper);
      return true;
    }
  }
  out = select_among(window.data(), m, r, even, lower, upper);
  return true;
}

template <class T>
bool ColumnMedians::guessed_segments(const T* x, std::size_t n_rows,
                                     const std::vector<StepRun>& step_runs, std::size_t n_steps,
                                     const SegmentRange* ranges, const double* guess, double* out,
                                     bool& decided) {
  const std::size_t n_segments = 1 + n_steps;
  for (std::size_t s = 0; s < n_segments; ++s) {
    const Mode mode = grids_[s].mode;
    if (mode == Mode::wide || (mode == Mode::buckets && !(guess[2 * s] < guess[2 * s + 1])))
      return false;
  }
  for (std::size_t s = 0; s < n_segments; ++s) {
    const SegmentRange& range = ranges[s];
    const bool even = range.count % 2 == 0;
    const auto runs = [&](const auto& f) { for_each_segment_run(s, n_rows, step_runs, f); };
    switch (grids_[s].mode) {
      case Mode::empty:
      case Mode::constant:
        out[s] = median_without_selection(range);
        break;
      default: {
        T lower = T(1);
        T upper = T(1);
        if (!guessed_median(x, n_rows, runs, range, guess[2 * s], guess[2 * s + 1], out[s], lower,
                            upper))
          return false;
        // The sign of a zero result is open only when every middle value is a zero.
        if (upper == T(0) && (!even || lower == T(0)) && zeros_of_both_signs(x, runs)) {
          decided = false;
          return true;
        }
      }
    }
  }
  decided = true;
  return true;
}

template <class T>
bool ColumnMedians::medians(const T* x, std::size_t n_rows, const std::vector<StepRun>& step_runs,
                            std::size_t n_steps, const SegmentRange* ranges, double* out,
                            const double* guess) {
  guess_held_ = false;
  const std::size_t n_segments = 1 + n_steps;
  grids_.resize(n_segments);
  for (std::size_t s = 0; s < n_segments; ++s) {
    Grid& g = grids_[s];
    const SegmentRange& range = ranges[s];
    g = Grid{};
    if (range.count == 0) {
      g.mode = Mode::empty;
    } else if (!(range.max > range.min)) {
      g.mode = Mode::constant;
    } else {
      // The grid in T: min and max are samples of T, so exact there.
      const auto n_buckets = static_cast<std::uint32_t>(
          std::clamp<std::size_t>(range.count / kSamplesPerBucket, 1, kMaxBuckets));
      T scale;
      T limit;
      if (!make_grid(static_cast<T>(range.min), static_cast<T>(range.max), n_buckets, scale,
                     limit)) {
        g.mode = Mode::wide;
      } else {
        g.mode = Mode::buckets;
        g.n_buckets = n_buckets;
        g.lo = range.min;
        g.scale = static_cast<double>(scale);
        g.limit = static_cast<double>(limit);
      }
    }
  }
  // Every segment around the caller's guesses, each counting only the samples near its
  // median; if one misses, the full count below decides them all.
  if (guess != nullptr) {
    bool decided = true;
    if (guessed_segments(x, n_rows, step_runs, n_steps, ranges, guess, out, decided)) {
      guess_held_ = true;
      return decided;
    }
  }
  // Without steps, a long column mostly needs to count only the samples near its median, in a
  // window its own sample places.
  if (n_steps == 0 && grids_[0].mode == Mode::buckets) {
    T lower = T(1);
    T upper = T(1);
    if (window_median(x, n_rows, ranges[0], out[0], lower, upper)) {
      const bool even = ranges[0].count % 2 == 0;
      const auto all_rows = [n_rows](const auto& f) { f(std::size_t{0}, n_rows); };
      return !(upper == T(0) && (!even || lower == T(0)) && zeros_of_both_signs(x, all_rows));
    }
  }
  // A step whose samples spread over enough of the wafer's grid is counted there: its samples
  // lie in the buckets [first, first + span) of the wafer's min and max (bucket_of is
  // monotonic), counted once into the step's own counters, which then add up to the wafer's.
  Grid& whole = grids_[0];
  const bool whole_buckets = whole.mode == Mode::buckets;
  if (whole_buckets) {
    const T lo = static_cast<T>(whole.lo);
    const T scale = static_cast<T>(whole.scale);
    const T limit = static_cast<T>(whole.limit);
    const auto nb = static_cast<std::int32_t>(whole.n_buckets);
    for (std::size_t k = 0; k < n_steps; ++k) {
      Grid& g = grids_[1 + k];
      if (g.mode != Mode::buckets) continue;
      const std::uint32_t first =
          bucket_of(static_cast<T>(ranges[1 + k].min), lo, scale, limit, nb);
      const std::uint32_t last = bucket_of(static_cast<T>(ranges[1 + k].max), lo, scale, limit, nb);
      const std::uint32_t span = last - first + 1;
      // Also span <= count: the steps' parts of the wafer's grid hold at most one counter a
      // sample, all together at most as many as the column has rows.
      const std::size_t count = ranges[1 + k].count;
      if (count <= kSharedDensity * std::size_t{span} && span <= count) {
        g.shared = true;
        g.first = first;
        g.n_buckets = span;
      }
    }
  }
  std::size_t n_counts = 0;
  for (Grid& g : grids_) {
    g.base = n_counts;
    n_counts += g.n_buckets + 1;
  }
  // find_rank reads up to 15 counters past a segment's: after the last one, padding.
  if (counts_.size() < n_counts + 16) counts_.resize(n_counts + 16);
  std::fill_n(counts_.begin(), n_counts, 0U);
  if (whole_idx_.size() < n_rows) whole_idx_.resize(n_rows);
  if (n_steps > 0 && step_idx_.size() < n_rows) step_idx_.resize(n_rows);
  std::vector<T>& cand = cand_buffer<T>();
  // Each segment's candidates are followed by kCollectSpill values of room.
  const std::size_t cand_size = n_rows + n_segments * kCollectSpill;
  if (cand.size() < cand_size) cand.resize(cand_size);

  // Pass 1: every sample's bucket in the wafer's grid, counted in its step's part of it (or
  // in the wafer's and in its step's own grid).
  std::uint16_t* widx = whole_idx_.data();
  std::uint16_t* sidx = step_idx_.data();
  std::uint32_t* counts = counts_.data();
  std::uint32_t* whole_counts = counts + whole.base;
  if (whole_buckets)
    bucket_index(x, 0, n_rows, whole.lo, whole.scale, whole.limit, whole.n_buckets, widx);
  std::size_t widest = whole.n_buckets;
  for (const Grid& g : grids_) widest = std::max<std::size_t>(widest, g.n_buckets);
  if (spare_.size() < 3 * (widest + 1)) spare_.resize(3 * (widest + 1));
  std::uint32_t* spare = spare_.data();
  if (n_steps == 0) {
    if (whole_buckets) count_into(widx, 0, n_rows, 0, whole.n_buckets, whole_counts, spare);
  } else {
    for (const StepRun& run : step_runs) {
      const Grid& g = grids_[1 + run.step];
      if (g.shared) {
        count_into<true>(widx, run.begin, run.end, g.first, g.n_buckets, counts + g.base, spare);
        continue;
      }
      if (whole_buckets)
        count_into(widx, run.begin, run.end, 0, whole.n_buckets, whole_counts, spare);
      if (g.mode == Mode::buckets) {
        bucket_index(x, run.begin, run.end, g.lo, g.scale, g.limit, g.n_buckets, sidx);
        count_into(sidx, run.begin, run.end, 0, g.n_buckets, counts + g.base, spare);
      }
    }
    for (std::size_t k = 0; k < n_steps; ++k) {
      const Grid& g = grids_[1 + k];
      if (!g.shared) continue;
      add_counts(counts + g.base, g.n_buckets, whole_counts + g.first);
    }
  }

  // Per segment selecting in buckets: the bucket holding the middle rank (its place r there)
  // and, for an even count whose upper middle is that bucket's first, the last non-empty
  // bucket below, whose largest sample is the lower middle.
  targets_.resize(n_segments);
  std::size_t n_candidates = 0;
  for (std::size_t s = 0; s < n_segments; ++s) {
    const Grid& g = grids_[s];
    Target& t = targets_[s];
    t = Target{};
    if (g.mode != Mode::buckets) continue;
    const std::uint32_t* c = counts + g.base;
    const std::size_t n = ranges[s].count;
    const std::size_t half = n / 2;
    std::size_t before = 0;
    const std::uint32_t b = find_rank(c, half, before);
    t.rank = half - before;
    t.bucket = static_cast<std::uint16_t>(g.first + b);
    if (n % 2 == 0 && t.rank == 0) {
      std::uint32_t below = b - 1;
      while (c[below] == 0) --below;
      t.below = static_cast<std::uint16_t>(g.first + below);
    }
    t.offset = n_candidates;
    n_candidates += c[b] + kCollectSpill;  // room for collect_one's and collect_two's stores
  }

  const auto want = [&](std::size_t s) {
    const Target& t = targets_[s];
    Want<T> w;
    w.bucket = t.bucket;
    w.below = t.below;
    w.cand = cand.data() + t.offset;
    w.m = t.m;
    w.low = static_cast<T>(t.low);
    return w;
  };
  const auto keep = [&](std::size_t s, const Want<T>& w) {
    targets_[s].m = w.m;
    targets_[s].low = static_cast<double>(w.low);
  };
  // Pass 2: the wanted buckets' samples. In one scan of the rows for the wafer and every step
  // counted on its grid when all the candidates fit the buffer together (they always do
  // unless the middle buckets hold many ties); otherwise segment by segment below.
  const bool together = whole_buckets && n_candidates <= cand.size();
  if (together) {
    Want<T> w0 = want(0);
    if (n_steps == 0) {
      collect_one(x, widx, 0, n_rows, w0);
    } else {
      for (const StepRun& run : step_runs) {
        const std::size_t s = 1 + run.step;
        const Grid& g = grids_[s];
        Want<T> ws = want(s);
        if (g.shared) {
          collect_two(x, widx, run.begin, run.end, w0, ws);
        } else {
          collect_one(x, widx, run.begin, run.end, w0);
          if (g.mode == Mode::buckets) collect_one(x, sidx, run.begin, run.end, ws);
        }
        keep(s, ws);
      }
    }
    keep(0, w0);
  }

  // Per segment: its median.
  for (std::size_t s = 0; s < n_segments; ++s) {
    const Grid& g = grids_[s];
    const SegmentRange& range = ranges[s];
    const std::size_t n = range.count;
    const bool even = n % 2 == 0;
    const auto runs = [&](const auto& f) { for_each_segment_run(s, n_rows, step_runs, f); };
    T lower = T(1);
    T upper = T(1);
    switch (g.mode) {
      case Mode::empty:
      case Mode::constant:
        out[s] = median_without_selection(range);
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
        Target& t = targets_[s];
        if (!together) {
          t.offset = 0;
          Want<T> w = want(s);
          const std::uint16_t* idx = s == 0 || g.shared ? widx : sidx;
          runs([&](std::size_t begin, std::size_t end) { collect_one(x, idx, begin, end, w); });
          keep(s, w);
        }
        out[s] =
            finish(cand.data() + t.offset, t.m, t.rank, even, static_cast<T>(t.low), lower, upper);
        break;
      }
    }
    // The sign of a zero result is open only when every middle value is a zero.
    if (upper == T(0) && (!even || lower == T(0)) && zeros_of_both_signs(x, runs)) return false;
  }
  return true;
}

template bool ColumnMedians::medians<float>(const float*, std::size_t, const std::vector<StepRun>&,
                                            std::size_t, const SegmentRange*, double*,
                                            const double*);
template bool ColumnMedians::medians<double>(const double*, std::size_t,
                                             const std::vector<StepRun>&, std::size_t,
                                             const SegmentRange*, double*, const double*);

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
