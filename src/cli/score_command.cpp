// wafermill score: one lot against a model, without MPI (docs/MONITORING.md "score").
#include <cstdio>

#include "commands.hpp"
#include "wafermill/error.hpp"
#include "wafermill/job/fit.hpp"
#include "wafermill/job/online_score.hpp"
#include "wafermill/report/run_report.hpp"

namespace wafermill::cli {

Command make_score_command(int argc, char** argv) {
  const job::ScoreConfig d;
  po::options_description desc("wafermill score options");
  desc.add_options()
    ("model,m", po::value<std::string>(), "model file from `wafermill fit`")
    ("input,i", po::value<std::string>(), "the lot: a trace file, or a run's output (its /features rows are scored; the traces are not read again)")
    ("select", po::value<std::string>()->default_value(""), "the lot's wafers in the input, e.g. \"lot_id == 40\" (FIELD is a /wafers/ dataset or index; default all)")
    ("output,o", po::value<std::string>()->default_value(""), "verdicts: FILE.csv (CSV) or any other name (HDF5, docs/FORMAT.md \"Score\")")
    ("report", po::value<std::string>()->default_value(""), "JSON report: latency per wafer and lot, drift, flags")
    ("update", po::bool_switch(), "fold the lot's unflagged wafers into the model's sums and reference histograms")
    ("updated-model", po::value<std::string>()->default_value(""), "with --update: write the updated model here (default: replace --model)")
    ("drift-threshold", po::value<double>()->default_value(d.drift_threshold), "PSI above which a column has drifted from the model's reference")
    ("contributions", po::value<std::uint32_t>()->default_value(d.contributions), "contributions kept per flagged wafer")
    ("time-windows", po::value<std::uint32_t>()->default_value(0), "a lot that records no recipe steps: read each wafer's samples as N time windows, as the model was fit (`fit --time-windows N`; docs/MONITORING.md \"Time windows\"); 0 none")
    ("force", po::bool_switch(), "overwrite an existing output, report or updated model")
    ("quiet,q", po::bool_switch(), "no summary");
  bool help = false;
  const po::variables_map vm = parse_options("score", argc, argv, desc, nullptr, &help);
  if (help) {
    const std::string text = help_text(
        "score", "wafermill score --model MODEL.h5 --input LOT.h5 [--output OUT.h5|OUT.csv] [--report R.json] [--update]",
        desc);
    return {"score", false, [text](MPI_Comm) { std::fputs(text.c_str(), stdout); return 0; }};
  }
  job::ScoreConfig c;
  if (vm.count("model")) c.model = vm["model"].as<std::string>();
  if (vm.count("input")) c.input = vm["input"].as<std::string>();
  if (c.model.empty() || c.input.empty()) throw UsageError("wafermill score needs --model and --input");
  c.select = vm["select"].as<std::string>();
  job::parse_select(c.select);  // a bad expression is a usage error before any file is read
  c.output = vm["output"].as<std::string>();
  c.report = vm["report"].as<std::string>();
  c.update = vm["update"].as<bool>();
  c.updated_model = vm["updated-model"].as<std::string>();
  if (!c.updated_model.empty() && !c.update) throw UsageError("--updated-model needs --update");
  c.drift_threshold = vm["drift-threshold"].as<double>();
  c.contributions = vm["contributions"].as<std::uint32_t>();
  c.time_windows = vm["time-windows"].as<std::uint32_t>();
  c.force = vm["force"].as<bool>();
  const bool quiet = vm["quiet"].as<bool>();
  return {"score", false, [c, quiet](MPI_Comm) {
            const job::ScoreOutcome o = job::run_score(c);
            if (quiet) return 0;
            std::printf("lot %s: %llu wafers, %llu flagged (T2 %llu, SPE %llu)\n", c.input.c_str(),
                        static_cast<unsigned long long>(o.wafers), static_cast<unsigned long long>(o.flagged),
                        static_cast<unsigned long long>(o.flagged_t2), static_cast<unsigned long long>(o.flagged_spe));
            if (o.unknown_group > 0)
              std::fprintf(stderr,
                           "wafermill: warning: %llu wafers of a group the model does not know: scaled by the "
                           "reference's fleet-wide statistics\n",
                           static_cast<unsigned long long>(o.unknown_group));
            std::printf("latency: start-up %.2f ms; per wafer p50 %.3f ms, p95 %.3f ms, p99 %.3f ms, max %.3f ms; "
                        "lot %.2f ms\n",
                        o.startup_s * 1e3, o.per_wafer.p50 * 1e3, o.per_wafer.p95 * 1e3, o.per_wafer.p99 * 1e3,
                        o.per_wafer.max * 1e3, o.lot_s * 1e3);
            if (o.report.contains("drift"))
              std::fputs(report::drift_line(o.report.at("drift")).c_str(), stdout);
            else
              std::printf("drift: the model has no reference histograms (format v1): refit it for drift\n");
            if (c.update)
              std::printf("model %s updated with %llu unflagged wafers in %.2f ms\n",
                          (c.updated_model.empty() ? c.model : c.updated_model).c_str(),
                          static_cast<unsigned long long>(o.updated_with), o.update_s * 1e3);
            return 0;
          }};
}

}  // namespace wafermill::cli
