// wafermill fit (a model of good wafers) and wafermill export (verdicts as CSV):
// docs/MONITORING.md.
#include <cstdio>

#include "commands.hpp"
#include "wafermill/error.hpp"
#include "wafermill/format/trace_index.hpp"
#include "wafermill/format/verdict_csv.hpp"
#include "wafermill/job/fit.hpp"

namespace wafermill::cli {

Command make_fit_command(int argc, char** argv) {
  const job::FitConfig d;
  po::options_description desc("wafermill fit options");
  desc.add_options()
    ("input,i", po::value<std::string>(), "reference: a trace file (features computed as `run` does) or a run's output")
    ("output,o", po::value<std::string>(), "model file (HDF5, docs/FORMAT.md \"Model\")")
    ("force", po::bool_switch(), "overwrite an existing model file")
    ("features", po::value<std::string>()->default_value(""), "comma list of features to model (default: all but count and invalid_count)")
    ("select", po::value<std::string>()->default_value(""), "the reference wafers, e.g. \"label == 0 and index % 2 == 0\" (FIELD is a /wafers/ dataset or index)")
    ("lot-by", po::value<std::string>()->default_value("auto"), "NAME: the /wafers/NAME dataset naming each wafer's lot; the model keeps its reference histograms per lot, against which `score` judges drift over a few lots (auto: lot_id where the input has it; none)")
    ("group-by", po::value<std::string>()->default_value(""), "NAME: a /wafers/NAME dataset (tool, chamber, recipe: numbers or strings); each group is centred and scaled by its own statistics")
    ("by-step", po::value<std::string>()->default_value("auto"), "auto, both or none: auto models each feature over every recipe step (/features/by_step) in place of the whole wafer when the input has 2 steps or more, so that a contribution names the step (docs/MONITORING.md \"Steps\"); both: the whole-wafer and the by-step columns; none: whole-wafer columns only")
    ("univariate", po::bool_switch(), "also flag a wafer when one column's |z| exceeds a limit calibrated with T2 and SPE (reason univariate)")
    ("false-alarm-rate", po::value<double>()->default_value(d.options.false_alarm_rate), "A: fraction of good wafers the limits may flag (calibrated out of sample)")
    ("variance", po::value<double>()->default_value(d.options.variance_target), "components: the fewest whose cumulative variance reaches this fraction")
    ("folds", po::value<std::uint32_t>()->default_value(d.options.folds), "cross-validation folds for the limits")
    ("memory-budget", po::value<double>()->default_value(d.options.memory_budget_bytes / 1048576.0), "per rank, MiB: reference rows and exact sums")
    ("matrix", po::value<std::string>()->default_value("auto"), "auto, covariance or gram: the matrix the components come from (auto: gram when the columns outnumber the reference wafers; docs/MONITORING.md \"Matrix\")")
    ("scoring", po::value<std::string>()->default_value("auto"), "auto, folds or full: folds keeps the cross-validation models in the model file and `run --model`/`score` score the wafer of index w with fold model w mod k, as its limits were calibrated (docs/MONITORING.md \"fit\"); full scores every wafer with the whole reference's model (the only one `score --update` takes); auto: folds when the model columns exceed half the reference wafers, else full")
    ("time-windows", po::value<std::uint32_t>()->default_value(0), "a trace input that records no recipe steps: read each wafer's samples as N consecutive windows of (nearly) equal length, its steps (as `run --time-windows N`); the model records N and `run --model` needs the same (docs/MONITORING.md \"Time windows\"); 0 none")
    ("quiet,q", po::bool_switch(), "no summary");
  bool help = false;
  const po::variables_map vm = parse_options("fit", argc, argv, desc, nullptr, &help);
  if (help) {
    const std::string text = help_text(
        "fit", "mpirun -np P wafermill fit --input REF.h5 --output MODEL.h5 [--select EXPR] [options]", desc);
    return {"fit", false, [text](MPI_Comm) { std::fputs(text.c_str(), stdout); return 0; }};
  }
  job::FitConfig c;
  if (vm.count("input")) c.input = vm["input"].as<std::string>();
  if (vm.count("output")) c.output = vm["output"].as<std::string>();
  if (c.input.empty() || c.output.empty()) throw UsageError("wafermill fit needs --input and --output");
  c.force = vm["force"].as<bool>();
  c.features = vm["features"].as<std::string>();
  c.select = vm["select"].as<std::string>();
  c.group_by = vm["group-by"].as<std::string>();
  c.lot_by = vm["lot-by"].as<std::string>();
  if (c.lot_by.find('/') != std::string::npos) throw UsageError("--lot-by: a name under /wafers/, without '/'");
  c.options.univariate = vm["univariate"].as<bool>();
  c.by_step = vm["by-step"].as<std::string>();
  c.time_windows = vm["time-windows"].as<std::uint32_t>();
  if (c.time_windows > format::kMaxSteps)
    throw UsageError("--time-windows must be in [0, " + std::to_string(format::kMaxSteps) + "]");
  if (c.by_step != "auto" && c.by_step != "both" && c.by_step != "none")
    throw UsageError("--by-step must be auto, both or none (not \"" + c.by_step + "\")");
  if (c.group_by.find('/') != std::string::npos) throw UsageError("--group-by: a name under /wafers/, without '/'");
  job::parse_select(c.select);  // a bad expression is a usage error before MPI starts
  c.options.false_alarm_rate = vm["false-alarm-rate"].as<double>();
  c.options.variance_target = vm["variance"].as<double>();
  c.options.folds = vm["folds"].as<std::uint32_t>();
  c.options.memory_budget_bytes = static_cast<std::uint64_t>(vm["memory-budget"].as<double>() * 1048576.0);
  c.quiet = vm["quiet"].as<bool>();
  if (const std::string sc = vm["scoring"].as<std::string>(); sc == "full")
    c.options.scoring = model::FoldScoring::full;
  else if (sc == "folds")
    c.options.scoring = model::FoldScoring::folds;
  else if (sc != "auto")
    throw UsageError("--scoring must be auto, folds or full (not \"" + sc + "\")");
  if (const std::string mx = vm["matrix"].as<std::string>(); mx == "covariance")
    c.options.matrix = model::MatrixPath::covariance;
  else if (mx == "gram")
    c.options.matrix = model::MatrixPath::gram;
  else if (mx != "auto")
    throw UsageError("--matrix must be auto, covariance or gram (not \"" + mx + "\")");
  if (!(c.options.false_alarm_rate > 0 && c.options.false_alarm_rate < 1))
    throw UsageError("--false-alarm-rate must be in (0, 1)");
  if (!(c.options.variance_target > 0 && c.options.variance_target <= 1)) throw UsageError("--variance must be in (0, 1]");
  if (c.options.folds < 2) throw UsageError("--folds must be at least 2");
  return {"fit", true, [c](MPI_Comm comm) {
            int rank = 0;
            MPI_Comm_rank(comm, &rank);
            const model::PcaModel m = job::run_fit(c, comm);
            if (rank == 0 && !c.quiet) {
              std::size_t stepped = 0;
              for (std::size_t j = 0; j < m.n_columns(); ++j) stepped += m.step_of(j) >= 0;
              std::printf("model %s: %llu reference wafers, %zu columns (%zu over one recipe step), %u components (%.1f %% of the variance)\n",
                          c.output.c_str(), static_cast<unsigned long long>(m.n_reference), m.n_columns(),
                          stepped, m.n_components, m.explained.empty() ? 0.0 : 100.0 * m.explained.back());
              std::printf("limits: T2 %.6g, SPE %.6g for a false-alarm rate of %.4g; held-out rate %.4g, "
                          "in-sample rate %.4g (%u-fold cross-validation)\n",
                          m.t2_limit, m.spe_limit, m.false_alarm_rate, m.heldout_false_alarm_rate,
                          m.insample_false_alarm_rate, m.folds);
              if (m.univariate_limit > 0.0)
                std::printf("univariate limit: |z| %.6g on every column\n", m.univariate_limit);
              std::printf("method: %s\n", m.method.c_str());
              if (m.grouped()) {
                std::printf("groups (/wafers/%s):", m.group_by.c_str());
                for (std::size_t g = 0; g < m.group_names.size(); ++g)
                  std::printf(" %s (%llu)", m.group_names[g].c_str(),
                              static_cast<unsigned long long>(m.group_count[g]));
                std::printf("\n");
              }
            }
            if (rank == 0 && !m.warning.empty()) std::fprintf(stderr, "wafermill: warning: %s\n", m.warning.c_str());
            return 0;
          }};
}

Command make_export_command(int argc, char** argv) {
  po::options_description desc("wafermill export options");
  desc.add_options()
    ("input,i", po::value<std::string>(), "a run's output file")
    ("output,o", po::value<std::string>(), "CSV file")
    ("flagged-only", po::bool_switch(), "only the flagged wafers")
    ("force", po::bool_switch(), "overwrite an existing CSV file");
  bool help = false;
  const po::variables_map vm = parse_options("export", argc, argv, desc, nullptr, &help);
  if (help) {
    const std::string text = help_text("export", "wafermill export --input OUT.h5 --output VERDICTS.csv", desc);
    return {"export", false, [text](MPI_Comm) { std::fputs(text.c_str(), stdout); return 0; }};
  }
  if (!vm.count("input") || !vm.count("output")) throw UsageError("wafermill export needs --input and --output");
  const std::string in = vm["input"].as<std::string>(), out = vm["output"].as<std::string>();
  const bool flagged = vm["flagged-only"].as<bool>(), force = vm["force"].as<bool>();
  return {"export", false, [in, out, flagged, force](MPI_Comm) {
            format::export_verdicts(in, out, flagged, force);
            return 0;
          }};
}

}  // namespace wafermill::cli
