// wafermill study: run reports → study.md, study.html, study.json; with a reference study,
// the regression gate (exit 1 naming each regressed metric).
#include <cstdio>

#include "commands.hpp"
#include "wafermill/error.hpp"
#include "wafermill/report/study.hpp"
#include "wafermill/report/study_gate.hpp"
#include "wafermill/report/study_writer.hpp"

namespace wafermill::cli {
namespace {

struct StudyOptions {
  std::vector<std::string> reports;
  std::string output_dir;
  std::string baseline_study;
  std::string tolerances;
  std::string kind;
};

int run_study(const StudyOptions& o) {
  std::optional<report::ScalingKind> kind;
  if (o.kind != "auto") kind = report::parse_scaling_kind(o.kind);
  // Read everything the gate needs before writing anything: bad input leaves no files behind.
  const auto tolerances = o.tolerances.empty() ? report::default_tolerances() : report::read_tolerances(o.tolerances);
  std::optional<report::ReferenceStudy> reference;
  if (!o.baseline_study.empty()) reference = report::read_reference_study(o.baseline_study);
  report::Study study = report::build_study(report::load_study_runs(o.reports), kind);
  if (reference) study.comparison = report::compare_studies(study, *reference, tolerances);
  const auto written = report::write_study_files(study, o.output_dir);

  std::printf("study: %s scaling, %zu run(s) in %zu series\n", report::to_string(study.kind).c_str(),
              study.runs.size(), study.series.size());
  for (const auto& w : written) std::printf("  wrote %s\n", w.c_str());
  for (const auto& n : study.notes) std::printf("  note: %s\n", n.c_str());
  if (!study.comparison) return 0;
  const auto bad = study.comparison->regressed();
  for (const auto& n : study.comparison->notes) std::printf("  note: %s\n", n.c_str());
  if (bad.empty()) {
    std::printf("regression check against %s: PASS\n", study.comparison->reference_source.c_str());
    return 0;
  }
  std::fprintf(stderr, "regression check against %s: %zu metric(s) REGRESSED\n",
               study.comparison->reference_source.c_str(), bad.size());
  for (const auto& c : study.comparison->checks) {
    if (c.status != "regressed") continue;
    std::fprintf(stderr, "  regressed: %s = %.6g (reference %.6g, change %+.1f %%)\n", c.metric.c_str(), *c.value,
                 *c.reference, c.change().value_or(0.0) * 100);
  }
  return 1;
}

}  // namespace

Command make_study_command(int argc, char** argv) {
  po::options_description desc("wafermill study options");
  desc.add_options()
    ("output-dir,o", po::value<std::string>(), "directory for study.md, study.html and study.json (created)")
    ("baseline-study", po::value<std::string>()->default_value(""), "reference study (its directory or study.json): compare and gate")
    ("tolerances", po::value<std::string>()->default_value(""), "per-metric tolerances, INI ([time_s] upper = 0.1) or JSON ({\"time_s\": {\"upper\": 0.1}})")
    ("kind", po::value<std::string>()->default_value("auto"), "strong | weak | auto (strong when each series reads one input)")
    ("report", po::value<std::vector<std::string>>(), "run reports (JSON) or directories of them");
  po::positional_options_description pos;
  pos.add("report", -1);
  bool help = false;
  const po::variables_map vm = parse_options("study", argc, argv, desc, &pos, &help);
  const std::string text =
      help_text("study", "wafermill study --output-dir DIR [--baseline-study DIR_OR_JSON] [--tolerances FILE] "
                         "[--kind strong|weak|auto] REPORT.json|DIR...", desc) +
      "Tolerances are fractions around the reference r: accepted [r (1 + lower), r (1 + upper)], lower <= 0 <= upper;\n"
      "a key is a metric kind (time_s, speedup, efficiency, karp_flatt, imbalance, throughput_wafers_per_s,\n"
      "serial_fraction) or a full metric name from study.json. Defaults: time_s upper 0.1; speedup, efficiency,\n"
      "throughput_wafers_per_s lower -0.1; imbalance upper 0.1.\n"
      "Exit code 0 (no regression), 1 when a metric regressed against --baseline-study, 2 on bad input.\n";
  if (help) return {"study", false, [text](MPI_Comm) { std::fputs(text.c_str(), stdout); return 0; }};
  StudyOptions o;
  if (!vm.count("output-dir")) throw UsageError("wafermill study: --output-dir is required");
  if (!vm.count("report")) throw UsageError("wafermill study: give at least one REPORT.json or directory");
  o.output_dir = vm["output-dir"].as<std::string>();
  o.reports = vm["report"].as<std::vector<std::string>>();
  o.baseline_study = vm["baseline-study"].as<std::string>();
  o.tolerances = vm["tolerances"].as<std::string>();
  o.kind = vm["kind"].as<std::string>();
  if (o.kind != "auto") report::parse_scaling_kind(o.kind);  // UsageError now, not after reading
  return {"study", false, [o](MPI_Comm) { return run_study(o); }};
}

}  // namespace wafermill::cli
