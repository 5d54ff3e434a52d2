// Reproducible fleet reductions, per-column statistics, histograms and the anomaly score.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <stdexcept>
#include <vector>

#include "wafermill/reduce/fleet.hpp"

namespace wr = wafermill::reduce;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool bitwise_equal(const std::vector<wr::Moments>& a, const std::vector<wr::Moments>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(wr::Moments)) == 0;
}

// Per-wafer moments [n_wafers, n_sensors] of random traces of random lengths.
std::vector<wr::Moments> random_wafer_moments(std::size_t n_wafers, std::size_t n_sensors,
                                              std::mt19937_64& rng) {
  std::normal_distribution<double> value(50.0, 4.0);
  std::uniform_int_distribution<int> length(0, 40);  // 0: a wafer with an empty trace
  std::vector<wr::Moments> out(n_wafers * n_sensors);
  for (wr::Moments& m : out) {
    const int n = length(rng);
    for (int i = 0; i < n; ++i) m = wr::merge(m, wr::single(value(rng)));
  }
  return out;
}

}  // namespace

TEST(FoldWafers, IsTheLeftFoldPerSensor) {
  std::mt19937_64 rng(7);
  const std::size_t n_sensors = 3;
  const auto per_wafer = random_wafer_moments(10, n_sensors, rng);
  const auto folded = wr::fold_wafers(per_wafer, n_sensors);
  ASSERT_EQ(folded.size(), n_sensors);
  for (std::size_t s = 0; s < n_sensors; ++s) {
    wr::Moments expected;
    for (std::size_t w = 0; w < 10; ++w) expected = wr::merge(expected, per_wafer[w * n_sensors + s]);
    EXPECT_EQ(std::memcmp(&folded[s], &expected, sizeof expected), 0) << "sensor " << s;
  }
  EXPECT_THROW(wr::fold_wafers(std::span(per_wafer).first(4), n_sensors), std::invalid_argument);
  EXPECT_EQ(wr::fold_wafers({}, 2).size(), 2u);
  EXPECT_EQ(wr::fold_wafers({}, 2)[0].n, 0.0);
}

// Partials of blocks of `block_size` wafers over `per_wafer` (the last block may be short).
std::vector<std::vector<wr::Moments>> block_partials(const std::vector<wr::Moments>& per_wafer,
                                                     std::size_t n_sensors, std::size_t block_size) {
  std::vector<std::vector<wr::Moments>> partials;
  for (std::size_t first = 0; first < per_wafer.size(); first += block_size * n_sensors) {
    const std::size_t end = std::min(per_wafer.size(), first + block_size * n_sensors);
    partials.push_back(wr::fold_wafers(std::span(per_wafer).subspan(first, end - first), n_sensors));
  }
  return partials;
}

TEST(FleetMoments, BitwiseSameResultForEveryOrderOfBlocks) {
  std::mt19937_64 rng(11);
  const std::size_t n_sensors = 4;
  const auto per_wafer = random_wafer_moments(23 * 5 - 2, n_sensors, rng);  // partial last block
  const auto partials = block_partials(per_wafer, n_sensors, 5);
  std::vector<std::size_t> order(partials.size());
  std::iota(order.begin(), order.end(), 0);
  std::vector<wr::Moments> first_result;
  for (int trial = 0; trial < 20; ++trial) {
    wr::FleetMoments fleet(n_sensors);
    for (std::size_t b : order) fleet.add_block(partials[b]);
    EXPECT_EQ(fleet.blocks(), partials.size());
    const auto result = fleet.result(MPI_COMM_NULL);
    if (trial == 0) {
      first_result = result;
      // Same statistics as one pass over all wafers, up to rounding.
      const auto whole = wr::fold_wafers(per_wafer, n_sensors);
      for (std::size_t s = 0; s < n_sensors; ++s) {
        EXPECT_EQ(result[s].n, whole[s].n);
        EXPECT_NEAR(result[s].mean, whole[s].mean, 1e-13 * std::abs(whole[s].mean));
        EXPECT_NEAR(result[s].m2, whole[s].m2, 1e-11 * whole[s].m2);
        EXPECT_NEAR(result[s].m3, whole[s].m3, 1e-8 * std::abs(whole[s].m4 / std::sqrt(whole[s].m2)));
        EXPECT_NEAR(result[s].m4, whole[s].m4, 1e-10 * whole[s].m4);
        EXPECT_EQ(result[s].min, whole[s].min);
        EXPECT_EQ(result[s].max, whole[s].max);
      }
    } else {
      EXPECT_TRUE(bitwise_equal(result, first_result)) << "trial " << trial;
    }
    std::shuffle(order.begin(), order.end(), rng);
  }
}

TEST(FleetMoments, AccurateWhenTheMeanDwarfsTheSpread) {
  // A pressure of 1e6 varying by 1e-3: M2 from unshifted power sums would lose every digit.
  std::mt19937_64 rng(5);
  std::normal_distribution<double> value(1.0e6, 1.0e-3);
  std::vector<double> x(4000);
  for (double& v : x) v = value(rng);
  wr::FleetMoments fleet(1);
  for (std::size_t first = 0; first < x.size(); first += 37) {
    wr::Moments m;
    for (std::size_t i = first; i < std::min(x.size(), first + 37); ++i) m = wr::merge(m, wr::single(x[i]));
    fleet.add_block(std::span<const wr::Moments>(&m, 1));
  }
  const auto r = fleet.result(MPI_COMM_NULL);
  // Reference: two passes in long double.
  long double mean = 0;
  for (double v : x) mean += v;
  mean /= x.size();
  long double m2 = 0;
  for (double v : x) m2 += (v - mean) * (v - mean);
  // Each block's own mean carries a rounding of ~1e-10 here (ulp of 1e6), which bounds the
  // between-block part of M2 to ~1e-9 relative: the reduction adds nothing to that.
  EXPECT_NEAR(r[0].mean, static_cast<double>(mean), 1e-9);
  EXPECT_NEAR(r[0].m2, static_cast<double>(m2), 1e-8 * static_cast<double>(m2));
  // Unshifted power sums in double would have lost everything: Σx² ~ 4e15, M2 ~ 4e-3.
}

TEST(FleetMoments, RejectsWrongSizeAndHandlesNoBlocks) {
  wr::FleetMoments fleet(2);
  const std::vector<wr::Moments> one(1, wr::single(1.0));
  EXPECT_THROW(fleet.add_block(one), std::invalid_argument);
  const auto empty = fleet.result(MPI_COMM_NULL);
  ASSERT_EQ(empty.size(), 2u);
  EXPECT_EQ(empty[0].n, 0.0);
  const std::vector<wr::Moments> two(2, wr::single(3.0));
  fleet.add_block(two);
  fleet.add_block(two);
  const auto r = fleet.result(MPI_COMM_NULL);
  EXPECT_EQ(r[1].n, 2.0);
  EXPECT_EQ(r[1].mean, 3.0);
  EXPECT_EQ(r[1].m2, 0.0);
}

TEST(FeatureColumnStats, MatchesNaiveTwoPassAndSkipsNaN) {
  std::mt19937_64 rng(3);
  std::lognormal_distribution<double> value(0.0, 1.0);
  std::bernoulli_distribution missing(0.1);
  const std::size_t n_cols = 6;
  const std::size_t n_wafers = 500;
  std::vector<double> rows(n_cols * n_wafers);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    rows[i] = missing(rng) ? (i % 3 == 0 ? std::numeric_limits<double>::infinity() : kNaN) : value(rng);
  }
  wr::FeatureColumnStats stats(n_cols, 16);
  // Added in three chunks, as the job does block by block.
  const std::size_t cuts[] = {0, 120, 121, n_wafers};
  for (int k = 0; k < 3; ++k) {
    stats.add(std::span(rows).subspan(cuts[k] * n_cols, (cuts[k + 1] - cuts[k]) * n_cols), cuts[k + 1] - cuts[k]);
  }
  stats.start_histograms();
  stats.add_to_histograms(rows, n_wafers);
  for (std::size_t c = 0; c < n_cols; ++c) {
    std::vector<double> finite;
    for (std::size_t w = 0; w < n_wafers; ++w) {
      if (std::isfinite(rows[w * n_cols + c])) finite.push_back(rows[w * n_cols + c]);
    }
    double mean = 0.0;
    for (double v : finite) mean += v;
    mean /= static_cast<double>(finite.size());
    double ss = 0.0;
    for (double v : finite) ss += (v - mean) * (v - mean);
    const double sd = std::sqrt(ss / static_cast<double>(finite.size() - 1));
    const wr::Moments& m = stats.moments()[c];
    EXPECT_EQ(m.n, static_cast<double>(finite.size()));
    EXPECT_NEAR(m.mean, mean, 1e-13 * mean);
    EXPECT_NEAR(stats.stddev(c), sd, 1e-12 * sd);
    EXPECT_EQ(m.min, *std::min_element(finite.begin(), finite.end()));
    EXPECT_EQ(m.max, *std::max_element(finite.begin(), finite.end()));
    const wr::Histogram& h = stats.histogram(c);
    EXPECT_EQ(h.lo, m.min);
    EXPECT_EQ(h.hi, m.max);
    ASSERT_EQ(h.counts.size(), 16u);
    EXPECT_EQ(std::accumulate(h.counts.begin(), h.counts.end(), std::uint64_t{0}), finite.size());
    EXPECT_GE(h.counts.front(), 1u);  // the minimum
    EXPECT_GE(h.counts.back(), 1u);   // the maximum
  }
}

TEST(FeatureColumnStats, PhaseAndSizeErrors) {
  EXPECT_THROW(wr::FeatureColumnStats(3, 0), std::invalid_argument);
  wr::FeatureColumnStats stats(2, 4);
  const std::vector<double> rows{1.0, 2.0, 3.0, 4.0};
  EXPECT_THROW(stats.add(rows, 3), std::invalid_argument);
  EXPECT_THROW(stats.add_to_histograms(rows, 2), std::logic_error);
  stats.add(rows, 2);
  stats.start_histograms();
  EXPECT_THROW(stats.add(rows, 2), std::logic_error);
  EXPECT_THROW(stats.start_histograms(), std::logic_error);
  EXPECT_THROW(stats.add_to_histograms(rows, 1), std::invalid_argument);
  EXPECT_THROW(stats.stddev(2), std::out_of_range);
}

TEST(Histogram, MatchesNumpyBinning) {
  // Expected counts from numpy 1.24.2:
  // /usr/bin/python3 -c "import numpy as np; print(np.histogram([0.5,1,2,3,3.5,4,7,9.99,10], bins=4)); print(np.histogram([0.1,0.2,0.3,0.7,1.0], bins=3))"
  // -> [3 3 1 2] and [3 0 2] (0.7 sits exactly on the edge 0.1 + 2 * 0.3 and goes up).
  wr::Histogram a{0.5, 10.0, std::vector<std::uint64_t>(4, 0)};
  for (double x : {0.5, 1.0, 2.0, 3.0, 3.5, 4.0, 7.0, 9.99, 10.0}) a.add(x);
  EXPECT_EQ(a.counts, (std::vector<std::uint64_t>{3, 3, 1, 2}));
  wr::Histogram b{0.1, 1.0, std::vector<std::uint64_t>(3, 0)};
  for (double x : {0.1, 0.2, 0.3, 0.7, 1.0}) b.add(x);
  EXPECT_EQ(b.counts, (std::vector<std::uint64_t>{3, 0, 2}));
}

TEST(Histogram, ClampsOutsideValuesIgnoresNonFiniteAndHandlesDegenerateRange) {
  wr::Histogram h{0.0, 1.0, std::vector<std::uint64_t>(5, 0)};
  h.add(-3.0);
  h.add(7.0);
  h.add(kNaN);
  h.add(std::numeric_limits<double>::infinity());
  EXPECT_EQ(h.counts, (std::vector<std::uint64_t>{1, 0, 0, 0, 1}));

  wr::Histogram huge{-std::numeric_limits<double>::max(), std::numeric_limits<double>::max(),
                     std::vector<std::uint64_t>(4, 0)};
  EXPECT_EQ(huge.bin(0.0), 2u);  // the range overflows a double; still binned sensibly
  EXPECT_EQ(huge.bin(-1e308), 0u);

  // A constant column: every value in one bin.
  wr::FeatureColumnStats stats(2, 8);
  const std::vector<double> rows{4.0, kNaN, 4.0, kNaN, 4.0, kNaN};
  stats.add(rows, 3);
  stats.start_histograms();
  stats.add_to_histograms(rows, 3);
  EXPECT_EQ(stats.histogram(0).counts[0], 3u);
  EXPECT_EQ(std::accumulate(stats.histogram(0).counts.begin(), stats.histogram(0).counts.end(), 0u), 3u);
  EXPECT_EQ(stats.moments()[1].n, 0.0);  // an all-NaN column: empty, range [0, 0], no counts
  EXPECT_EQ(stats.histogram(1).lo, 0.0);
  EXPECT_EQ(std::accumulate(stats.histogram(1).counts.begin(), stats.histogram(1).counts.end(), 0u), 0u);
  EXPECT_TRUE(std::isnan(stats.stddev(1)));
  EXPECT_EQ(stats.stddev(0), 0.0);

  wr::Histogram empty;
  EXPECT_THROW(empty.bin(1.0), std::logic_error);
}

TEST(AnomalyScore, LargestZScoreOverInformativeColumns) {
  // Column 0: 1, 2, 3 (mean 2, std 1). Column 1: constant 5. Column 2: one value only (std NaN).
  // Column 3: 10, 20, 30 (mean 20, std 10).
  wr::FeatureColumnStats stats(4, 4);
  const std::vector<double> rows{1.0, 5.0, 7.0, 10.0,  //
                                 2.0, 5.0, kNaN, 20.0,  //
                                 3.0, 5.0, kNaN, 30.0};
  stats.add(rows, 3);
  stats.start_histograms();  // the statistics are final once reduced
  EXPECT_DOUBLE_EQ(anomaly_score(std::vector<double>{5.0, 5.0, 7.0, 20.0}, stats), 3.0);
  EXPECT_DOUBLE_EQ(anomaly_score(std::vector<double>{2.5, 900.0, -1e9, 45.0}, stats), 2.5);
  EXPECT_DOUBLE_EQ(anomaly_score(std::vector<double>{kNaN, 5.0, 7.0, kNaN}, stats), 0.0);
  EXPECT_DOUBLE_EQ(anomaly_score(std::vector<double>{-std::numeric_limits<double>::infinity(), 1.0, 1.0, 19.0}, stats), 0.1);
  EXPECT_THROW(anomaly_score(std::vector<double>{1.0}, stats), std::invalid_argument);
}
