// The verdict of a run without a model (docs/MONITORING.md "Without a model"): the per-column
// limits, the leave-one-out residual, the mergeable sums and the out-of-sample false-alarm rate
// of the rule on normal and heavy-tailed columns.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <span>
#include <stdexcept>
#include <vector>

#include "wafermill/model/fleet_limits.hpp"

namespace wm = wafermill::model;

namespace {

// Mean and m2 of values, skipping one index (or none).
wm::ColumnFit direct(const std::vector<double>& v, std::size_t skip = SIZE_MAX) {
  wm::ColumnFit c;
  double s = 0.0;
  for (std::size_t i = 0; i < v.size(); ++i)
    if (i != skip) {
      s += v[i];
      ++c.n;
    }
  c.mean = s / static_cast<double>(c.n);
  for (std::size_t i = 0; i < v.size(); ++i)
    if (i != skip) c.m2 += (v[i] - c.mean) * (v[i] - c.mean);
  return c;
}

}  // namespace

TEST(FleetLimits, StudentAndNormalQuantiles) {
  // Tables: t_10 two-sided 1 % is 3.1693; normal two-sided 5 % is 1.95996; Bonferroni over 10
  // columns of 5 % is the two-sided 0.5 % point, 2.80703.
  EXPECT_NEAR(wm::prediction_limit(10, 1, 0.01), 3.16927, 1e-4);
  EXPECT_NEAR(wm::normal_limit(1, 0.05), 1.959964, 1e-6);
  EXPECT_NEAR(wm::normal_limit(10, 0.05), 2.807034, 1e-6);
  EXPECT_TRUE(std::isinf(wm::prediction_limit(0, 5, 0.01)));
  EXPECT_GT(wm::prediction_limit(5, 100, 0.01), wm::prediction_limit(50, 100, 0.01));
}

TEST(FleetLimits, SmallestFleet) {
  // 1.5 × 1.96 = 2.94: t_3 (3.18) is above, t_4 (2.776) below: n − 2 = 4, n = 6.
  EXPECT_EQ(wm::smallest_fleet(1, 0.05), 6u);
  const std::uint64_t n = wm::smallest_fleet(480, 0.01);
  EXPECT_LE(wm::prediction_limit(n - 2, 480, 0.01), 1.5 * wm::normal_limit(480, 0.01));
  EXPECT_GT(wm::prediction_limit(n - 3, 480, 0.01), 1.5 * wm::normal_limit(480, 0.01));
}

TEST(FleetLimits, LeaveOneOutResidualEqualsTheFitWithoutTheWafer) {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> g(5.0, 2.0);
  std::vector<double> v(40);
  for (double& x : v) x = g(rng);
  v[7] = 30.0;  // an outlier
  const wm::ColumnFit all = direct(v);
  for (std::size_t i : {0, 7, 39}) {
    const wm::ColumnFit without = direct(v, i);
    const double s = std::sqrt(without.m2 / static_cast<double>(without.n - 1));
    const double expect =
        (v[i] - without.mean) / (s * std::sqrt(1.0 + 1.0 / static_cast<double>(without.n)));
    const wm::Residual loo = wm::prediction_residual(all, v[i], true);
    EXPECT_NEAR(loo.t, expect, 1e-9 * std::fabs(expect)) << i;
    EXPECT_EQ(loo.dof, 38u);
    // Out of the reference: against the fit of all 40.
    const wm::Residual out = wm::prediction_residual(without, v[i], false);
    EXPECT_NEAR(out.t, expect, 1e-12 * std::fabs(expect));
    EXPECT_EQ(out.dof, 38u);
  }
  // The outlier's z against statistics that hold it is bounded by (n − 1)/√n; its LOO t is not.
  const double z = (v[7] - all.mean) / std::sqrt(all.m2 / 39.0);
  EXPECT_LT(z, 39.0 / std::sqrt(40.0));
  EXPECT_GT(wm::prediction_residual(all, v[7], true).t, 2.0 * z);
  EXPECT_EQ(wm::prediction_residual(all, NAN, true).dof, 0u);
  EXPECT_EQ(wm::prediction_residual(direct({1.0, 1.0, 1.0, 2.0}), 2.0, true).dof,
            0u);  // others constant
}

TEST(FleetLimits, ReferenceSumsMatchDirectMomentsAndSkipNonFinite) {
  std::mt19937_64 rng(8);
  std::student_t_distribution<double> t(5.0);
  std::vector<double> v(500);
  for (double& x : v) x = 100.0 + t(rng);
  wm::ReferenceSums sums({100.5});
  for (double x : v) sums.add(std::span<const double>(&x, 1));
  const double nan = NAN;
  sums.add(std::span<const double>(&nan, 1));
  const wm::ColumnFit c = sums.reduce(MPI_COMM_NULL)[0];
  const wm::ColumnFit d = direct(v);
  EXPECT_EQ(c.n, 500u);
  EXPECT_NEAR(c.mean, d.mean, 1e-13 * std::fabs(d.mean));
  EXPECT_NEAR(c.m2, d.m2, 1e-10 * d.m2);
  double m4 = 0.0;
  for (double x : v) m4 += std::pow(x - d.mean, 4);
  EXPECT_NEAR(c.kurtosis, 500.0 * m4 / (d.m2 * d.m2) - 3.0, 1e-8);
  EXPECT_GT(c.kurtosis, 1.0);  // t_5 has excess kurtosis 6
}

namespace {

std::uint64_t bits(double x) {
  std::uint64_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

}  // namespace

TEST(FleetLimits, AddColumnIsAddWaferByWaferBitForBit) {
  // Columns of different scales, spreads and signs, with NaN, infinities and outliers: the
  // column-by-column sums (ExactSum's window) give the same fits, bit for bit, as the rows.
  std::mt19937_64 rng(19);
  std::normal_distribution<double> g(0.0, 1.0);
  std::uniform_int_distribution<int> odd(0, 99);
  constexpr std::size_t J = 6, n = 3000;
  const double scale[J] = {1.0, 1e-9, 3e7, 0.25, 1e150, 1e-150};
  const double centre[J] = {100.0, -2e-9, 5e9, 0.0, 1e150, 7e-150};
  std::vector<double> origin(J), values(J * n);
  for (std::size_t j = 0; j < J; ++j) origin[j] = centre[j] + 0.37 * scale[j];
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < J; ++j) {
      double v = centre[j] + scale[j] * g(rng);
      const int o = odd(rng);
      if (o == 0) v = NAN;
      if (o == 1) v = -INFINITY;
      if (o == 2) v = centre[j] + 1e6 * scale[j];
      if (o == 3) v = origin[j];  // d = 0
      values[i * J + j] = v;
    }
  for (const bool kurtosis : {true, false}) {
    wm::ReferenceSums rows(origin, kurtosis), cols(origin, kurtosis);
    for (std::size_t i = 0; i < n; ++i) rows.add(std::span<const double>(&values[i * J], J));
    std::vector<double> column(n);
    for (std::size_t j = 0; j < J; ++j) {
      for (std::size_t i = 0; i < n; ++i) column[i] = values[i * J + j];
      // In uneven pieces, as blocks of rows.
      cols.add_column(j, std::span<const double>(column).first(1000));
      cols.add_column(j, std::span<const double>(column).subspan(1000, 1));
      cols.add_column(j, std::span<const double>(column).subspan(1001));
    }
    const auto a = rows.reduce(MPI_COMM_NULL), b = cols.reduce(MPI_COMM_NULL);
    for (std::size_t j = 0; j < J; ++j) {
      EXPECT_EQ(a[j].n, b[j].n) << j;
      EXPECT_EQ(bits(a[j].mean), bits(b[j].mean)) << j;
      EXPECT_EQ(bits(a[j].m2), bits(b[j].m2)) << j;
      EXPECT_EQ(bits(a[j].kurtosis), bits(b[j].kurtosis)) << j;  // NaN for j = 5: the same NaN
    }
  }
  wm::ReferenceSums one({0.0});
  EXPECT_THROW(one.add_column(1, std::span<const double>()), std::invalid_argument);
}

TEST(FleetLimits, RemainderLessSubtractedWafersIsTheSumsOfTheOthersBitForBit) {
  // The refit's sums (src/job/scoring.cpp): the whole fleet's reduced sums of some columns, less
  // the flagged wafers' values, against the kept wafers' values summed directly. Columns of
  // very different scales, NaN, -inf, d = 0 and squares that overflow (skipped either way).
  std::mt19937_64 rng(29);
  std::normal_distribution<double> g(0.0, 1.0);
  std::uniform_int_distribution<int> odd(0, 99);
  constexpr std::size_t J = 6, n = 2500;
  const double scale[J] = {1.0, 1e-9, 3e7, 0.25, 1e150, 1e-150};
  const double centre[J] = {100.0, -2e-9, 5e9, 0.0, 1e150, 7e-150};
  std::vector<double> origin(J), values(J * n);
  for (std::size_t j = 0; j < J; ++j) origin[j] = centre[j] + 0.37 * scale[j];
  std::vector<char> flagged(n);
  for (std::size_t i = 0; i < n; ++i) {
    flagged[i] = odd(rng) < 7;
    for (std::size_t j = 0; j < J; ++j) {
      double v = centre[j] + scale[j] * g(rng) * (flagged[i] ? 40.0 : 1.0);
      const int o = odd(rng);
      if (o == 0) v = NAN;
      if (o == 1) v = -INFINITY;
      if (o == 3) v = origin[j];
      values[i * J + j] = v;
    }
  }
  wm::ReferenceSums all(origin);
  std::vector<double> column(n);
  for (std::size_t j = 0; j < J; ++j) {
    for (std::size_t i = 0; i < n; ++i) column[i] = values[i * J + j];
    all.add_column(j, column);
  }
  all.reduce(MPI_COMM_NULL);
  // Columns 4, 0, 2 of the six, in that order.
  const std::vector<std::size_t> picked{4, 0, 2};
  std::vector<double> picked_origin;
  for (std::size_t c : picked) picked_origin.push_back(origin[c]);
  wm::ReferenceSums direct(picked_origin, false), rest = all.remainder(picked, true);
  for (std::size_t k = 0; k < picked.size(); ++k) {
    std::vector<double> kept, out;
    for (std::size_t i = 0; i < n; ++i)
      (flagged[i] ? out : kept).push_back(values[i * J + picked[k]]);
    direct.add_column(k, kept);
    // In uneven pieces, as blocks of rows.
    rest.subtract_column(k, std::span<const double>(out).first(5));
    rest.subtract_column(k, std::span<const double>(out).subspan(5));
  }
  const auto a = direct.reduce(MPI_COMM_NULL), b = rest.reduce(MPI_COMM_NULL);
  for (std::size_t k = 0; k < picked.size(); ++k) {
    EXPECT_EQ(a[k].n, b[k].n) << k;
    EXPECT_EQ(bits(a[k].mean), bits(b[k].mean)) << k;
    EXPECT_EQ(bits(a[k].m2), bits(b[k].m2)) << k;
    EXPECT_EQ(b[k].kurtosis, 0.0);
  }
  // A rank that only subtracts starts from zero.
  const auto none = all.remainder(picked, false);
  for (const auto& f : wm::ReferenceSums(none).reduce(MPI_COMM_NULL)) EXPECT_EQ(f.n, 0u);
  EXPECT_THROW(all.remainder({6}, true), std::invalid_argument);
  wm::ReferenceSums with_kurtosis(origin);
  EXPECT_THROW(with_kurtosis.subtract_column(0, column), std::logic_error);
}

TEST(FleetLimits, ColumnResidualIsPredictionResidualBitForBit) {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> g(0.0, 1.0);
  std::vector<wm::ColumnFit> fits;
  for (std::uint64_t n : {0u, 1u, 2u, 3u, 4u, 17u, 1000u, 32000u})
    for (double m2 : {0.0, 1e-300, 0.5, 3.7e4, 1e300}) {
      wm::ColumnFit c;
      c.n = n;
      c.mean = 12.5 * g(rng);
      c.m2 = m2;
      fits.push_back(c);
    }
  for (const wm::ColumnFit& c : fits) {
    const wm::ColumnResidual r(c);
    std::vector<double> xs{NAN, INFINITY, -INFINITY, c.mean, -0.0, 1e308, -1e308};
    for (int i = 0; i < 200; ++i)
      xs.push_back(c.mean + std::sqrt(c.m2 / std::max<double>(1.0, c.n)) * 4.0 * g(rng));
    // Many values at once (AVX2 lanes and the scalar tail): max(score, |t| / limit) where the
    // residual is defined, bit for bit.
    std::vector<std::uint8_t> outside(xs.size());
    std::vector<double> score(xs.size()), expected(xs.size());
    for (std::size_t i = 0; i < xs.size(); ++i) {
      // Runs of lanes all in the reference and all outside it (the vector path skips the
      // other residual's divisions there), then a mix.
      outside[i] = static_cast<std::uint8_t>(i < 64 ? 0 : i < 128 ? 1 : rng() % 2);
      score[i] = expected[i] = std::fabs(g(rng));
    }
    const double lim_in = 2.5, lim_out = 3.25;
    for (std::size_t i = 0; i < xs.size(); ++i) {
      const wm::Residual res = wm::prediction_residual(c, xs[i], outside[i] == 0);
      if (res.dof > 0)
        expected[i] =
            std::max(expected[i], std::fabs(res.t) / (outside[i] == 0 ? lim_in : lim_out));
    }
    r.raise_scores(xs.data(), outside.data(), xs.size(), lim_in, lim_out, score.data());
    for (std::size_t i = 0; i < xs.size(); ++i)
      EXPECT_EQ(bits(score[i]), bits(expected[i])) << c.n << " " << c.m2 << " " << xs[i];
    for (const double x : xs)
      for (const bool in : {true, false}) {
        const wm::Residual want = wm::prediction_residual(c, x, in), got = r(x, in);
        EXPECT_EQ(got.dof, want.dof) << c.n << " " << c.m2 << " " << x << " " << in;
        if (std::isnan(want.t)) {
          EXPECT_TRUE(std::isnan(got.t)) << c.n << " " << x;
        } else {
          EXPECT_EQ(got.t, want.t) << c.n << " " << c.m2 << " " << x << " " << in;
        }
      }
  }
}

// The rule out of sample: a reference of good wafers, then new good wafers scored against it.
// Returns the fraction of new wafers with any column beyond its limit.
double false_alarms(bool heavy_tails, bool kurtosis_limits, double a) {
  constexpr std::size_t J = 20, n = 400, trials = 20000;
  std::mt19937_64 rng(heavy_tails ? 11 : 12);
  std::normal_distribution<double> g(0.0, 1.0);
  std::student_t_distribution<double> t(5.0);
  auto draw = [&](std::size_t j) {
    return 10.0 * static_cast<double>(j) + (heavy_tails ? t(rng) : g(rng));
  };
  std::vector<double> origin(J);
  for (std::size_t j = 0; j < J; ++j) origin[j] = 10.0 * static_cast<double>(j);
  wm::ReferenceSums sums(origin);
  std::vector<double> x(J);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < J; ++j) x[j] = draw(j);
    sums.add(x);
  }
  const std::vector<wm::ColumnFit> fit = sums.reduce(MPI_COMM_NULL);
  std::vector<double> limit(J);
  for (std::size_t j = 0; j < J; ++j)
    limit[j] =
        kurtosis_limits ? wm::column_limit(fit[j], n - 1, J, a) : wm::prediction_limit(n - 1, J, a);
  std::size_t flagged = 0;
  for (std::size_t i = 0; i < trials; ++i) {
    bool any = false;
    for (std::size_t j = 0; j < J; ++j)
      any |= std::fabs(wm::prediction_residual(fit[j], draw(j), false).t) > limit[j];
    flagged += any;
  }
  return static_cast<double>(flagged) / trials;
}

TEST(FleetLimits, OutOfSampleFalseAlarmsAtMostTheStatedRate) {
  const double a = 0.01, band = 3.0 * std::sqrt(a * (1 - a) / 20000.0);
  // Normal columns: Bonferroni holds (at most a, within the binomial band).
  EXPECT_LE(false_alarms(false, true, a), a + band);
  // Heavy tails (t_5): the normal-theory limit breaks its promise (measured 0.08); the kurtosis
  // limit cuts the excess but does not remove it (measured 0.031: a sample kurtosis of t_5
  // underestimates its tails), as docs/MONITORING.md "Without a model" says.
  const double normal = false_alarms(true, false, a), widened = false_alarms(true, true, a);
  std::printf("t_5 columns at a = %.2f: normal-theory limits %.4f, kurtosis limits %.4f\n", a,
              normal, widened);
  EXPECT_GT(normal, 4.0 * a);
  EXPECT_LT(widened, 0.5 * normal);
  EXPECT_LE(widened, 4.0 * a);
}
