// The study writers: self-contained HTML with one <svg> per chart, Markdown, JSON, files.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "study_fixture.hpp"
#include "wafermill/error.hpp"
#include "wafermill/report/study_charts.hpp"
#include "wafermill/report/study_gate.hpp"
#include "wafermill/report/study_writer.hpp"

namespace wafermill::report {
namespace {

using testing::fresh_dir;

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

Study compared_study(const std::string& name) {
  const auto ref_dir = fresh_dir(name + "-ref");
  write_study_files(build_study(load_study_runs({testing::write_policy_study(fresh_dir(name + "-a"))}), std::nullopt),
                    ref_dir.string());
  Study s = build_study(load_study_runs({testing::write_policy_study(fresh_dir(name + "-b"), 1.2)}), std::nullopt);
  s.comparison = compare_studies(s, read_reference_study(ref_dir.string()), default_tolerances());
  return s;
}

TEST(Writers, AreChosenByName) {
  for (const auto& name : study_writer_names()) EXPECT_TRUE(make_study_writer(name)) << name;
  EXPECT_EQ(make_study_writer("html")->file_name(), "study.html");
  EXPECT_THROW(make_study_writer("pdf"), UsageError);
}

TEST(Writers, HtmlIsSelfContainedWithOneSvgPerChart) {
  const Study s = compared_study("html");
  const auto charts = study_charts(s);
  // time, speedup, efficiency, Karp-Flatt, throughput, 3 phase charts, imbalance, comparison
  EXPECT_EQ(charts.size(), 10u);
  const std::string html = make_study_writer("html")->render(s);
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);   // no external scripts or images
  EXPECT_EQ(html.find("href="), std::string::npos);  // no external style sheets
  EXPECT_EQ(count(html, "<svg"), charts.size());
  EXPECT_EQ(count(html, "</svg>"), charts.size());
  for (const auto& c : charts) EXPECT_NE(html.find("id=\"chart-" + c.id + "\""), std::string::npos) << c.id;
  // The comparison is on the page, with each regressed metric named.
  EXPECT_NE(html.find("REGRESSED:"), std::string::npos);
  EXPECT_NE(html.find("dynamic/cpu P=4 time_s"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"regressed\">regressed</td>"), std::string::npos);
  // Provenance: the git revision and the input fingerprint of the runs.
  EXPECT_NE(html.find("abc123def456"), std::string::npos);
  EXPECT_NE(html.find("fnv1a64:feedface"), std::string::npos);
}

TEST(Writers, WeakStudyHasNoKarpFlattChart) {
  std::vector<StudyRun> runs;
  for (int p : {1, 2, 4}) {
    testing::SyntheticRun r;
    r.ranks = p;
    r.wafers = 100u * p;
    r.fingerprint = std::to_string(p);
    runs.push_back({"w" + std::to_string(p), testing::make_report(r)});
  }
  const Study s = build_study(runs, std::nullopt);
  const auto charts = study_charts(s);
  for (const auto& c : charts) EXPECT_NE(c.id, "karp-flatt");
  EXPECT_EQ(count(make_study_writer("html")->render(s), "<svg"), charts.size());
}

TEST(Writers, SvgDrawsMarksBarsAndEscapesText) {
  ChartSpec c;
  c.id = "t";
  c.title = "a < b & c";
  c.log2_x = true;
  ChartSeries line;
  line.name = "s1";
  line.x = {1, 2, 4};
  line.y = {3, 2, 1};
  line.lo = {2.5, 1.5, 0.5};
  line.hi = {3.5, 2.5, 1.5};
  c.series.push_back(line);
  const std::string svg = render_svg(c);
  EXPECT_EQ(count(svg, "<circle"), 3u);
  EXPECT_EQ(count(svg, "class=\"range\""), 3u);
  EXPECT_NE(svg.find("a &lt; b &amp; c"), std::string::npos);
  c.type = ChartSpec::Type::stacked_bars;
  c.categories = {"P=1", "P=2", "P=4"};
  EXPECT_EQ(count(render_svg(c), "class=\"bar\""), 3u);
}

TEST(Writers, MarkdownHasTablesAndTheVerdict) {
  const std::string md = make_study_writer("markdown")->render(compared_study("md"));
  EXPECT_EQ(md.rfind("# wafermill scaling study", 0), 0u);
  EXPECT_NE(md.find("| P | nodes | runs |"), std::string::npos);
  EXPECT_NE(md.find("## Series dynamic/cpu"), std::string::npos);
  EXPECT_NE(md.find("REGRESSED:"), std::string::npos);
  EXPECT_NE(md.find("Amdahl fit"), std::string::npos);
  EXPECT_NE(md.find("| regressed |"), std::string::npos);
}

TEST(Writers, JsonCarriesMetricsAndTheComparison) {
  const Study s = compared_study("json");
  const auto j = nlohmann::json::parse(make_study_writer("json")->render(s));
  EXPECT_EQ(j.at("kind"), "strong");
  EXPECT_EQ(j.at("series").size(), 3u);
  EXPECT_EQ(j.at("runs").size(), 27u);
  const auto metrics = study_metrics(s);
  EXPECT_EQ(j.at("metrics").size(), metrics.size());
  EXPECT_DOUBLE_EQ(j.at("metrics").at("dynamic/cpu P=4 time_s").get<double>(), metrics.at("dynamic/cpu P=4 time_s"));
  EXPECT_FALSE(j.at("comparison").at("passed").get<bool>());
  EXPECT_EQ(j.at("runs").at(0).at("git_revision"), "abc123def456");
}

TEST(Writers, WritesAllThreeFilesAndNoTemporaries) {
  const auto dir = fresh_dir("files") / "nested" / "out";
  const auto written = write_study_files(compared_study("files"), dir.string());
  EXPECT_EQ(written.size(), 3u);
  std::size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    ++files;
    EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos) << e.path();
  }
  EXPECT_EQ(files, 3u);
  EXPECT_TRUE(std::filesystem::exists(dir / "study.html"));
  // The written study.json is a reference for the next study.
  EXPECT_FALSE(read_reference_study(dir.string()).metrics.empty());
}

}  // namespace
}  // namespace wafermill::report
