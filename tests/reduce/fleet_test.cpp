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
  return a.size() == b.size() &&
         std::memcmp(a.data(), b.data(), a.size() * sizeof(wr::Moments)) == 0;
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

// The fleet fed with per_wafer cut into groups at `cuts` (sorted wafer indices, 0 and n_wafers
// included), the groups added in `order`.
std::vector<wr::Moments> fleet_over_groups(const std::vector<wr::Moments>& per_wafer,
                                           const std::vector<double>& shift,
                                           const std::vector<std::size_t>& cuts,
                                           const std::vector<std::size_t>& order) {
  const std::size_t S = shift.size();
  wr::FleetMoments fleet(shift);
  for (std::size_t g : order)
    fleet.add(std::span(per_wafer).subspan(cuts[g] * S, (cuts[g + 1] - cuts[g]) * S));
  EXPECT_EQ(fleet.wafers(), per_wafer.size() / S);
  return fleet.result(MPI_COMM_NULL);
}

// What the block partials of before issue 19 gave: each group left-folded, the folds merged in
// group order. Used to show that the data below is sensitive to grouping.
std::vector<wr::Moments> merged_folds(const std::vector<wr::Moments>& per_wafer, std::size_t S,
                                      const std::vector<std::size_t>& cuts) {
  std::vector<wr::Moments> out(S);
  for (std::size_t g = 0; g + 1 < cuts.size(); ++g)
    for (std::size_t s = 0; s < S; ++s) {
      wr::Moments fold;
      for (std::size_t w = cuts[g]; w < cuts[g + 1]; ++w)
        fold = wr::merge(fold, per_wafer[w * S + s]);
      out[s] = wr::merge(out[s], fold);
    }
  return out;
}

std::vector<std::size_t> regular_cuts(std::size_t n_wafers, std::size_t block) {
  std::vector<std::size_t> cuts;
  for (std::size_t w = 0; w < n_wafers; w += block) cuts.push_back(w);
  cuts.push_back(n_wafers);
  return cuts;
}

std::vector<std::size_t> in_order(std::size_t n) {
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  return order;
}

}  // namespace

TEST(ShiftOfSamples, MedianOfTheFiniteSamplesOrZero) {
  std::vector<double> odd = {5.0, kNaN, 1.0, 3.0, INFINITY};
  EXPECT_EQ(wr::shift_of_samples(odd), 3.0);
  std::vector<double> even = {4.0, 1.0, 3.0, 2.0};
  EXPECT_EQ(wr::shift_of_samples(even), 3.0);  // the upper median: a sample, no arithmetic
  std::vector<double> none = {kNaN, -INFINITY};
  EXPECT_EQ(wr::shift_of_samples(none), 0.0);
  EXPECT_EQ(wr::shift_of_samples({}), 0.0);
}

TEST(FleetMoments, BitwiseSameForEveryGroupingOfTheWafersIntoBlocks) {
  std::mt19937_64 rng(11);
  const std::size_t S = 4, n_wafers = 23 * 5 - 2;
  const auto per_wafer = random_wafer_moments(n_wafers, S, rng);
  const std::vector<double> shift = {50.0, 49.0, 53.5, 0.0};
  const auto reference = fleet_over_groups(per_wafer, shift, {0, n_wafers}, {0});
  // Same statistics as one left fold over all wafers, up to rounding.
  const auto whole = merged_folds(per_wafer, S, {0, n_wafers});
  for (std::size_t s = 0; s < S; ++s) {
    EXPECT_EQ(reference[s].n, whole[s].n);
    EXPECT_NEAR(reference[s].mean, whole[s].mean, 1e-13 * std::abs(whole[s].mean));
    EXPECT_NEAR(reference[s].m2, whole[s].m2, 1e-11 * whole[s].m2);
    EXPECT_NEAR(reference[s].m3, whole[s].m3,
                1e-8 * std::abs(whole[s].m4 / std::sqrt(whole[s].m2)));
    EXPECT_NEAR(reference[s].m4, whole[s].m4, 1e-10 * whole[s].m4);
    EXPECT_EQ(reference[s].min, whole[s].min);
    EXPECT_EQ(reference[s].max, whole[s].max);
  }
  // Regular blocks of several sizes, irregular boundaries (as when blocks restart at each
  // file), each in order and shuffled: the same bits every time.
  std::vector<std::vector<std::size_t>> groupings;
  for (std::size_t block : {1, 2, 3, 5, 8, 64, 1000})
    groupings.push_back(regular_cuts(n_wafers, block));
  std::uniform_int_distribution<std::size_t> cut(1, n_wafers - 1);
  for (int trial = 0; trial < 10; ++trial) {
    std::vector<std::size_t> cuts = {0, n_wafers};
    for (int i = 0; i < 1 + trial * 3; ++i) cuts.push_back(cut(rng));
    std::sort(cuts.begin(), cuts.end());
    cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
    groupings.push_back(cuts);
  }
  bool folds_differ = false;
  for (const auto& cuts : groupings) {
    auto order = in_order(cuts.size() - 1);
    EXPECT_TRUE(bitwise_equal(fleet_over_groups(per_wafer, shift, cuts, order), reference))
        << cuts.size() - 1 << " groups in order";
    std::shuffle(order.begin(), order.end(), rng);
    EXPECT_TRUE(bitwise_equal(fleet_over_groups(per_wafer, shift, cuts, order), reference))
        << cuts.size() - 1 << " groups shuffled";
    folds_differ = folds_differ || !bitwise_equal(merged_folds(per_wafer, S, cuts), whole);
  }
  // The data is sensitive to grouping: block partials (the design before) change bits.
  EXPECT_TRUE(folds_differ);
}

TEST(FleetMoments, AccurateWhenTheMeanDwarfsTheSpread) {
  // A pressure of 1e6 varying by 1e-3, in wafers of 1-60 samples; the shift is the median of
  // the first wafer's samples, as the job chooses it.
  std::mt19937_64 rng(5);
  std::normal_distribution<double> value(1.0e6, 1.0e-3);
  std::uniform_int_distribution<int> length(1, 60);
  std::vector<double> x;
  std::vector<wr::Moments> per_wafer;
  std::vector<double> first;
  for (int w = 0; w < 300; ++w) {
    wr::Moments m;
    const int n = length(rng);
    for (int i = 0; i < n; ++i) {
      x.push_back(value(rng));
      m = wr::merge(m, wr::single(x.back()));
      if (w == 0) first.push_back(x.back());
    }
    per_wafer.push_back(m);
  }
  const double c = wr::shift_of_samples(first);
  wr::FleetMoments fleet(std::vector<double>{c});
  fleet.add(per_wafer);
  const auto r = fleet.result(MPI_COMM_NULL);
  // Reference: two passes in long double.
  long double mean = 0;
  for (double v : x) mean += v;
  mean /= x.size();
  long double m2 = 0, m3 = 0, m4 = 0;
  for (double v : x) {
    const long double d = v - mean;
    m2 += d * d;
    m3 += d * d * d;
    m4 += d * d * d * d;
  }
  EXPECT_EQ(r[0].n, static_cast<double>(x.size()));
  // Each wafer's own mean carries a rounding of ~1e-10 here (ulp of 1e6), which bounds what
  // any reduction of per-wafer moments can reach; measured here: mean 4e-11 off, M2 7e-10 and
  // M4 7e-9 relative.
  EXPECT_NEAR(r[0].mean, static_cast<double>(mean), 1e-9);
  EXPECT_NEAR(r[0].m2, static_cast<double>(m2), 1e-8 * static_cast<double>(m2));
  EXPECT_NEAR(r[0].m4, static_cast<double>(m4), 1e-7 * static_cast<double>(m4));
  const double m3_scale = static_cast<double>(m2) * std::sqrt(static_cast<double>(m2) / x.size());
  EXPECT_NEAR(r[0].m3, static_cast<double>(m3), 1e-5 * m3_scale);
  // Without the shift (c = 0) every digit of M2 is lost: Σx² ~ 1e16, M2 ~ 1e-2.
  wr::FleetMoments unshifted(std::vector<double>{0.0});
  unshifted.add(per_wafer);
  const double lost = unshifted.result(MPI_COMM_NULL)[0].m2;
  EXPECT_GT(std::abs(lost - static_cast<double>(m2)), 0.5 * static_cast<double>(m2));
}

TEST(FleetMoments, RejectsWrongSizeAndHandlesNoWafers) {
  wr::FleetMoments fleet(std::vector<double>{0.0, kNaN});
  EXPECT_EQ(fleet.shift()[1], 0.0);  // a non-finite shift is taken as 0
  const std::vector<wr::Moments> three(3, wr::single(1.0));
  EXPECT_THROW(fleet.add(three), std::invalid_argument);
  const auto empty = fleet.result(MPI_COMM_NULL);
  ASSERT_EQ(empty.size(), 2u);
  EXPECT_EQ(empty[0].n, 0.0);
  const std::vector<wr::Moments> two(2, wr::single(3.0));
  fleet.add(two);
  fleet.add(two);
  const auto r = fleet.result(MPI_COMM_NULL);
  EXPECT_EQ(r[1].n, 2.0);
  EXPECT_EQ(r[1].mean, 3.0);
  EXPECT_EQ(r[1].m2, 0.0);
  wr::FleetMoments none;
  EXPECT_NO_THROW(none.add({}));
  EXPECT_THROW(none.add(two), std::invalid_argument);
  EXPECT_TRUE(none.result(MPI_COMM_NULL).empty());
}

TEST(FeatureColumnStats, MatchesNaiveTwoPassAndSkipsNaN) {
  std::mt19937_64 rng(3);
  std::lognormal_distribution<double> value(0.0, 1.0);
  std::bernoulli_distribution missing(0.1);
  const std::size_t n_cols = 6;
  const std::size_t n_wafers = 500;
  std::vector<double> rows(n_cols * n_wafers);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    rows[i] =
        missing(rng) ? (i % 3 == 0 ? std::numeric_limits<double>::infinity() : kNaN) : value(rng);
  }
  wr::FeatureColumnStats stats(n_cols, 16);
  // Added in three chunks, as the job does block by block.
  const std::size_t cuts[] = {0, 120, 121, n_wafers};
  for (int k = 0; k < 3; ++k) {
    stats.add(std::span(rows).subspan(cuts[k] * n_cols, (cuts[k + 1] - cuts[k]) * n_cols),
              cuts[k + 1] - cuts[k]);
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
  EXPECT_THROW(wr::FeatureColumnStats(3, std::size_t{1} << 31), std::invalid_argument);
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
  // /usr/bin/python3 -c "import numpy as np; print(np.histogram([0.5,1,2,3,3.5,4,7,9.99,10],
  // bins=4)); print(np.histogram([0.1,0.2,0.3,0.7,1.0], bins=3))"
  // -> [3 3 1 2] and [3 0 2] (0.7 sits exactly on the edge 0.1 + 2 * 0.3 and goes up).
  wr::Histogram a{0.5, 10.0, std::vector<std::uint64_t>(4, 0)};
  for (double x : {0.5, 1.0, 2.0, 3.0, 3.5, 4.0, 7.0, 9.99, 10.0}) a.add(x);
  EXPECT_EQ(a.counts, (std::vector<std::uint64_t>{3, 3, 1, 2}));
  wr::Histogram b{0.1, 1.0, std::vector<std::uint64_t>(3, 0)};
  for (double x : {0.1, 0.2, 0.3, 0.7, 1.0}) b.add(x);
  EXPECT_EQ(b.counts, (std::vector<std::uint64_t>{3, 0, 2}));
}

namespace {

// numpy's equal-width rule value by value, as Histogram::bin read before its constants were
// hoisted (the reference for the blocked add_to_histograms).
std::size_t numpy_bin(double lo, double hi, std::size_t n_bins, double x) {
  if (!(hi > lo) || x <= lo) return 0;
  if (x >= hi) return n_bins - 1;
  const double scale = std::isfinite(hi - lo) ? 1.0 : 0.5;
  const double span = scale * hi - scale * lo;
  const double step = span / static_cast<double>(n_bins);
  const auto edge = [&](std::size_t k) {
    return k == n_bins ? scale * hi : scale * lo + static_cast<double>(k) * step;
  };
  const double xs = scale * x;
  std::size_t i = static_cast<std::size_t>(std::min(
      static_cast<double>(n_bins - 1), (xs - scale * lo) * (static_cast<double>(n_bins) / span)));
  if (i > 0 && xs < edge(i)) --i;
  if (i + 1 < n_bins && xs >= edge(i + 1)) ++i;
  return i;
}

}  // namespace

TEST(Histogram, BlockedAddToHistogramsBinsAsValueByValue) {
  // 1,000 rows (not a whole number of blocks) of 5 columns: ordinary, on the bin edges, a
  // constant one, one with NaN and ±inf, one spanning ±DBL_MAX.
  constexpr std::size_t C = 5, N = 1000, bins = 7;
  std::mt19937_64 rng(12);
  std::uniform_real_distribution<double> u(-3.0, 11.0);
  std::uniform_int_distribution<int> k(0, static_cast<int>(bins));
  std::vector<double> rows(C * N);
  const double big = std::numeric_limits<double>::max();
  for (std::size_t w = 0; w < N; ++w) {
    rows[w * C + 0] = u(rng);
    rows[w * C + 1] = 0.1 + 0.3 * k(rng) / 2.0;
    rows[w * C + 2] = 4.0;
    rows[w * C + 3] = w % 7 == 0 ? kNaN : w % 11 == 0 ? -HUGE_VAL : u(rng);
    rows[w * C + 4] = w % 2 ? big * (u(rng) / 11.0) : -big * (u(rng) / 11.0);
  }
  wr::FeatureColumnStats stats(C, bins);
  stats.add(rows, N);
  stats.start_histograms();
  stats.add_to_histograms(rows, N);
  for (std::size_t c = 0; c < C; ++c) {
    const wr::Histogram& h = stats.histogram(c);
    std::vector<std::uint64_t> want(bins, 0);
    for (std::size_t w = 0; w < N; ++w)
      if (std::isfinite(rows[w * C + c])) ++want[numpy_bin(h.lo, h.hi, bins, rows[w * C + c])];
    EXPECT_EQ(h.counts, want) << c;
  }
}

TEST(Histogram, BinsOfValuesOnAndNextToEveryEdgeAsValueByValue) {
  // add_to_histograms bins a block's values together (AVX2 where allowed; this suite runs again
  // under WAFERMILL_NO_AVX2): each bin edge lo + k (hi - lo) / n, the values one ulp either
  // side of it, ±0, subnormals, lo and hi themselves and beyond, in columns of different
  // ranges (negative, tiny, spanning ±DBL_MAX), 3 rows short of a whole number of blocks.
  constexpr std::size_t bins = 13;
  const double big = std::numeric_limits<double>::max();
  const std::vector<std::pair<double, double>> ranges{
      {-7.25, 3.5}, {1e-300, 3e-300}, {-big, big}, {0.1, 0.7}, {-1.0, -1e-9}};
  const std::size_t C = ranges.size();
  std::vector<std::vector<double>> values(C);
  for (std::size_t c = 0; c < C; ++c) {
    const auto [lo, hi] = ranges[c];
    auto& v = values[c];
    v = {lo, hi, 0.0, -0.0, 4.9e-324, -4.9e-324, kNaN, HUGE_VAL, -HUGE_VAL};
    const double step = (hi / 2 - lo / 2) / bins * 2;
    for (std::size_t k = 0; k <= bins; ++k) {
      const double e = k == bins ? hi : lo + static_cast<double>(k) * step;
      for (double x : {e, std::nextafter(e, -HUGE_VAL), std::nextafter(e, HUGE_VAL)})
        v.push_back(x);
    }
  }
  std::size_t N = 0;
  for (const auto& v : values) N = std::max(N, v.size());
  N = (N + 63) / 64 * 64 + 61;
  std::vector<double> rows(C * N);
  for (std::size_t c = 0; c < C; ++c)
    for (std::size_t w = 0; w < N; ++w) rows[w * C + c] = values[c][w % values[c].size()];
  wr::FeatureColumnStats stats(C, bins);
  // The ranges are the given ones: add only the two rows that hold lo and hi.
  std::vector<double> ends(2 * C);
  for (std::size_t c = 0; c < C; ++c) {
    ends[c] = ranges[c].first;
    ends[C + c] = ranges[c].second;
  }
  stats.add(ends, 2);
  stats.start_histograms();
  stats.add_to_histograms(rows, N);
  for (std::size_t c = 0; c < C; ++c) {
    const wr::Histogram& h = stats.histogram(c);
    ASSERT_EQ(h.lo, ranges[c].first);
    ASSERT_EQ(h.hi, ranges[c].second);
    std::vector<std::uint64_t> want(bins, 0);
    for (std::size_t w = 0; w < N; ++w)
      if (std::isfinite(rows[w * C + c])) ++want[numpy_bin(h.lo, h.hi, bins, rows[w * C + c])];
    EXPECT_EQ(h.counts, want) << c;
  }
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
  EXPECT_EQ(std::accumulate(stats.histogram(0).counts.begin(), stats.histogram(0).counts.end(), 0u),
            3u);
  EXPECT_EQ(stats.moments()[1].n, 0.0);  // an all-NaN column: empty, range [0, 0], no counts
  EXPECT_EQ(stats.histogram(1).lo, 0.0);
  EXPECT_EQ(std::accumulate(stats.histogram(1).counts.begin(), stats.histogram(1).counts.end(), 0u),
            0u);
  EXPECT_TRUE(std::isnan(stats.stddev(1)));
  EXPECT_EQ(stats.stddev(0), 0.0);

  wr::Histogram empty;
  EXPECT_THROW(empty.bin(1.0), std::logic_error);
}

TEST(AnomalyScore, LargestZScoreOverInformativeColumns) {
  // Column 0: 1, 2, 3 (mean 2, std 1). Column 1: constant 5. Column 2: one value only (std NaN).
  // Column 3: 10, 20, 30 (mean 20, std 10).
  wr::FeatureColumnStats stats(4, 4);
  const std::vector<double> rows{1.0, 5.0, 7.0,  10.0,  //
                                 2.0, 5.0, kNaN, 20.0,  //
                                 3.0, 5.0, kNaN, 30.0};
  stats.add(rows, 3);
  stats.start_histograms();  // the statistics are final once reduced
  EXPECT_DOUBLE_EQ(anomaly_score(std::vector<double>{5.0, 5.0, 7.0, 20.0}, stats), 3.0);
  EXPECT_DOUBLE_EQ(anomaly_score(std::vector<double>{2.5, 900.0, -1e9, 45.0}, stats), 2.5);
  EXPECT_DOUBLE_EQ(anomaly_score(std::vector<double>{kNaN, 5.0, 7.0, kNaN}, stats), 0.0);
  EXPECT_DOUBLE_EQ(
      anomaly_score(std::vector<double>{-std::numeric_limits<double>::infinity(), 1.0, 1.0, 19.0},
                    stats),
      0.1);
  EXPECT_THROW(anomaly_score(std::vector<double>{1.0}, stats), std::invalid_argument);
}
