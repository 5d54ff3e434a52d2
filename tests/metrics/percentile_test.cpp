// Percentiles against numpy's default method, and the latency summary.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "wafermill/metrics/metrics.hpp"

namespace wm = wafermill::metrics;

namespace {
// Unsorted on purpose; with a duplicate.
const std::vector<double> kSample{0.31, 2.5, 1.7, 0.004, 9.9, 3.3, 3.3, 0.8, 12.25, 5.0, 0.45};
}  // namespace

TEST(Percentile, MatchesNumpyLinear) {
  // Expected values printed by numpy 1.24.2:
  // /usr/bin/python3 -c "import numpy as np; a=[0.31, 2.5, 1.7, 0.004, 9.9, 3.3, 3.3, 0.8, 12.25, 5.0, 0.45];
  //   [print(p, repr(np.percentile(a,p))) for p in [0, 10, 25, 33.3, 50, 66.7, 90, 95, 99, 100]]"
  const std::vector<std::pair<double, double>> expected{
      {0, 0.004},    {10, 0.31},    {25, 0.625},    {33.3, 1.0969999999999998}, {50, 2.5},
      {66.7, 3.3},   {90, 9.9},     {95, 11.075},   {99, 12.015},               {100, 12.25}};
  for (const auto& [p, value] : expected) {
    EXPECT_NEAR(wm::percentile(kSample, p), value, 4e-15 * value) << "p = " << p;
  }
  // /usr/bin/python3 -c "import numpy as np; print(repr(np.percentile([42.0], 73)),
  //   repr(np.percentile([1.0,2.0], 50)), repr(np.percentile([0.1,0.2,0.3], 95)))"  -> 42.0 1.5 0.29
  EXPECT_EQ(wm::percentile(std::vector<double>{42.0}, 73), 42.0);
  EXPECT_EQ(wm::percentile(std::vector<double>{2.0, 1.0}, 50), 1.5);
  EXPECT_NEAR(wm::percentile(std::vector<double>{0.3, 0.1, 0.2}, 95), 0.29, 1e-16);
}

TEST(Percentile, EmptyNaNAndBadP) {
  EXPECT_TRUE(std::isnan(wm::percentile({}, 50)));
  EXPECT_TRUE(std::isnan(wm::percentile(std::vector<double>{1.0, NAN, 3.0}, 50)));
  EXPECT_THROW(wm::percentile(kSample, -0.1), std::invalid_argument);
  EXPECT_THROW(wm::percentile(kSample, 100.5), std::invalid_argument);
  EXPECT_THROW(wm::percentile(kSample, NAN), std::invalid_argument);
}

TEST(SummarizeLatencies, UsesNumpyPercentilesAndPlainMean) {
  const wm::LatencySummary s = wm::summarize_latencies(kSample);
  EXPECT_EQ(s.n, kSample.size());
  EXPECT_NEAR(s.mean, 3.592181818181818, 1e-15);  // np.mean(a)
  EXPECT_EQ(s.p50, 2.5);
  EXPECT_NEAR(s.p95, 11.075, 1e-14);
  EXPECT_NEAR(s.p99, 12.015, 1e-14);
  EXPECT_EQ(s.max, 12.25);
  const wm::LatencySummary none = wm::summarize_latencies({});
  EXPECT_EQ(none.n, 0u);
  EXPECT_EQ(none.max, 0.0);
}
