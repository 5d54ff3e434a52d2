/// @file strip_kernel.hpp
/// @brief The CPU backend's hot loop: add_sample() of segment.hpp applied to W adjacent sensor
/// columns at once (a "strip") over a run of rows, with the W segments' sums held in SIMD
/// registers for the whole run instead of being loaded and stored for every row.
///
/// Private to the CPU backend. Written with GCC/Clang vector extensions, not intrinsics: the
/// same source gives 2-lane SSE2 code and, in a target("avx2") clone, 4-lane AVX2 code.
///
/// Why the result is add_sample()'s to the bit. Per lane, with x the sample:
///  - finite x: K = x when count is 0, else the stored K; d = (x - K)·1; then the same sums in
///    the same order (d², d²·d, d²·d², p·1, p²·1, p·d) and min = x < min ? x : min — exactly
///    add_sample's operations. (x - x = +0 for the first sample, as in add_sample.)
///  - non-finite x: it is replaced by 0 with weight 0. K stays as it was (or is the initial
///    +0 while count is 0, which add_sample leaves untouched too), d = (0 - K)·0 = ±0, and each
///    sum gains ±0: y + ±0 = y for every y other than -0, and no sum is ever -0 (sums start at
///    +0 and round-to-nearest gives -0 only for (-0) + (-0)). Min and max are left alone.
///  - invalid is not accumulated: it is positions - count, exact in double below 2^53.
/// Runs of finite samples take a fast loop with these masks folded away (accumulate_strip says
/// why its bits are the same). Both files are compiled with -ffp-contract=off so no multiply-add
/// is fused, here or in add_sample. tests/features compares with add_sample() using memcmp, for
/// both widths.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#include "column_sums.hpp"

namespace wafermill::features::detail {

/// @brief SIMD types of W lanes: doubles, the floats they are loaded from, lane masks.
template <int W>
struct Lanes;
template <>
struct Lanes<2> {
  typedef double Double __attribute__((vector_size(16)));
  typedef float Float __attribute__((vector_size(8)));
};
template <>
struct Lanes<4> {
  typedef double Double __attribute__((vector_size(32)));
  typedef float Float __attribute__((vector_size(16)));
};
template <>
struct Lanes<8> {
  typedef double Double __attribute__((vector_size(64)));
  typedef float Float __attribute__((vector_size(32)));
};

/// @brief W samples of type T from src (unaligned) as doubles, built lane by lane: GCC turns
/// this into one load-and-convert, where __builtin_convertvector of a loaded float vector
/// becomes a shuffle and two conversions. Returned through a reference because returning a
/// 32-byte vector by value changes the ABI without AVX (-Wpsabi).
template <class T, int W, std::size_t... I>
[[gnu::always_inline]] inline void load_lanes(const T* src, typename Lanes<W>::Double& out,
                                              std::index_sequence<I...> /*lanes*/) {
  out = typename Lanes<W>::Double{static_cast<double>(src[I])...};
}

/// @brief Every lane = v.
template <int W, std::size_t... I>
[[gnu::always_inline]] inline void splat(double v, typename Lanes<W>::Double& out,
                                         std::index_sequence<I...> /*lanes*/) {
  out = typename Lanes<W>::Double{(static_cast<void>(I), v)...};
}

/// @brief Rows of a strip the kernel runs through its fast loop before checking that they
/// were all finite. A run that was not is redone, so runs are short enough that sparse NaNs
/// (0.1 % of samples: 6 % of 16 × 4) spoil few, long enough that the check and the saved sums
/// weigh little beside the run. Measured: 16 a few % faster than 32, 64 much slower.
inline constexpr std::size_t kFiniteRun = 16;

/// @brief Runs with a non-finite sample, net of clean ones, after which the kernel stops
/// guessing that runs are finite and takes the general loop, four runs at a time, until clean
/// ones bring the count back down. With many NaNs (1 % of samples already spoil half the runs
/// of 16 × 4) most guesses would be redone, and a guess and its redo take about 1.5 times the
/// general loop's time (the fast loop about half). Measured on features_bench: at 1, 5 and 30 %
/// NaN within 2 % of the general loop alone, where guessing every run (and redoing spoiled ones
/// row by row) was 18 % to 3 times slower.
inline constexpr int kSpoiledRuns = 2;

/// @brief Positions up to which the fast loop may add a run's Σp and Σp² at once: a segment's
/// sp and spp then stay below 2^34/2 and 2^51/3, so every partial sum, in any order, is an
/// exact integer in double.
inline constexpr double kExactPositions = 131072.0;  // 2^17

/// @brief add_sample() over rows x[r·stride + j], r in [0, n_rows), into the segments of
/// columns c0 + j, j in [0, W), of group g; the first row is at position p0 of its segments.
/// g's arrays must have at least c0 + W entries (ColumnSums pads them). Written to need few
/// constant registers: the 11 sums and the temporaries just fit the 16 SIMD registers.
///
/// Rows go in runs of kFiniteRun. Once every lane has its shift K (count > 0), a run goes
/// through a fast loop that is the general one for finite samples with its masks folded away:
/// w = 1, so (x - K)·1 = x - K, p·1 = p and p²·1 = p² bit for bit; K is the stored shift;
/// min = x < min ? x : min needs no finiteness mask (vminpd/vmaxpd compute exactly
/// `a < b ? a : b` and `a > b ? a : b`, keeping b on ties such as -0 against +0); count gains
/// the run's length at once, and below kExactPositions so do sp and spp (integers: the same
/// double as adding them one by one). The fast loop assumes every sample of the run finite
/// and checks afterwards: a NaN or ±Inf sample x gives d = x - K = NaN or ±Inf, d² = NaN or
/// +Inf, and s2 stays non-finite to the run's end. Then the sums go back to where they were
/// and the general loop redoes the run. Where such runs come often (kSpoiledRuns), the
/// general loop takes the runs directly. (A double s2 may also overflow on finite data: the
/// runs after it then go through the general loop, which gives the same bits, only slower.)
template <class T, int W>
[[gnu::always_inline]] inline void accumulate_strip(const T* x, std::size_t stride,
                                                    std::size_t n_rows, double p0,
                                                    const ColumnGroup& g, std::size_t c0) {
  using D = typename Lanes<W>::Double;
  constexpr auto lanes = std::make_index_sequence<W>{};
  D count, shift, s1, s2, s3, s4, sp, spp, spd, mn, mx;
  const auto load = [c0](const double* a, D& v) { std::memcpy(&v, a + c0, sizeof v); };
  load(g.count, count);
  load(g.shift, shift);
  load(g.s1, s1);
  load(g.s2, s2);
  load(g.s3, s3);
  load(g.s4, s4);
  load(g.sp, sp);
  load(g.spp, spp);
  load(g.spd, spd);
  load(g.min, mn);
  load(g.max, mx);
  const D zero{};
  double p = p0;
  // b = m ? a : b lane by lane, m's lanes all ones or all zeros: the same bits, no branch.
  // (Results through a reference, as in load_lanes: -Wpsabi.)
  const auto select = [](const auto& m, const D& a, D& b) {
    std::remove_cv_t<std::remove_reference_t<decltype(m)>> ia, ib;
    std::memcpy(&ia, &a, sizeof a);
    std::memcpy(&ib, &b, sizeof b);
    const auto bits = (m & ia) | (~m & ib);
    std::memcpy(&b, &bits, sizeof b);
  };
  // One row of add_sample() for any samples.
  const auto general = [&](const T* row) {
    D raw, pv, ppv, one;
    load_lanes<T, W>(row, raw, lanes);
    splat<W>(p, pv, lanes);
    splat<W>(p * p, ppv, lanes);
    splat<W>(1.0, one, lanes);
    // x - x is 0 for finite x and NaN for NaN and ±Inf: a finiteness test with no constant.
    const auto finite = (raw - raw) == zero;
    const D v = finite ? raw : zero;
    const D w = finite ? one : zero;
    const D k = count == zero ? v : shift;
    const D d = (v - k) * w;
    const D d2 = d * d;
    shift = k;
    count += w;
    s1 += d;
    s2 += d2;
    s3 += d2 * d;
    s4 += d2 * d2;
    sp += pv * w;  // p >= 0: p·0 = +0
    spp += ppv * w;
    spd += pv * d;
    // add_sample's x < min ? x : min, for finite x only. Written as bit masks: with SSE2 alone
    // GCC turned `?:` here into a branch per lane, mispredicted where NaNs are common.
    select(finite & (raw < mn), raw, mn);
    select(finite & (raw > mx), raw, mx);
    p += 1.0;
  };
  // Rows [r, r1) of finite samples, every lane with its K: the general row with w = 1, and
  // count left to the caller. With per_row_p, also sp and spp row by row; else the caller
  // adds them once for the run.
  const auto fast_rows = [&](std::size_t r, std::size_t r1, auto per_row_p) {
    D pv, one;
    splat<W>(p, pv, lanes);
    splat<W>(1.0, one, lanes);
    for (; r < r1; ++r) {
      D raw;
      load_lanes<T, W>(x + r * stride, raw, lanes);
      const D d = raw - shift;
      const D d2 = d * d;
      s1 += d;
      s2 += d2;
      s3 += d2 * d;
      s4 += d2 * d2;
      if constexpr (decltype(per_row_p)::value) {
        sp += pv;
        spp += pv * pv;
      }
      spd += pv * d;
      mn = raw < mn ? raw : mn;
      mx = raw > mx ? raw : mx;
      pv += one;
    }
    p = pv[0];
  };
  const auto all_lanes = [](const auto& mask) {
    bool all = true;
    for (int j = 0; j < W; ++j) all &= mask[j] != 0;
    return all;
  };
  bool started = all_lanes(count != zero);
  int spoiled = 0;  // runs lately with a non-finite sample: +1 for each, -1 for a clean one
  for (std::size_t r0 = 0, r1 = 0; r0 < n_rows; r0 = r1) {
    r1 = std::min(n_rows, r0 + kFiniteRun);
    std::size_t r = r0;
    if (!started) {
      general(x + r++ * stride);
      started = all_lanes(count != zero);
      if (!started) {
        for (; r < r1; ++r) general(x + r * stride);
        continue;
      }
    }
    if (spoiled >= kSpoiledRuns) {
      // Non-finite samples are common here: the general loop over four runs. They were all
      // finite if every lane's count grew by their length (counts are exact integers).
      r1 = std::min(n_rows, r0 + 4 * kFiniteRun);
      const D before = count;
      D n;
      splat<W>(static_cast<double>(r1 - r), n, lanes);
      for (; r < r1; ++r) general(x + r * stride);
      spoiled =
          all_lanes(count - before == n) ? spoiled - 1 : std::min(spoiled + 1, 2 * kSpoiledRuns);
      continue;
    }
    // Every lane has its K: the run as if all its samples were finite, then the check.
    const std::size_t n = r1 - r;
    const double p_run = p;
    const D saved[] = {s1, s2, s3, s4, sp, spp, spd, mn, mx};
    const bool exact_p = p + static_cast<double>(n) <= kExactPositions;
    if (exact_p) {
      fast_rows(r, r1, std::false_type{});
    } else {
      fast_rows(r, r1, std::true_type{});
    }
    if (all_lanes((s2 - s2) == zero)) {
      D cv;
      splat<W>(static_cast<double>(n), cv, lanes);
      count += cv;
      if (exact_p) {
        // Σp and Σp² of the run, p = a .. a + n - 1: every product and sum here is an integer
        // below 2^53, hence exact, and so is every partial sum of every lane: added once,
        // they give the bits of adding p and p² row by row.
        const double a = p_run, m = static_cast<double>(n);
        const double t1 = m * (m - 1.0) / 2.0, t2 = (m - 1.0) * m * (2.0 * m - 1.0) / 6.0;
        D rp, rpp;
        splat<W>(m * a + t1, rp, lanes);
        splat<W>(m * a * a + 2.0 * a * t1 + t2, rpp, lanes);
        sp += rp;
        spp += rpp;
      }
      if (spoiled > 0) --spoiled;
      continue;
    }
    // A sample was not finite: the sums as they were, and the run again, generally.
    s1 = saved[0];
    s2 = saved[1];
    s3 = saved[2];
    s4 = saved[3];
    sp = saved[4];
    spp = saved[5];
    spd = saved[6];
    mn = saved[7];
    mx = saved[8];
    p = p_run;
    for (; r < r1; ++r) general(x + r * stride);
    ++spoiled;
  }
  const auto store = [c0](double* a, const D& v) { std::memcpy(a + c0, &v, sizeof v); };
  store(g.count, count);
  store(g.shift, shift);
  store(g.s1, s1);
  store(g.s2, s2);
  store(g.s3, s3);
  store(g.s4, s4);
  store(g.sp, sp);
  store(g.spp, spp);
  store(g.spd, spd);
  store(g.min, mn);
  store(g.max, mx);
}

/// @brief Rows [0, n_rows) of a row-major [n_rows, n_columns] block into every column's
/// segment of group g, the first row at position p0. Rows go in blocks of about 128 KiB so a
/// block stays in cache while its strips of W columns pass over it; the last partial strip
/// goes through a copy padded with zeros (whose lanes' sums are never read). Splitting a
/// segment's samples into consecutive runs changes nothing: each run continues the sums.
template <class T, int W>
[[gnu::always_inline]] inline void accumulate_rows_w(const T* rows, std::size_t n_columns,
                                                     std::size_t n_rows, double p0,
                                                     const ColumnGroup& g, std::vector<T>& pad) {
  static_assert(W <= ColumnSums::kMaxLanes, "a partial strip stores W lanes of each array");
  if (n_columns == 0) return;
  const std::size_t full = n_columns - n_columns % W;
  const std::size_t block = std::max<std::size_t>(16, (128 * 1024) / (n_columns * sizeof(T)));
  for (std::size_t r0 = 0; r0 < n_rows; r0 += block) {
    const std::size_t n = std::min(block, n_rows - r0);
    const T* x = rows + r0 * n_columns;
    const double p = p0 + static_cast<double>(r0);
    for (std::size_t c0 = 0; c0 < full; c0 += W) {
      accumulate_strip<T, W>(x + c0, n_columns, n, p, g, c0);
    }
    if (full == n_columns) continue;
    pad.assign(n * W, T(0));
    for (std::size_t r = 0; r < n; ++r) {
      for (std::size_t c = full; c < n_columns; ++c) pad[r * W + c - full] = x[r * n_columns + c];
    }
    accumulate_strip<T, W>(pad.data(), W, n, p, g, full);
  }
}

/// @brief The instruction set the row kernel runs with.
enum class KernelIsa { generic, avx2, avx512 };

/// @brief Whether this process may run the kernel with `isa` (the CPU has it and
/// WAFERMILL_NO_AVX2 / WAFERMILL_NO_AVX512 do not rule it out: wafermill/cpu.hpp).
bool kernel_isa_available(KernelIsa isa);

/// @brief The widest kernel this process runs: avx512, avx2 or generic.
KernelIsa best_kernel_isa();

/// @brief accumulate_rows_w with 2 lanes (generic: SSE2 on x86-64), 4 lanes (AVX2) or 8 lanes
/// (AVX-512F), the last two only where kernel_isa_available(). All give the same bits.
void accumulate_rows(KernelIsa isa, const float* rows, std::size_t n_columns, std::size_t n_rows,
                     double p0, const ColumnGroup& g, std::vector<float>& pad);
/// @brief The same for float64 samples.
void accumulate_rows(KernelIsa isa, const double* rows, std::size_t n_columns, std::size_t n_rows,
                     double p0, const ColumnGroup& g, std::vector<double>& pad);

}  // namespace wafermill::features::detail
