/// @file segment_median_test.cpp
/// @brief The backend's median selection (private: src/features/segment_median.hpp) against
/// a full sort, on distributions that stress the bucket search: skewed, clustered, tied,
/// extreme ranges, and even counts whose middle pair straddles two buckets.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "segment_median.hpp"

namespace wafermill::features::detail {
namespace {

double sorted_median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const std::size_t h = v.size() / 2;
  return v.size() % 2 == 1 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

void expect_median(MedianSelector& selector, const std::vector<double>& v,
                   const std::string& what) {
  const double want = sorted_median(v);
  std::vector<double> a = v, b = v;
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  const double got =
      selector.median(a.data(), a.size(), v.empty() ? NAN : *lo, v.empty() ? NAN : *hi);
  const double plain = median_in_place(b.data(), b.size());
  if (std::isnan(want)) {
    EXPECT_TRUE(std::isnan(got)) << what;
    EXPECT_TRUE(std::isnan(plain)) << what;
  } else {
    EXPECT_EQ(got, want) << what << " n=" << v.size();
    EXPECT_EQ(plain, want) << what << " n=" << v.size();
  }
}

TEST(SegmentMedian, MatchesSortOnManyDistributions) {
  std::mt19937_64 rng(21);
  MedianSelector selector;
  std::normal_distribution<double> normal(0.0, 1.0);
  std::exponential_distribution<double> expo(1.0);
  std::uniform_int_distribution<int> small_int(0, 3);
  for (std::size_t n : {0, 1, 2, 3, 63, 64, 65, 100, 101, 1000, 1001, 4096}) {
    std::vector<double> v(n);
    for (auto& x : v) x = normal(rng);
    expect_median(selector, v, "normal");
    for (auto& x : v) x = std::pow(expo(rng), 6.0);  // very skewed: most in the first bucket
    expect_median(selector, v, "skewed");
    for (auto& x : v) x = small_int(rng);  // many ties
    expect_median(selector, v, "ties");
    for (std::size_t i = 0; i < n; ++i) v[i] = i < n / 2 ? -1e300 : 1e300;  // range overflows
    expect_median(selector, v, "extremes");
    for (std::size_t i = 0; i < n; ++i) v[i] = i < n / 2 ? normal(rng) : 1e6 + normal(rng);
    expect_median(selector, v, "two clusters");  // the middle pair straddles empty buckets
    for (auto& x : v) x = 7.25;
    expect_median(selector, v, "constant");
    if (n > 0) {
      for (auto& x : v) x = normal(rng);
      v[0] = 1e12;  // one outlier stretches [min, max]
      expect_median(selector, v, "outlier");
    }
  }
}

}  // namespace
}  // namespace wafermill::features::detail
