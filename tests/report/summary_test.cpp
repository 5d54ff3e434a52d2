// The run's text summary names what the input holds and where accuracy figures come from:
// a maps-only input is not "maps and images"; real labels are not "planted truth"; wafers of a
// single sample (UCI SECOM) get a note that std, skewness, kurtosis and slope are undefined.
#include <gtest/gtest.h>

#include "wafermill/report/run_report.hpp"

namespace wafermill::report {
namespace {

RunReport pictures_only(nlohmann::json pictures) {
  RunReport r;
  r.provenance.version = "0.1.0";
  r.provenance.git_revision = "abc";
  r.provenance.input_path = "maps.h5";
  r.parallel.ranks = 2;
  r.pictures = std::move(pictures);
  return r;
}

nlohmann::json maps_section(nlohmann::json accuracy) {
  nlohmann::json m = {{"wafers", 10},
                      {"wall_s", 0.1},
                      {"latency", {{"p50_s", 0.001}, {"p95_s", 0.002}, {"p99_s", 0.003}}},
                      {"flagged", 4}};
  if (!accuracy.is_null()) m["accuracy"] = std::move(accuracy);
  return m;
}

TEST(TextSummary, MapsOnlyInputSaysMapsNotImages) {
  const std::string s = text_summary(pictures_only({{"maps", maps_section(nullptr)}}));
  EXPECT_NE(s.find("maps.h5: maps, no traces\n"), std::string::npos) << s;
  EXPECT_EQ(s.find("images"), std::string::npos) << s;
  nlohmann::json both = {{"maps", maps_section(nullptr)},
                         {"images", {{"images", 3}, {"latency", {{"p50_s", 0.0}}}}}};
  EXPECT_NE(text_summary(pictures_only(both)).find(": maps and images, no traces"), std::string::npos);
  nlohmann::json images = {{"images", {{"images", 3}, {"latency", {{"p50_s", 0.0}}}}}};
  EXPECT_NE(text_summary(pictures_only(images)).find(": images, no traces"), std::string::npos);
}

TEST(TextSummary, RealLabelsAreNotPlantedTruth) {
  const std::string labels = text_summary(pictures_only({{"maps", maps_section({
      {"truth_source", "/wafers/failure_type"}, {"labelled", 9}, {"agreement", 0.5}})}}));
  EXPECT_NE(labels.find("  vs labels (/wafers/failure_type, 9 labelled): agreement 0.500"),
            std::string::npos)
      << labels;
  EXPECT_EQ(labels.find("planted"), std::string::npos) << labels;
  const std::string planted = text_summary(pictures_only({{"maps", maps_section({
      {"truth_source", "/truth/map_pattern"}, {"labelled", 10}, {"agreement", 1.0}})}}));
  EXPECT_NE(planted.find("  vs planted truth: agreement 1.000"), std::string::npos) << planted;
}

TEST(TextSummary, OneSampleWafersGetANote) {
  RunReport r;
  r.provenance.input_path = "secom.h5";
  r.provenance.n_wafers = 1567;
  r.provenance.n_samples = 1567;
  r.provenance.n_wafers_one_sample = 1567;
  const std::string s = text_summary(r);
  EXPECT_NE(s.find("note: 1567 of 1567 wafers (100.0 %) have one sample: their rms is |x|; std, "
                   "skewness, kurtosis and slope are undefined"),
            std::string::npos)
      << s;
  r.provenance.n_wafers_one_sample = 0;
  EXPECT_EQ(text_summary(r).find("one sample"), std::string::npos);
}

TEST(TextSummary, SkippedFilesAreListedAndKeptInTheJson) {
  RunReport r;
  r.provenance.input_path = "night";
  EXPECT_EQ(text_summary(r).find("skipped"), std::string::npos);
  r.skipped_files = {{"night/a.h5", "night/a.h5: HDF5 crashed (Segmentation fault)"},
                     {"night/b.h5", "/traces: missing"}};
  const std::string s = text_summary(r);
  EXPECT_NE(s.find("skipped 2 bad input files (--skip-bad-files):\n"
                   "  night/a.h5: HDF5 crashed (Segmentation fault)\n"
                   "  night/b.h5: /traces: missing\n"),
            std::string::npos)
      << s;
  const nlohmann::json j = to_json(r);
  ASSERT_EQ(j.at("skipped_files").size(), 2u);
  EXPECT_EQ(j.at("skipped_files")[1].at("path"), "night/b.h5");
  const RunReport back = run_report_from_json(j);
  ASSERT_EQ(back.skipped_files.size(), 2u);
  EXPECT_EQ(back.skipped_files[0].reason, "night/a.h5: HDF5 crashed (Segmentation fault)");
  EXPECT_TRUE(run_report_from_json(to_json(RunReport{})).skipped_files.empty());
}

}  // namespace
}  // namespace wafermill::report
