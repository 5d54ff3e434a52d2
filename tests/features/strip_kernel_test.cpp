/// @file strip_kernel_test.cpp
/// @brief The CPU backend's SIMD row kernel (private: src/features/strip_kernel.hpp) leaves
/// exactly the sums add_sample() leaves, for both widths, any column count (partial strips),
/// and a segment fed in several runs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
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
  for (const std::size_t n_columns : {1, 2, 3, 4, 5, 7, 8, 13}) {
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

TEST(StripKernel, GenericWidthEqualsAddSample) {
  expect_kernel_matches_add_sample<double>(KernelIsa::generic);
  expect_kernel_matches_add_sample<float>(KernelIsa::generic);
}

TEST(StripKernel, BestWidthEqualsAddSample) {
  if (best_kernel_isa() == KernelIsa::generic) GTEST_SKIP() << "this CPU has no AVX2";
  expect_kernel_matches_add_sample<double>(best_kernel_isa());
  expect_kernel_matches_add_sample<float>(best_kernel_isa());
}

}  // namespace
}  // namespace wafermill::features::detail
