/// @file strip_kernel_test.cpp
/// @brief The CPU backend's SIMD row kernel (private: src/features/strip_kernel.hpp) leaves
/// exactly the sums add_sample() leaves, for both widths, any column count (partial strips),
/// and a segment fed in several runs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "column_sums.hpp"
#include "strip_kernel.hpp"
#include "wafermill/features/segment.hpp"

namespace wafermill::features::detail {
namespace {

template <class T>
std::vector<T> random_rows(std::size_t n_rows, std::size_t n_columns, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(5.0, 2.0);
  std::uniform_int_distribution<int> kind(0, 19);
  std::vector<T> rows(n_rows * n_columns);
  for (T& x : rows) {
    switch (kind(rng)) {
      case 0:
        x = static_cast<T>(NAN);
        break;
      case 1:
        x = static_cast<T>(HUGE_VAL);
        break;
      case 2:
        x = static_cast<T>(-HUGE_VAL);
        break;
      case 3:
        x = static_cast<T>(-0.0);
        break;
      case 4:
        x = static_cast<T>(0.0);
        break;
      default:
        x = static_cast<T>(noise(rng));
    }
  }
  // A column that starts with invalid samples, so its shift is set late.
  if (n_columns > 1) {
    for (std::size_t r = 0; r < std::min<std::size_t>(n_rows, 4); ++r) {
      rows[r * n_columns + 1] = static_cast<T>(NAN);
    }
  }
  return rows;
}

template <class T>
void expect_kernel_matches_add_sample(KernelIsa isa) {
  const std::size_t n_rows = 300;
  for (const std::size_t n_columns : {1, 2, 3, 4, 5, 7, 8, 13, 16, 17}) {
    const std::vector<T> rows = random_rows<T>(n_rows, n_columns, 11 + n_columns);
    ColumnSums sums;
    sums.reset(1, n_columns);
    std::vector<T> pad;
    // Three runs, as the step path feeds a segment: positions continue across them.
    const std::size_t cuts[] = {0, 1, 120, n_rows};
    for (int i = 0; i < 3; ++i) {
      accumulate_rows(isa, rows.data() + cuts[i] * n_columns, n_columns, cuts[i + 1] - cuts[i],
                      static_cast<double>(cuts[i]), sums.group(0), pad);
    }
    sums.positions(0) = static_cast<double>(n_rows);
    for (std::size_t c = 0; c < n_columns; ++c) {
      SegmentSums want;
      for (std::size_t r = 0; r < n_rows; ++r) {
        add_sample(want, static_cast<double>(rows[r * n_columns + c]));
      }
      const SegmentSums got = sums.segment(0, c);
      EXPECT_EQ(std::memcmp(&got, &want, sizeof got), 0)
          << n_columns << " columns, column " << c << ": s1 " << got.s1 << " vs " << want.s1
          << ", min " << got.min << " vs " << want.min;
    }
  }
}

// A [n_rows, n_columns] block of finite samples (normal around a level that differs per
// column, so K matters), for the fast loop; the cases below put non-finite samples and ties
// where the fast loop and its check could go wrong.
template <class T>
std::vector<T> finite_rows(std::size_t n_rows, std::size_t n_columns, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0.0, 3.0);
  std::vector<T> rows(n_rows * n_columns);
  for (std::size_t r = 0; r < n_rows; ++r) {
    for (std::size_t c = 0; c < n_columns; ++c) {
      rows[r * n_columns + c] = static_cast<T>(1000.0 * double(c) - 2000.0 + noise(rng));
    }
  }
  return rows;
}

// Feeds rows to the kernel in the runs cut at `cuts` (positions continue across runs, the
// first row at position p0) and compares every column's sums with add_sample() by memcmp.
// The reference starts with positions = invalid = p0, as if p0 non-finite samples had come
// first: the kernel's invalid is positions - count.
template <class T>
void expect_runs_match(KernelIsa isa, const std::vector<T>& rows, std::size_t n_columns, double p0,
                       std::vector<std::size_t> cuts, const std::string& what) {
  const std::size_t n_rows = rows.size() / n_columns;
  cuts.push_back(0);
  cuts.push_back(n_rows);
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  while (cuts.back() > n_rows) cuts.pop_back();
  ColumnSums sums;
  sums.reset(1, n_columns);
  std::vector<T> pad;
  for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
    accumulate_rows(isa, rows.data() + cuts[i] * n_columns, n_columns, cuts[i + 1] - cuts[i],
                    p0 + static_cast<double>(cuts[i]), sums.group(0), pad);
  }
  sums.positions(0) = p0 + static_cast<double>(n_rows);
  for (std::size_t c = 0; c < n_columns; ++c) {
    SegmentSums want;
    want.positions = p0;
    want.invalid = p0;
    for (std::size_t r = 0; r < n_rows; ++r) {
      add_sample(want, static_cast<double>(rows[r * n_columns + c]));
    }
    const SegmentSums got = sums.segment(0, c);
    EXPECT_EQ(std::memcmp(&got, &want, sizeof got), 0)
        << what << ", " << sizeof(T) * 8 << "-bit, " << n_columns << " columns, column " << c
        << ": count " << got.count << " vs " << want.count << ", s1 " << got.s1 << " vs " << want.s1
        << ", sp " << got.sp << " vs " << want.sp << ", spp " << got.spp << " vs " << want.spp
        << ", min " << got.min << " vs " << want.min << ", max " << got.max << " vs " << want.max;
  }
}

// Every case for one sample type and ISA. Row counts around kFiniteRun and column counts
// around the widths (2, 4) give partial runs and padded strips.
template <class T>
void expect_fast_path_matches_add_sample(KernelIsa isa) {
  const T nan = static_cast<T>(NAN), inf = static_cast<T>(HUGE_VAL);
  const std::size_t run = kFiniteRun;
  for (const std::size_t n_columns : {1, 2, 3, 4, 5, 7, 8, 9, 16, 19}) {
    for (const std::size_t n_rows : {std::size_t{1}, run - 1, run, run + 1, 3 * run + 5}) {
      const std::uint64_t seed = 100 * n_columns + n_rows;
      const auto at = [n_columns](std::vector<T>& v, std::size_t r, std::size_t c) -> T& {
        return v[r * n_columns + c];
      };
      expect_runs_match<T>(isa, finite_rows<T>(n_rows, n_columns, seed), n_columns, 0.0, {},
                           "all finite");
      expect_runs_match<T>(isa, finite_rows<T>(n_rows, n_columns, seed), n_columns, 0.0,
                           {1, n_rows / 2}, "all finite, three runs");
      for (const T special : {nan, inf, -inf}) {
        // In the first row: every lane, then the last lane only (its K is set late).
        std::vector<T> v = finite_rows<T>(n_rows, n_columns, seed);
        for (std::size_t c = 0; c < n_columns; ++c) at(v, 0, c) = special;
        expect_runs_match<T>(isa, v, n_columns, 0.0, {}, "first row non-finite");
        v = finite_rows<T>(n_rows, n_columns, seed);
        at(v, 0, n_columns - 1) = special;
        expect_runs_match<T>(isa, v, n_columns, 0.0, {}, "first row non-finite in one lane");
        // At the ends of runs, in one lane.
        for (const std::size_t r : {run - 1, run, 2 * run - 1, 2 * run, n_rows - 1}) {
          if (r >= n_rows) continue;
          v = finite_rows<T>(n_rows, n_columns, seed);
          at(v, r, r % n_columns) = special;
          expect_runs_match<T>(isa, v, n_columns, 0.0, {},
                               "non-finite at row " + std::to_string(r) + " in one lane");
          expect_runs_match<T>(isa, v, n_columns, 0.0, {r, r + 1},
                               "non-finite at row " + std::to_string(r) + ", cut around it");
        }
      }
      // A column all NaN, and one whose first finite sample comes after more than one run.
      std::vector<T> v = finite_rows<T>(n_rows, n_columns, seed);
      for (std::size_t r = 0; r < n_rows; ++r) at(v, r, 0) = nan;
      for (std::size_t r = 0; r < std::min(n_rows - 1, run + 3); ++r) {
        at(v, r, n_columns - 1) = nan;
      }
      expect_runs_match<T>(isa, v, n_columns, 0.0, {}, "a column all NaN, one NaN for a run");
      // Ties of -0 and +0 for min (columns of zeros and positive values) and max (zeros and
      // negative values): add_sample keeps the first zero it meets. Either zero may come
      // first; a NaN between them must not disturb the tie.
      for (const bool minus_first : {false, true}) {
        v = finite_rows<T>(n_rows, n_columns, seed);
        for (std::size_t r = 0; r < n_rows; ++r) {
          for (std::size_t c = 0; c < n_columns; ++c) {
            const T zero = ((r + c) % 2 == 0) == minus_first ? T(-0.0) : T(0.0);
            const T other = static_cast<T>(1.0 + double(r % 5));
            const T value = r % 3 == 1 ? zero : (c % 2 == 0 ? other : -other);
            at(v, r, c) = (r == run && c == 0) ? nan : value;
          }
        }
        expect_runs_match<T>(isa, v, n_columns, 0.0, {},
                             minus_first ? "-0 then +0 ties" : "+0 then -0 ties");
      }
      // Positions around and beyond kExactPositions, where sp and spp go row by row.
      for (const double p0 : {kExactPositions - 3.0, kExactPositions, 1e7, 4503599627370000.0}) {
        v = finite_rows<T>(n_rows, n_columns, seed);
        if (n_rows > run) at(v, run, 0) = nan;
        expect_runs_match<T>(isa, v, n_columns, p0, {n_rows / 2},
                             "first position " + std::to_string(p0));
      }
    }
  }
}

TEST(StripKernel, GenericFastPathEqualsAddSample) {
  expect_fast_path_matches_add_sample<double>(KernelIsa::generic);
  expect_fast_path_matches_add_sample<float>(KernelIsa::generic);
}

// The vector kernels this CPU runs (AVX2 with 4 lanes, AVX-512F with 8).
std::vector<KernelIsa> vector_isas() {
  std::vector<KernelIsa> out;
  for (const KernelIsa isa : {KernelIsa::avx2, KernelIsa::avx512})
    if (kernel_isa_available(isa)) out.push_back(isa);
  return out;
}

// Every kernel this CPU runs: the vector ones and the generic one.
std::vector<KernelIsa> every_isa() {
  std::vector<KernelIsa> out = vector_isas();
  out.push_back(KernelIsa::generic);
  return out;
}

TEST(StripKernel, VectorFastPathsEqualAddSample) {
  if (vector_isas().empty()) GTEST_SKIP() << "this CPU has no AVX2";
  for (const KernelIsa isa : vector_isas()) {
    expect_fast_path_matches_add_sample<double>(isa);
    expect_fast_path_matches_add_sample<float>(isa);
  }
}

// Many NaNs for a while (the kernel stops guessing that runs are finite), then finite rows
// (it guesses again), then a single NaN: the sums are add_sample's throughout.
template <class T>
void expect_nan_burst_matches_add_sample(KernelIsa isa) {
  for (const std::size_t n_columns : {1, 4, 5, 8, 11, 16}) {
    std::vector<T> v = finite_rows<T>(40 * kFiniteRun + 7, n_columns, 21);
    std::mt19937_64 rng(5);
    std::uniform_int_distribution<int> pick(0, 9);
    for (std::size_t i = 0; i < 12 * kFiniteRun * n_columns; ++i) {
      if (pick(rng) < 3) v[i] = static_cast<T>(NAN);
    }
    v[(30 * kFiniteRun + 3) * n_columns] = static_cast<T>(-HUGE_VAL);
    expect_runs_match<T>(isa, v, n_columns, 0.0, {}, "a burst of NaNs, then finite rows");
    expect_runs_match<T>(isa, v, n_columns, 0.0, {5 * kFiniteRun + 1, 20 * kFiniteRun},
                         "a burst of NaNs, then finite rows, in three runs");
  }
}

TEST(StripKernel, NanBurstThenFiniteEqualsAddSample) {
  for (const KernelIsa isa : every_isa()) {
    expect_nan_burst_matches_add_sample<float>(isa);
    expect_nan_burst_matches_add_sample<double>(isa);
  }
}

// Finite doubles whose squares overflow: s2 turns +Inf with no NaN or Inf sample, so every
// run after it is redone row by row; the sums are still add_sample's.
TEST(StripKernel, OverflowingDoublesEqualAddSample) {
  for (const KernelIsa isa : every_isa()) {
    for (const std::size_t n_columns : {1, 4, 6}) {
      std::vector<double> v = finite_rows<double>(5 * kFiniteRun + 3, n_columns, 9);
      for (std::size_t i = 0; i < v.size(); i += 7) v[i] = (i % 2 == 0) ? 1e300 : -1e300;
      v[n_columns * kFiniteRun] = NAN;
      expect_runs_match<double>(isa, v, n_columns, 0.0, {}, "overflowing squares");
    }
  }
}

TEST(StripKernel, GenericWidthEqualsAddSample) {
  expect_kernel_matches_add_sample<double>(KernelIsa::generic);
  expect_kernel_matches_add_sample<float>(KernelIsa::generic);
}

TEST(StripKernel, VectorWidthsEqualAddSample) {
  if (vector_isas().empty()) GTEST_SKIP() << "this CPU has no AVX2";
  for (const KernelIsa isa : vector_isas()) {
    expect_kernel_matches_add_sample<double>(isa);
    expect_kernel_matches_add_sample<float>(isa);
  }
}

}  // namespace
}  // namespace wafermill::features::detail
