// The regression gate: reference study from study.json, tolerances, verdicts.
#include <algorithm>
#include <fstream>

#include <gtest/gtest.h>

#include "study_fixture.hpp"
#include "wafermill/error.hpp"
#include "wafermill/report/study_gate.hpp"
#include "wafermill/report/study_writer.hpp"

namespace wafermill::report {
namespace {

using testing::fresh_dir;

Study policy_study(const std::string& name, double slowdown) {
  const auto dir = fresh_dir(name);
  return build_study(load_study_runs({testing::write_policy_study(dir, slowdown)}), std::nullopt);
}

// The reference as the nightly job has it: last night's study.json in its directory.
ReferenceStudy reference_on_disk(const std::string& name) {
  const auto dir = fresh_dir(name + "-ref");
  write_study_files(policy_study(name + "-ref-runs", 1.0), dir.string());
  return read_reference_study(dir.string());
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(Gate, MetricNamesCarrySeriesRanksAndKind) {
  const auto m = study_metrics(policy_study("names", 1.0));
  EXPECT_TRUE(m.count("dynamic/cpu P=4 time_s"));
  EXPECT_TRUE(m.count("static/cpu P=2 efficiency"));
  EXPECT_TRUE(m.count("weighted/cpu P=4 karp_flatt"));
  EXPECT_TRUE(m.count("weighted/cpu serial_fraction"));
  EXPECT_FALSE(m.count("dynamic/cpu P=1 karp_flatt"));
  EXPECT_NEAR(m.at("dynamic/cpu P=4 time_s"), testing::amdahl_time(10.0, 0.05, 4), 1e-12);
}

TEST(Gate, FlagsATwentyPercentSlowdown) {
  const ReferenceStudy ref = reference_on_disk("slow");
  const StudyComparison c = compare_studies(policy_study("slow-now", 1.2), ref, default_tolerances());
  const auto bad = c.regressed();
  for (const char* series : {"static/cpu", "weighted/cpu", "dynamic/cpu"})
    for (int p : {1, 2, 4})
      EXPECT_TRUE(contains(bad, std::string(series) + " P=" + std::to_string(p) + " time_s")) << series << p;
  EXPECT_TRUE(contains(bad, "dynamic/cpu P=4 throughput_wafers_per_s"));
  // A uniform slowdown leaves speedup, efficiency and imbalance where they were.
  EXPECT_FALSE(contains(bad, "dynamic/cpu P=4 efficiency"));
  EXPECT_FALSE(contains(bad, "dynamic/cpu P=4 imbalance"));
  for (const auto& m : c.checks)
    if (m.metric == "dynamic/cpu P=4 time_s") {
      EXPECT_NEAR(*m.change(), 0.2, 1e-12);
    }
}

TEST(Gate, PassesWithinToleranceAndWhenFaster) {
  const ReferenceStudy ref = reference_on_disk("within");
  EXPECT_TRUE(compare_studies(policy_study("within-now", 1.05), ref, default_tolerances()).regressed().empty());
  EXPECT_TRUE(compare_studies(policy_study("faster-now", 0.7), ref, default_tolerances()).regressed().empty());
  const auto same = compare_studies(policy_study("same-now", 1.0), ref, default_tolerances());
  std::size_t passed = 0;
  for (const auto& m : same.checks) passed += m.status == "pass";
  EXPECT_GT(passed, 30u);
  for (const auto& m : same.checks)
    if (m.metric.ends_with("karp_flatt")) {
      EXPECT_EQ(m.status, "ungated") << m.metric;
    }
}

TEST(Gate, ReportsNewAndMissingMetricsWithoutFailing) {
  ReferenceStudy ref = reference_on_disk("missing");
  ref.metrics["dynamic/cpu P=8 time_s"] = 1.0;
  ref.metrics.erase("static/cpu P=4 time_s");
  const auto c = compare_studies(policy_study("missing-now", 1.0), ref, default_tolerances());
  EXPECT_TRUE(c.regressed().empty());
  for (const auto& m : c.checks) {
    if (m.metric == "dynamic/cpu P=8 time_s") {
      EXPECT_EQ(m.status, "missing");
    } else if (m.metric == "static/cpu P=4 time_s") {
      EXPECT_EQ(m.status, "new");
    }
  }
  EXPECT_FALSE(c.notes.empty());
}

TEST(Gate, TolerancesFromIniAndJsonFullNamesWinOverKinds) {
  const auto dir = fresh_dir("tolerances");
  std::ofstream(dir / "t.ini") << "# nightly\n[time_s]\nupper = 0.25\n\n[dynamic/cpu P=4 time_s]\nupper = 0.05\nlower = none\n";
  const Tolerances ini = read_tolerances((dir / "t.ini").string());
  EXPECT_DOUBLE_EQ(*tolerance_for(ini, "static/cpu P=4 time_s")->upper, 0.25);
  EXPECT_DOUBLE_EQ(*tolerance_for(ini, "dynamic/cpu P=4 time_s")->upper, 0.05);
  EXPECT_DOUBLE_EQ(*tolerance_for(ini, "dynamic/cpu P=4 efficiency")->lower, -0.10);  // default kept
  EXPECT_FALSE(tolerance_for(ini, "dynamic/cpu P=4 karp_flatt"));

  const ReferenceStudy ref = reference_on_disk("tolerances");
  const auto bad = compare_studies(policy_study("tolerances-now", 1.2), ref, ini).regressed();
  EXPECT_TRUE(contains(bad, "dynamic/cpu P=4 time_s"));   // 20 % > 5 %
  EXPECT_FALSE(contains(bad, "static/cpu P=4 time_s"));   // 20 % < 25 %

  std::ofstream(dir / "t.json") << R"({"efficiency": {"lower": -0.02, "upper": null}})";
  EXPECT_DOUBLE_EQ(*read_tolerances((dir / "t.json").string()).at("efficiency").lower, -0.02);
}

TEST(Gate, RejectsBadTolerancesAndReferences) {
  const auto dir = fresh_dir("bad-tolerances");
  std::ofstream(dir / "a.ini") << "[time_s]\nlower = 0.1\n";
  std::ofstream(dir / "b.ini") << "[time_s]\nslack = 0.1\n";
  std::ofstream(dir / "c.json") << R"({"time_s": {"upper": "ten"}})";
  std::ofstream(dir / "d.ini") << "upper = 0.1\n";
  for (const char* f : {"a.ini", "b.ini", "c.json", "d.ini"})
    EXPECT_THROW(read_tolerances((dir / f).string()), InputError) << f;
  EXPECT_THROW(read_tolerances((dir / "none.ini").string()), InputError);
  std::ofstream(dir / "study.json") << R"({"series": []})";
  EXPECT_THROW(read_reference_study(dir.string()), InputError);
  EXPECT_THROW(read_reference_study((dir / "nowhere").string()), InputError);
}

}  // namespace
}  // namespace wafermill::report
