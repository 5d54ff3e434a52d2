// The PCA model of good wafers (docs/MONITORING.md): the fit, its limits' out-of-sample
// false-alarm rate, contributions, the column rules and the model file.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "wafermill/error.hpp"
#include "wafermill/format/h5.hpp"
#include "wafermill/model/pca_fit.hpp"
#include "wafermill/model/pca_model.hpp"

namespace wm = wafermill::model;

namespace {

constexpr std::size_t kCols = 12;

// Good wafers: 3 latent factors drive 12 columns, plus noise; columns on different scales.
struct Process {
  std::mt19937_64 rng;
  std::normal_distribution<double> g{0.0, 1.0};
  std::vector<double> mix;
  explicit Process(std::uint64_t seed) : rng(seed), mix(3 * kCols) {
    std::mt19937_64 fixed(1234);
    std::normal_distribution<double> h(0.0, 1.0);
    for (double& m : mix) m = h(fixed);
  }
  std::vector<double> row() {
    double f[3] = {g(rng), g(rng), g(rng)};
    std::vector<double> x(kCols);
    for (std::size_t j = 0; j < kCols; ++j) {
      x[j] = 0.3 * g(rng);
      for (int k = 0; k < 3; ++k) x[j] += mix[k * kCols + j] * f[k];
      x[j] = 100.0 * static_cast<double>(j + 1) + static_cast<double>(j + 1) * x[j];
    }
    return x;
  }
};

wm::ReferenceRows reference(Process& p, std::size_t n) {
  wm::ReferenceRows r;
  for (std::size_t j = 0; j < kCols; ++j) {
    std::string name = "s";  // appended, not `"s" + ...`: GCC PR 105329 (-Wrestrict)
    name += std::to_string(j);
    r.column_sensor.push_back(name);
    r.column_feature.push_back("mean");
  }
  for (std::size_t i = 0; i < n; ++i) {
    const auto x = p.row();
    r.values.insert(r.values.end(), x.begin(), x.end());
  }
  return r;
}

}  // namespace

TEST(PcaModel, ConformalQuantileIsTheRankedValue) {
  std::vector<double> v;
  for (int i = 1; i <= 99; ++i) v.push_back(i);
  // ceil(0.95 * 100) = 95th smallest.
  EXPECT_EQ(wm::conformal_quantile(v, 0.05), 95.0);
  bool few = false;
  EXPECT_EQ(wm::conformal_quantile({1.0, 2.0, 3.0}, 0.01, &few), 3.0);
  EXPECT_TRUE(few);
}

TEST(PcaModel, FitIsOrthonormalAndCentred) {
  Process p(1);
  const auto ref = reference(p, 300);
  wm::FitOptions o;
  o.false_alarm_rate = 0.05;
  const wm::PcaModel m = wm::fit_pca(ref, o, MPI_COMM_NULL);
  ASSERT_EQ(m.n_columns(), kCols);
  EXPECT_GE(m.n_components, 2u);
  EXPECT_LE(m.n_components, 4u);  // 3 factors + noise reach 90 % within 4 components
  EXPECT_GE(m.explained.back(), 0.9);
  const std::size_t A = m.n_components;
  for (std::size_t a = 0; a < A; ++a)
    for (std::size_t b = 0; b < A; ++b) {
      double dot = 0;
      for (std::size_t j = 0; j < kCols; ++j) dot += m.loadings[j * A + a] * m.loadings[j * A + b];
      EXPECT_NEAR(dot, a == b ? 1.0 : 0.0, 1e-10);
    }
  const wm::WaferVerdict v = wm::score_wafer(m, m.centre);
  EXPECT_NEAR(v.t2, 0.0, 1e-20);
  EXPECT_NEAR(v.spe, 0.0, 1e-20);
  EXPECT_EQ(v.reason, wm::kReasonNone);
  EXPECT_TRUE(m.warning.empty());
}

// The stated rate holds on good wafers the model has not seen: within the binomial error of
// the test wafers and of the reference's own calibration (sd ≈ sqrt(A(1-A)/n) each).
TEST(PcaModel, OutOfSampleFalseAlarmRateIsTheOneAskedFor) {
  for (const double rate : {0.01, 0.05}) {
    Process p(7);
    const std::size_t n = 800, fresh = 20000;
    const auto ref = reference(p, n);
    wm::FitOptions o;
    o.false_alarm_rate = rate;
    const wm::PcaModel m = wm::fit_pca(ref, o, MPI_COMM_NULL);
    std::size_t flagged = 0;
    for (std::size_t i = 0; i < fresh; ++i)
      flagged += wm::score_wafer(m, p.row()).reason != wm::kReasonNone;
    const double observed = static_cast<double>(flagged) / fresh;
    const double sd = std::sqrt(rate * (1 - rate) * (1.0 / fresh + 1.0 / n));
    EXPECT_NEAR(observed, rate, 3.0 * sd) << "A = " << rate;
    EXPECT_NEAR(m.heldout_false_alarm_rate, rate, 3.0 * std::sqrt(rate * (1 - rate) / n));
  }
}

TEST(PcaModel, ContributionsNameTheFaultyColumn) {
  Process p(3);
  const auto ref = reference(p, 400);
  const wm::PcaModel m = wm::fit_pca(ref, {}, MPI_COMM_NULL);
  for (std::size_t bad = 0; bad < kCols; ++bad) {
    auto x = p.row();
    x[bad] += 8.0 * m.scale[bad];
    std::vector<double> c;
    const wm::WaferVerdict v = wm::score_wafer(m, x, &c);
    ASSERT_NE(v.reason, wm::kReasonNone) << bad;
    std::size_t top = 0;
    for (std::size_t j = 1; j < kCols; ++j)
      if (std::fabs(c[j]) > std::fabs(c[top])) top = j;
    EXPECT_EQ(top, bad);
    double sum = 0;
    for (double v2 : c) sum += v2;
    EXPECT_NEAR(sum, v.spe / m.spe_limit >= v.t2 / m.t2_limit ? v.spe : v.t2,
                1e-9 * (v.spe + v.t2));
  }
}

TEST(PcaModel, ColumnRulesDropCopiesConstantsAndMostlyMissing) {
  Process p(5);
  auto ref = reference(p, 100);
  wm::ReferenceRows r;
  const std::size_t C = kCols + 3;
  for (std::size_t j = 0; j < kCols; ++j) {
    r.column_sensor.push_back(ref.column_sensor[j]);
    r.column_feature.push_back("mean");
  }
  r.column_sensor.insert(r.column_sensor.end(), {"s0", "s1", "s2"});
  r.column_feature.insert(r.column_feature.end(), {"median", "std", "max"});
  for (std::size_t i = 0; i < 100; ++i) {
    for (std::size_t j = 0; j < kCols; ++j) r.values.push_back(ref.values[i * kCols + j]);
    r.values.push_back(ref.values[i * kCols + 0]);  // s0/median: a copy of s0/mean
    r.values.push_back(i % 3 == 0 ? 1.0 : NAN);     // s1/std: mostly missing
    r.values.push_back(4.0);                        // s2/max: constant
  }
  ASSERT_EQ(r.values.size(), 100 * C);
  const wm::PcaModel m = wm::fit_pca(r, {}, MPI_COMM_NULL);
  EXPECT_EQ(m.n_columns(), kCols);
  for (std::size_t j = 0; j < m.n_columns(); ++j) EXPECT_EQ(m.column_feature[j], "mean");
}

TEST(PcaModel, TooFewWafersIsBadInput) {
  Process p(2);
  const auto ref = reference(p, 4);
  EXPECT_THROW(wm::fit_pca(ref, {}, MPI_COMM_NULL), wafermill::InputError);
}

TEST(PcaModel, SmallReferenceWarnsThatItCannotCalibrateTheRate) {
  Process p(2);
  const auto ref = reference(p, 30);
  wm::FitOptions o;
  o.false_alarm_rate = 0.01;
  const wm::PcaModel m = wm::fit_pca(ref, o, MPI_COMM_NULL);
  EXPECT_NE(m.warning.find("cannot calibrate"), std::string::npos);
}

TEST(PcaModel, FileRoundTripKeepsEveryBit) {
  Process p(9);
  const auto ref = reference(p, 200);
  wm::FitOptions o;
  o.scoring = wm::FoldScoring::folds;  // 12 columns for 200 wafers: auto would not keep them
  const wm::PcaModel m = wm::fit_pca(ref, o, MPI_COMM_NULL);
  const std::string path = ::testing::TempDir() + "/pca_round_trip.h5";
  wm::write_model(m, path);
  const wm::PcaModel r = wm::read_model(path);
  // The fold models (format v5): each one's components and scaling, and the shared limits.
  EXPECT_EQ(wafermill::format::h5::File::open_read(path).read_string_attribute("format"),
            "wafermill pca model v5");
  ASSERT_EQ(r.fold_models.size(), 5u);
  ASSERT_EQ(m.fold_models.size(), 5u);
  for (std::size_t f = 0; f < 5; ++f) {
    const wm::PcaModel &a = m.fold_models[f], &b = r.fold_models[f];
    EXPECT_EQ(b.centre, a.centre);
    EXPECT_EQ(b.scale, a.scale);
    EXPECT_EQ(b.n_components, a.n_components);
    EXPECT_EQ(b.loadings, a.loadings);
    EXPECT_EQ(b.eigenvalues, a.eigenvalues);
    EXPECT_EQ(b.t2_limit, m.t2_limit);
    EXPECT_EQ(b.spe_limit, m.spe_limit);
    EXPECT_NE(a.centre, m.centre);  // a training set of 4/5 of the reference
    EXPECT_EQ(&r.scorer(f + 5 * 17), &r.fold_models[f]);
  }
  EXPECT_EQ(r.column_sensor, m.column_sensor);
  EXPECT_EQ(r.column_feature, m.column_feature);
  EXPECT_EQ(r.centre, m.centre);
  EXPECT_EQ(r.scale, m.scale);
  EXPECT_EQ(r.loadings, m.loadings);
  EXPECT_EQ(r.eigenvalues, m.eigenvalues);
  EXPECT_EQ(r.t2_limit, m.t2_limit);
  EXPECT_EQ(r.spe_limit, m.spe_limit);
  EXPECT_EQ(r.n_reference, m.n_reference);
  EXPECT_EQ(r.method, m.method);
  std::remove(path.c_str());
}

// `fit --scoring full`, and auto with fewer columns than half the reference wafers: no fold
// models, format v2 as before, every wafer scored by the model.
TEST(PcaModel, FullScoringKeepsNoFoldModels) {
  Process p(9);
  const auto ref = reference(p, 200);
  EXPECT_FALSE(wm::fit_pca(ref, {}, MPI_COMM_NULL).fold_scored());  // auto: 2 * 12 <= 200
  EXPECT_TRUE(wm::fit_pca(reference(p, 23), {}, MPI_COMM_NULL).fold_scored());  // 2 * 12 > 23
  wm::FitOptions o;
  o.scoring = wm::FoldScoring::full;
  const wm::PcaModel m = wm::fit_pca(ref, o, MPI_COMM_NULL);
  EXPECT_FALSE(m.fold_scored());
  EXPECT_EQ(&m.scorer(3), &m);
  const std::string path = ::testing::TempDir() + "/pca_full.h5";
  wm::write_model(m, path);
  EXPECT_EQ(wafermill::format::h5::File::open_read(path).read_string_attribute("format"),
            "wafermill pca model v2");
  EXPECT_TRUE(wm::read_model(path).fold_models.empty());
  std::remove(path.c_str());
}

// Many more columns than reference wafers (docs/MONITORING.md "More columns than wafers"): the
// whole reference's model keeps more (noise) components than the fold models whose held-out
// scores set the limits, and flags far more than A of unseen good wafers; scoring wafer w with
// fold model w mod k (cross-conformal) keeps A within its binomial error.
TEST(PcaModel, FoldModelsKeepTheRateWithMoreColumnsThanWafers) {
  const std::size_t n = 180, J = 600, fresh = 4000;
  std::mt19937_64 fixed(77), rng(78);
  std::normal_distribution<double> g(0.0, 1.0);
  std::vector<double> mix(3 * J);
  for (double& v : mix) v = g(fixed);
  auto row = [&] {
    const double f[3] = {g(rng), g(rng), g(rng)};
    std::vector<double> x(J);
    for (std::size_t j = 0; j < J; ++j) {
      x[j] = 2.0 * g(rng);  // noise carries most of the variance: the 90 % rule keeps ~n of it
      for (int k = 0; k < 3; ++k) x[j] += mix[k * J + j] * f[k];
    }
    return x;
  };
  wm::ReferenceRows ref;
  for (std::size_t j = 0; j < J; ++j) {
    std::string name = "s";
    name += std::to_string(j);
    ref.column_sensor.push_back(name);
    ref.column_feature.push_back("mean");
  }
  for (std::size_t i = 0; i < n; ++i) {
    const auto x = row();
    ref.values.insert(ref.values.end(), x.begin(), x.end());
  }
  wm::FitOptions o;
  o.false_alarm_rate = 0.05;
  const wm::PcaModel m = wm::fit_pca(ref, o, MPI_COMM_NULL);
  ASSERT_EQ(m.fold_models.size(), 5u);
  std::size_t folds = 0, whole = 0;
  for (std::size_t w = 0; w < fresh; ++w) {
    const auto x = row();
    folds += wm::score_wafer(m.scorer(w), x).reason != wm::kReasonNone;
    whole += wm::score_wafer(m, x).reason != wm::kReasonNone;
  }
  const double rate = 0.05, observed = static_cast<double>(folds) / fresh;
  const double sd = std::sqrt(rate * (1 - rate) * (1.0 / fresh + 1.0 / n));
  EXPECT_NEAR(observed, rate, 3.0 * sd) << "fold models: " << folds << " of " << fresh;
  // The regime is the one of the defect: the whole reference's model is far above A.
  EXPECT_GT(static_cast<double>(whole) / fresh, 0.15) << whole << " of " << fresh;
}

// By-step columns (fit --by-step, docs/MONITORING.md "Steps"): a step column that is a bitwise
// copy of its sensor's whole-wafer column (an input of one step) is dropped like any copy, one of
// another step is kept; the model records each column's step and the file keeps it (format v4,
// /column_step), with groups too; a model without step columns is v2 and keeps none.
TEST(PcaModel, StepColumnsFollowTheCopyRuleAndRoundTrip) {
  Process p(11);
  const std::size_t n = 300;
  const auto base = reference(p, n);
  std::mt19937_64 rng(3);
  std::normal_distribution<double> g(0.0, 1.0);
  wm::ReferenceRows r;
  for (std::int32_t k : {-1, 0, 1})
    for (std::size_t j = 0; j < kCols; ++j) {
      r.column_sensor.push_back(base.column_sensor[j]);
      r.column_feature.push_back("mean");
      r.column_step.push_back(k);
    }
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < kCols; ++j) r.values.push_back(base.values[i * kCols + j]);
    for (std::size_t j = 0; j < kCols; ++j)
      r.values.push_back(base.values[i * kCols + j]);  // copies
    for (std::size_t j = 0; j < kCols; ++j)
      r.values.push_back(0.5 * base.values[i * kCols + j] + g(rng));
    r.group.push_back(std::to_string(i % 2));
  }
  wm::PcaModel m = wm::fit_pca(r, {}, MPI_COMM_NULL);
  ASSERT_EQ(m.n_columns(), 2 * kCols);
  ASSERT_TRUE(m.has_step_columns());
  for (std::size_t j = 0; j < m.n_columns(); ++j) EXPECT_EQ(m.step_of(j), j < kCols ? -1 : 1) << j;
  const std::string path = ::testing::TempDir() + "/pca_steps.h5";
  for (const bool grouped : {false, true}) {
    wm::FitOptions o;
    o.scoring = wm::FoldScoring::folds;  // 24 columns, 300 wafers: auto would not keep them
    if (grouped) o.group_by = "tool_id";
    m = wm::fit_pca(r, o, MPI_COMM_NULL);
    wm::write_model(m, path);
    {
      const auto f = wafermill::format::h5::File::open_read(path);
      EXPECT_EQ(f.read_string_attribute("format"), "wafermill pca model v5");  // fold models
    }
    const wm::PcaModel back = wm::read_model(path);
    EXPECT_EQ(back.column_step, m.column_step);
    EXPECT_EQ(back.loadings, m.loadings);
    EXPECT_EQ(back.grouped(), grouped);
    EXPECT_EQ(back.group_names, m.group_names);
    EXPECT_EQ(back.group_centre, m.group_centre);
    // Each fold model scales by its own training set's groups (the held-out fold not in them).
    ASSERT_EQ(back.fold_models.size(), 5u);
    for (std::size_t f = 0; f < 5; ++f) {
      const wm::PcaModel &a = m.fold_models[f], &b = back.fold_models[f];
      EXPECT_EQ(b.loadings, a.loadings);
      EXPECT_EQ(b.grouped(), grouped);
      EXPECT_EQ(b.group_names, m.group_names);
      EXPECT_EQ(b.group_centre, a.group_centre);
      EXPECT_EQ(b.group_scale, a.group_scale);
      EXPECT_EQ(b.fleet_centre, a.fleet_centre);
      if (grouped) {
        EXPECT_NE(a.group_centre, m.group_centre);
      }
    }
  }
  // Whole-wafer columns only: no steps recorded, format v2 as before (auto: no fold models).
  const wm::PcaModel whole = wm::fit_pca(base, {}, MPI_COMM_NULL);
  EXPECT_TRUE(whole.column_step.empty());
  wm::write_model(whole, path);
  {
    const auto f = wafermill::format::h5::File::open_read(path);
    EXPECT_EQ(f.read_string_attribute("format"), "wafermill pca model v2");
    EXPECT_FALSE(f.has_dataset("column_step"));
  }
  wm::FitOptions folds;
  folds.scoring = wm::FoldScoring::folds;
  wm::write_model(wm::fit_pca(base, folds, MPI_COMM_NULL), path);
  {
    const auto f = wafermill::format::h5::File::open_read(path);
    EXPECT_EQ(f.read_string_attribute("format"), "wafermill pca model v5");
    EXPECT_FALSE(f.has_dataset("column_step"));
  }
  EXPECT_EQ(wm::read_model(path).step_of(0), -1);
  std::remove(path.c_str());
}

TEST(PcaModel, ReadingSomethingElseNamesTheFile) {
  const std::string path = ::testing::TempDir() + "/not_a_model.txt";
  std::FILE* f = std::fopen(path.c_str(), "w");
  std::fputs("hello", f);
  std::fclose(f);
  try {
    wm::read_model(path);
    FAIL() << "no error";
  } catch (const wafermill::InputError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
  }
  std::remove(path.c_str());
}

// fit --group-by: groups with large offsets. The model stores each group's centre and scale
// (the group's mean and sd), a wafer of a known group is scaled by them, one of an unknown group
// by the fleet's; the model file keeps them; a wafer at its group's mean scores lower than at
// another group's mean.
TEST(PcaModel, GroupByScalesEachGroupByItsOwnStatistics) {
  Process p(7);
  const std::size_t n = 400;
  wm::ReferenceRows ref = reference(p, n);
  const double shift[3] = {0.0, 40.0, -60.0};  // group offsets, many within-group sds
  for (std::size_t i = 0; i < n; ++i) {
    ref.group.push_back(std::to_string(i % 3));
    for (std::size_t j = 0; j < kCols; ++j)
      ref.values[i * kCols + j] += shift[i % 3] * static_cast<double>(j + 1);
  }
  wm::FitOptions o;
  o.false_alarm_rate = 0.05;
  o.group_by = "tool_id";
  const wm::PcaModel m = wm::fit_pca(ref, o, MPI_COMM_NULL);
  ASSERT_TRUE(m.grouped());
  ASSERT_EQ(m.group_names, (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_EQ(m.group_count[0] + m.group_count[1] + m.group_count[2], n);
  const std::size_t J = m.n_columns();
  for (std::size_t g = 0; g < 3; ++g)
    for (std::size_t j = 0; j < J; ++j) {
      double s = 0, ss = 0, c = 0;
      for (std::size_t i = g; i < n; i += 3) {
        s += ref.values[i * kCols + j];
        c += 1;
      }
      const double mean = s / c;
      for (std::size_t i = g; i < n; i += 3) ss += std::pow(ref.values[i * kCols + j] - mean, 2);
      EXPECT_NEAR(m.group_centre[g * J + j], mean, 1e-9 * std::fabs(mean));
      EXPECT_NEAR(m.group_scale[g * J + j], std::sqrt(ss / (c - 1)),
                  1e-9 * m.group_scale[g * J + j]);
    }
  EXPECT_EQ(m.group_of("7"), 3u);
  // Group 1's mean, scored as group 1: small; scored as group 2 (60 + 40 sds away): flagged.
  std::vector<double> x(m.group_centre.begin() + static_cast<std::ptrdiff_t>(J),
                        m.group_centre.begin() + static_cast<std::ptrdiff_t>(2 * J));
  std::vector<double> own = x, other = x, fleet = x;
  m.scale_to_group(1, own);
  m.scale_to_group(2, other);
  m.scale_to_group(m.group_of("unknown"), fleet);
  for (std::size_t j = 0; j < J; ++j) EXPECT_NEAR(own[j], 0.0, 1e-9);
  EXPECT_EQ(wm::score_wafer(m, own).reason, wm::kReasonNone);
  EXPECT_NE(wm::score_wafer(m, other).reason, wm::kReasonNone);
  for (std::size_t j = 0; j < J; ++j)
    EXPECT_NEAR(fleet[j], (x[j] - m.fleet_centre[j]) / m.fleet_scale[j], 1e-12);
  // The file keeps the groups bit for bit.
  const std::string path = ::testing::TempDir() + "/grouped_model.h5";
  wm::write_model(m, path);
  const wm::PcaModel r = wm::read_model(path);
  std::remove(path.c_str());
  EXPECT_EQ(r.group_by, "tool_id");
  EXPECT_EQ(r.group_names, m.group_names);
  EXPECT_EQ(r.group_count, m.group_count);
  EXPECT_EQ(r.group_centre, m.group_centre);
  EXPECT_EQ(r.group_scale, m.group_scale);
  EXPECT_EQ(r.fleet_centre, m.fleet_centre);
  EXPECT_EQ(r.fleet_scale, m.fleet_scale);
  // The same reference without groups: the model has none.
  wm::FitOptions plain = o;
  plain.group_by.clear();
  EXPECT_FALSE(wm::fit_pca(ref, plain, MPI_COMM_NULL).grouped());
}

// fit --univariate: a third limit, on every column's |z|, calibrated with T² and SPE by one
// conformal limit, so the stated rate still holds for the three together on unseen good wafers;
// a wafer with one column far out (inside T² and SPE's limits) is flagged for it alone.
TEST(PcaModel, UnivariateLimitKeepsTheRateAndFlagsOneColumn) {
  for (const double rate : {0.01, 0.05}) {
    Process p(11);
    const std::size_t n = 800, fresh = 20000;
    const auto ref = reference(p, n);
    wm::FitOptions o;
    o.false_alarm_rate = rate;
    o.univariate = true;
    const wm::PcaModel m = wm::fit_pca(ref, o, MPI_COMM_NULL);
    ASSERT_GT(m.univariate_limit, 0.0);
    std::size_t flagged = 0;
    for (std::size_t i = 0; i < fresh; ++i)
      flagged += wm::score_wafer(m, p.row()).reason != wm::kReasonNone;
    const double observed = static_cast<double>(flagged) / fresh;
    const double sd = std::sqrt(rate * (1 - rate) * (1.0 / fresh + 1.0 / n));
    EXPECT_NEAR(observed, rate, 3.0 * sd) << "A = " << rate;
    // One column pushed to just beyond the univariate limit along the model: only that reason.
    wm::PcaModel loose = m;
    loose.t2_limit = loose.spe_limit = 1e300;
    auto x = m.centre;
    x[4] += 1.01 * m.univariate_limit * m.scale[4];
    const auto e = wm::explain_wafer(loose, x, 3);
    EXPECT_EQ(e.verdict.reason, wm::kReasonUnivariate);
    ASSERT_FALSE(e.top_columns.empty());
    EXPECT_EQ(e.top_columns[0], 4u);
    EXPECT_DOUBLE_EQ(e.top_shares[0], 1.0);
  }
  // The model file keeps the limit; a model without it (0) never flags for it.
  Process p(12);
  wm::FitOptions o;
  o.univariate = true;
  const wm::PcaModel m = wm::fit_pca(reference(p, 300), o, MPI_COMM_NULL);
  const std::string path = ::testing::TempDir() + "/univariate_model.h5";
  wm::write_model(m, path);
  EXPECT_EQ(wm::read_model(path).univariate_limit, m.univariate_limit);
  std::remove(path.c_str());
  wm::PcaModel none = m;
  none.univariate_limit = 0.0;
  auto x = m.centre;
  x[0] += 1e6 * m.scale[0];
  EXPECT_EQ(wm::score_wafer(none, x).reason & wm::kReasonUnivariate, 0);
}
