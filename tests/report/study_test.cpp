// Aggregation of run reports into a study: medians, bars, baselines, Amdahl, weak scaling.
#include <cmath>
#include <fstream>

#include <gtest/gtest.h>

#include "study_fixture.hpp"
#include "wafermill/error.hpp"
#include "wafermill/report/study.hpp"

namespace wafermill::report {
namespace {

using testing::amdahl_time;
using testing::fresh_dir;
using testing::make_report;
using testing::SyntheticRun;

const StudySeries& series_named(const Study& s, const std::string& label) {
  for (const auto& x : s.series)
    if (x.label == label) return x;
  throw std::runtime_error("no series " + label);
}

TEST(Summarise, MedianMinMaxIgnoringNonFinite) {
  const Spread odd = summarise({3.0, 1.0, 2.0});
  EXPECT_EQ(odd.median, 2.0);
  EXPECT_EQ(odd.min, 1.0);
  EXPECT_EQ(odd.max, 3.0);
  EXPECT_EQ(odd.n, 3u);
  const Spread even = summarise({4.0, NAN, 1.0, 2.0, 10.0});
  EXPECT_EQ(even.median, 3.0);  // (2 + 4) / 2
  EXPECT_EQ(even.n, 4u);
  const Spread none = summarise({NAN});
  EXPECT_EQ(none.n, 0u);
  EXPECT_TRUE(std::isnan(none.median));
}

TEST(Study, AggregatesReportFilesFromADirectory) {
  const auto dir = fresh_dir("aggregate");
  const auto paths = testing::write_policy_study(dir);
  // Other JSON in the directory (a previous study) is not a report and is skipped.
  std::ofstream(dir / "study.json") << R"({"wafermill_study": 1, "metrics": {}})";
  const auto runs = load_study_runs({dir.string()});
  ASSERT_EQ(runs.size(), paths.size());
  const Study s = build_study(runs, std::nullopt);
  EXPECT_EQ(s.kind, ScalingKind::strong);
  ASSERT_EQ(s.series.size(), 3u);
  const StudySeries& dyn = series_named(s, "dynamic/cpu");
  ASSERT_EQ(dyn.points.size(), 3u);
  EXPECT_EQ(dyn.baseline_ranks, 1);
  for (const auto& p : dyn.points) {
    const double t = amdahl_time(10.0, 0.05, p.ranks);
    EXPECT_EQ(p.runs.size(), 3u);
    EXPECT_DOUBLE_EQ(p.time_s.median, t);
    EXPECT_DOUBLE_EQ(p.time_s.min, 0.98 * t);
    EXPECT_DOUBLE_EQ(p.time_s.max, 1.05 * t);
    // S = T1 / T(P) from medians; its bar runs from the slowest to the fastest run.
    ASSERT_TRUE(p.speedup && p.efficiency);
    EXPECT_NEAR(p.speedup->median, 10.0 / t, 1e-12);
    EXPECT_NEAR(p.speedup->min, 10.0 / (1.05 * t), 1e-12);
    EXPECT_NEAR(p.speedup->max, 10.0 / (0.98 * t), 1e-12);
    EXPECT_NEAR(p.efficiency->median, 10.0 / t / p.ranks, 1e-12);
    // The fixture's phases: read 30 %, compute 40 %, reduce 5 %, wait 5 %, the rest other.
    EXPECT_NEAR(p.phases.read.median, 0.30 * t, 1e-12);
    EXPECT_NEAR(p.phases.compute.median, 0.40 * t, 1e-12);
    EXPECT_NEAR(p.phases.other.median, 0.20 * t, 1e-12);
    EXPECT_NEAR(p.wafers_per_s.median, 1000 / t, 1e-9);
  }
  EXPECT_DOUBLE_EQ(series_named(s, "static/cpu").points[2].imbalance.median, 1.6);
  EXPECT_FALSE(dyn.points[0].karp_flatt);  // undefined at P = 1
}

TEST(Study, NamedFileThatIsNotAReportIsBadInput) {
  const auto dir = fresh_dir("bad");
  std::ofstream(dir / "x.json") << R"({"hello": 1})";
  EXPECT_THROW(load_study_runs({(dir / "x.json").string()}), InputError);
  EXPECT_THROW(load_study_runs({(dir / "missing.json").string()}), InputError);
  EXPECT_THROW(load_study_runs({fresh_dir("empty").string()}), InputError);
}

TEST(Amdahl, RecoversAKnownSerialFractionFromExactTimes) {
  std::vector<int> ranks;
  std::vector<double> times;
  for (int p : {1, 2, 4, 8, 16}) {
    ranks.push_back(p);
    times.push_back(amdahl_time(12.5, 0.07, p));
  }
  const auto fit = fit_amdahl(ranks, times);
  ASSERT_TRUE(fit);
  EXPECT_NEAR(fit->serial_fraction, 0.07, 1e-12);
  EXPECT_NEAR(fit->t1_s, 12.5, 1e-10);
  EXPECT_LT(fit->serial_fraction_error, 1e-9);
  EXPECT_LT(fit->residual_rms_s, 1e-10);
  EXPECT_EQ(fit->n_runs, 5u);
}

TEST(Amdahl, NoisyTimesGiveAnErrorThatCoversTheTruth) {
  std::vector<int> ranks;
  std::vector<double> times;
  const double noise[] = {1.03, 0.97, 1.02, 0.99, 1.01, 0.98, 1.0, 1.02};
  int i = 0;
  for (int p : {1, 2, 4, 8})
    for (int rep = 0; rep < 2; ++rep, ++i) {
      ranks.push_back(p);
      times.push_back(noise[i] * amdahl_time(10.0, 0.2, p));
    }
  const auto fit = fit_amdahl(ranks, times);
  ASSERT_TRUE(fit);
  EXPECT_GT(fit->serial_fraction_error, 1e-4);
  EXPECT_NEAR(fit->serial_fraction, 0.2, 3 * fit->serial_fraction_error);
  // Independently with numpy: lstsq of [1, 1/P], C = σ² (XᵀX)⁻¹, SE(f) = sqrt(gᵀ C g) with
  // g = (b, −a) / (a + b)².
  EXPECT_NEAR(fit->serial_fraction, 0.20143941171868893, 1e-12);
  EXPECT_NEAR(fit->serial_fraction_error, 0.01248735501221016, 1e-12);
}

TEST(Amdahl, NeedsTwoRankCountsAndGivesNoErrorFromTwoRuns) {
  EXPECT_FALSE(fit_amdahl({4, 4, 4}, {1.0, 1.1, 0.9}));
  const auto two = fit_amdahl({1, 2}, {10.0, 6.0});
  ASSERT_TRUE(two);
  EXPECT_NEAR(two->serial_fraction, 0.2, 1e-12);  // 6 = 10 (f + (1 - f)/2)
  EXPECT_TRUE(std::isnan(two->serial_fraction_error));
  EXPECT_THROW(fit_amdahl({1, 2}, {1.0}), std::invalid_argument);
}

TEST(Study, KarpFlattOfExactAmdahlTimesIsTheSerialFraction) {
  std::vector<StudyRun> runs;
  for (int p : {1, 2, 4, 8}) {
    SyntheticRun s;
    s.ranks = p;
    s.wall_s = amdahl_time(8.0, 0.125, p);
    runs.push_back({"P" + std::to_string(p), make_report(s)});
  }
  const Study st = build_study(runs, ScalingKind::strong);
  ASSERT_EQ(st.series.size(), 1u);
  for (const auto& p : st.series[0].points) {
    if (p.ranks == 1) continue;
    ASSERT_TRUE(p.karp_flatt);
    EXPECT_NEAR(*p.karp_flatt, 0.125, 1e-12) << "P=" << p.ranks;
  }
  ASSERT_TRUE(st.series[0].amdahl);
  EXPECT_NEAR(st.series[0].amdahl->serial_fraction, 0.125, 1e-12);
  EXPECT_LT(st.series[0].amdahl->serial_fraction_error, 1e-9);
}

TEST(Study, WeakScalingEfficiencyIsT1OverTP) {
  // Input grows with P (1000 wafers per rank, a different file each), time grows slowly.
  std::vector<StudyRun> runs;
  for (int p : {1, 2, 4, 8}) {
    SyntheticRun s;
    s.ranks = p;
    s.wafers = 1000u * p;
    s.fingerprint = "fnv1a64:" + std::to_string(p);
    s.wall_s = 5.0 * (1.0 + 0.1 * std::log2(p));
    runs.push_back({"weak-P" + std::to_string(p), make_report(s)});
  }
  const Study st = build_study(runs, std::nullopt);
  EXPECT_EQ(st.kind, ScalingKind::weak);
  const auto& points = st.series.at(0).points;
  for (const auto& p : points) {
    const double e = 1.0 / (1.0 + 0.1 * std::log2(p.ranks));
    ASSERT_TRUE(p.efficiency);
    EXPECT_NEAR(p.efficiency->median, e, 1e-12);
    EXPECT_NEAR(p.speedup->median, p.ranks * e, 1e-12);  // scaled speedup
    EXPECT_FALSE(p.karp_flatt);
    EXPECT_EQ(p.wafers, 1000u * p.ranks);
  }
  EXPECT_FALSE(st.series[0].amdahl);
  // Forcing strong scaling on differing inputs is allowed, with a warning.
  const Study forced = build_study(runs, ScalingKind::strong);
  EXPECT_FALSE(forced.notes.empty());
}

TEST(Study, BaselineFallsBackToSequentialFiguresThenToTheSmallestP) {
  std::vector<StudyRun> runs;
  for (int p : {2, 4}) {
    SyntheticRun s;
    s.ranks = p;
    s.wall_s = 8.0 / p;
    runs.push_back({"P" + std::to_string(p), make_report(s)});
  }
  const Study relative = build_study(runs, std::nullopt);
  const auto& rs = relative.series.at(0);
  EXPECT_EQ(rs.baseline_ranks, 2);
  EXPECT_NEAR(rs.points[1].speedup->median, 4.0, 1e-12);  // S = 2 · T(2) / T(4)
  EXPECT_FALSE(rs.points[1].karp_flatt);
  EXPECT_FALSE(relative.notes.empty());

  RunFigures seq;
  seq.ranks = 1;
  seq.wall_s = 10.0;
  for (auto& r : runs) r.report.sequential = seq;
  const Study with_seq = build_study(runs, std::nullopt);
  const auto& ss = with_seq.series.at(0);
  EXPECT_EQ(ss.baseline_ranks, 1);
  ASSERT_TRUE(ss.baseline_s);
  EXPECT_DOUBLE_EQ(*ss.baseline_s, 10.0);
  EXPECT_NEAR(ss.points[0].speedup->median, 2.5, 1e-12);
}

TEST(Study, ParsesScalingKinds) {
  EXPECT_EQ(parse_scaling_kind("weak"), ScalingKind::weak);
  EXPECT_EQ(to_string(parse_scaling_kind("strong")), "strong");
  EXPECT_THROW(parse_scaling_kind("medium"), UsageError);
  EXPECT_THROW(build_study({}, std::nullopt), InputError);
}

}  // namespace
}  // namespace wafermill::report
