// The mergeable latency histogram: percentiles within the stated relative error, merges exact.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "wafermill/metrics/latency_sketch.hpp"
#include "wafermill/metrics/metrics.hpp"

namespace wm = wafermill::metrics;

TEST(LatencySketch, PercentilesWithinTheStatedRelativeError) {
  std::mt19937_64 rng(3);
  std::lognormal_distribution<double> latency(std::log(2e-4), 1.2);  // ~0.2 ms, heavy tail
  std::vector<double> x(50000);
  wm::LatencySketch sketch;
  for (double& v : x) {
    v = latency(rng);
    sketch.add(v);
  }
  const double err = wm::LatencySketch::relative_error();
  EXPECT_NEAR(err, 0.00995, 1e-4);
  for (double p : {50.0, 95.0, 99.0}) {
    const double exact = wm::percentile(x, p);
    // Nearest-rank vs numpy's linear interpolation differ by less than one neighbour's gap:
    // on 50,000 samples that is far below the bucket error.
    EXPECT_NEAR(sketch.percentile(p), exact, (err + 2e-3) * exact) << "p" << p;
  }
  const auto s = sketch.summary();
  EXPECT_EQ(s.n, x.size());
  EXPECT_EQ(s.max, *std::max_element(x.begin(), x.end()));
}

TEST(LatencySketch, EmptyAndExtremes) {
  wm::LatencySketch empty;
  EXPECT_EQ(empty.summary().n, 0u);
  EXPECT_EQ(empty.percentile(50), 0.0);
  wm::LatencySketch s;
  s.add(0.0);
  s.add(-1.0);
  s.add(1e9);  // beyond the last bucket: clamped there, max stays exact
  EXPECT_EQ(s.summary().max, 1e9);
  EXPECT_LE(s.percentile(1), 1.02e-7);  // the first bucket, [0, 100 ns · 1.02)
}
