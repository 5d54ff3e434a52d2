#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "wafermill/error.hpp"
#include "wafermill/format/input_list.hpp"
#include "wafermill/job/pipeline.hpp"
#include "wafermill/partition/policy.hpp"

namespace wafermill::cli {

Command make_run_command(int argc, char** argv, const std::string& command_line) {
  job::JobConfig d;  // defaults
  po::options_description desc("wafermill run options");
  desc.add_options()
    ("input,i", po::value<std::vector<std::string>>()->multitoken()->composing(), "input trace files (HDF5, wafermill traces v1): files, directories (their *.h5 and *.hdf5 files, sorted), glob patterns (quoted), @MANIFEST (one file per line); several values, or the option repeated; wafers are numbered in this order (docs/FORMAT.md \"Several input files\")")
    ("skip-bad-files", po::bool_switch(), "with several inputs: a file that fails validation is skipped with a warning and listed in the report, instead of ending the job with exit code 2")
    ("output,o", po::value<std::string>(), "output feature file (HDF5); written under a temporary name, renamed when complete")
    ("report,r", po::value<std::string>()->default_value(""), "report file (JSON)")
    ("force", po::bool_switch(), "overwrite an existing output")
    ("policy", po::value<std::string>()->default_value(d.policy), "partition policy: static | weighted | dynamic")
    ("io", po::value<std::string>()->default_value("posix"), "input driver: posix (independent read-only opens) | mpio (MPI-IO)")
    ("backend", po::value<std::string>()->default_value(d.backend.name), "feature backend: cpu | cuda | auto")
    ("device-memory", po::value<double>()->default_value(d.backend.device_memory_bytes / 1048576.0), "CUDA backend: device buffer bound, MiB")
    ("features", po::value<std::string>()->default_value("all"), "features to extract: all, or a comma list of count,invalid_count,mean,std,min,max,range,rms,skewness,kurtosis,slope,median")
    ("memory-budget", po::value<double>()->default_value(d.memory_budget_bytes / 1048576.0), "sample and result buffers per rank, MiB")
    ("block-size", po::value<std::uint64_t>()->default_value(d.block_size), "wafers per reduction block (fixed: results do not depend on ranks)")
    ("dynamic-factor", po::value<double>()->default_value(d.dynamic_factor), "dynamic policy: unit = remaining work / (factor * P)")
    ("histogram-bins", po::value<std::size_t>()->default_value(d.histogram_bins), "bins of each (sensor, feature) histogram")
    ("time-windows", po::value<std::uint32_t>()->default_value(0), "for traces that record no recipe steps: read each wafer's samples as N consecutive windows of (nearly) equal length, its steps: per-window features (/features/by_step) and by-step models (docs/MONITORING.md \"Time windows\"); 0 none")
    ("threshold", po::value<double>()->default_value(d.threshold), "without --model: 0 flags by the run's own fit at --false-alarm-rate; > 0 the old rule, max |z| of any feature above this (docs/MONITORING.md \"Without a model\")")
    ("false-alarm-rate", po::value<double>()->default_value(d.false_alarm_rate), "without --model: the rate at which good wafers may be flagged (Bonferroni over the scored features)")
    ("fleet-limit", po::value<std::string>()->default_value(d.fleet_limit), "without --model: parametric (Student t limits alone), reference or fleet (the limit rises to the split-conformal (1 - A) quantile of the scores of the refit's reference wafers, or of every wafer, where that is higher; docs/MONITORING.md \"Calibrated limits\")")
    ("model", po::value<std::string>()->default_value(""), "a model of good wafers from `wafermill fit`: flag by T2 and SPE, keep the top contributions (docs/MONITORING.md)")
    ("contributions", po::value<std::uint32_t>()->default_value(d.contributions), "with --model: contributions kept per flagged wafer")
    ("drift-threshold", po::value<double>()->default_value(d.drift_threshold), "with --model: PSI above which a column's distribution has drifted from the model's reference (docs/MONITORING.md \"Drift\")")
    ("defect-k-sigma", po::value<double>()->default_value(d.defects.k_sigma), "images: a pixel deviates when |x - golden mean| > k * max(golden std, floor)")
    ("defect-std-floor", po::value<double>()->default_value(d.defects.std_floor), "images: the floor of the golden std, grey levels")
    ("defect-min-blob", po::value<std::uint64_t>()->default_value(d.defects.min_blob), "images: flag an image whose largest blob of deviating pixels has this many pixels")
    ("w-time", po::value<double>()->default_value(d.weights.time), "score weight of 1/T")
    ("w-kl", po::value<double>()->default_value(d.weights.kl), "score weight of 1/D_KL")
    ("w-memory", po::value<double>()->default_value(d.weights.memory), "score weight of E_memory")
    ("w-gpu", po::value<double>()->default_value(d.weights.gpu), "score weight of E_GPU")
    ("kl-smoothing", po::value<double>()->default_value(d.kl_smoothing), "additive smoothing of KL counts")
    ("baseline", po::value<std::string>()->default_value(d.baseline), "run (run the sequential baseline too; a one-rank run is its own baseline, no second pass) | repeat (start the single-rank child even at one rank: a reproducibility check) | none | FILE (report of an earlier single-rank run)")
    ("progress-interval", po::value<double>()->default_value(d.progress_interval_s), "seconds between progress lines when stderr is not a terminal")
    ("quiet,q", po::bool_switch(), "no progress and no summary")
    ("resume", po::bool_switch(), "reuse the blocks the result store holds for this input and configuration (after a kill, a stop or an append); see docs/RELIABILITY.md")
    ("rehash", po::bool_switch(), "with --resume: read and hash every input again, trusting no record of unchanged files (docs/RELIABILITY.md \"Only new work\")")
    ("store", po::value<std::string>()->default_value(""), "result store directory (default OUTPUT.wmstore); none: keep no store")
    ("time-limit", po::value<double>()->default_value(d.time_limit_s), "stop cleanly after this many seconds, keeping finished blocks for --resume (exit code 3); 0: no limit")
    ("rank-timeout", po::value<double>()->default_value(d.rank_timeout_s), "abort the job, naming the rank and its blocks, when a rank shows no progress for this many seconds; 0: never");
  bool help = false;
  const po::variables_map vm = parse_options("run", argc, argv, desc, nullptr, &help);
  if (help) {
    const std::string text =
        help_text("run", "mpirun -np P wafermill run --input IN.h5 [IN2.h5 DIR 'GLOB' @MANIFEST ...] --output OUT.h5 --report REPORT.json [options]", desc);
    return {"run", false, [text](MPI_Comm) { std::fputs(text.c_str(), stdout); return 0; }};
  }
  auto mib = [](double v) { return static_cast<std::uint64_t>(v * 1048576.0); };
  job::JobConfig c;
  if (vm.count("input")) {
    const auto& specs = vm["input"].as<std::vector<std::string>>();
    c.input = format::join_input_specs(specs);
    c.inputs = format::expand_inputs(specs);
  }
  c.skip_bad_files = vm["skip-bad-files"].as<bool>();
  if (vm.count("output")) c.output = vm["output"].as<std::string>();
  c.report = vm["report"].as<std::string>();
  c.force = vm["force"].as<bool>();
  c.policy = vm["policy"].as<std::string>();
  partition::make_policy(c.policy);  // throws UsageError for an unknown name
  c.io = format::parse_io_driver(vm["io"].as<std::string>());
  c.backend.name = vm["backend"].as<std::string>();
  c.backend.device_memory_bytes = mib(vm["device-memory"].as<double>());
  c.features = features::FeatureSet::parse(vm["features"].as<std::string>());
  c.memory_budget_bytes = mib(vm["memory-budget"].as<double>());
  c.block_size = vm["block-size"].as<std::uint64_t>();
  c.dynamic_factor = vm["dynamic-factor"].as<double>();
  c.histogram_bins = vm["histogram-bins"].as<std::size_t>();
  c.time_windows = vm["time-windows"].as<std::uint32_t>();
  c.threshold = vm["threshold"].as<double>();
  c.false_alarm_rate = vm["false-alarm-rate"].as<double>();
  c.fleet_limit = vm["fleet-limit"].as<std::string>();
  c.model = vm["model"].as<std::string>();
  c.contributions = vm["contributions"].as<std::uint32_t>();
  c.drift_threshold = vm["drift-threshold"].as<double>();
  c.defects = {vm["defect-k-sigma"].as<double>(), vm["defect-std-floor"].as<double>(),
               vm["defect-min-blob"].as<std::uint64_t>()};
  c.weights = {vm["w-time"].as<double>(), vm["w-kl"].as<double>(), vm["w-memory"].as<double>(),
               vm["w-gpu"].as<double>()};
  c.kl_smoothing = vm["kl-smoothing"].as<double>();
  c.baseline = vm["baseline"].as<std::string>();
  c.progress_interval_s = vm["progress-interval"].as<double>();
  c.quiet = vm["quiet"].as<bool>();
  c.resume = vm["resume"].as<bool>();
  c.rehash = vm["rehash"].as<bool>();
  c.store = vm["store"].as<std::string>();
  c.time_limit_s = vm["time-limit"].as<double>();
  c.rank_timeout_s = vm["rank-timeout"].as<double>();
  c.command_line = command_line;
  c.validate();

  return {"run", true, [c](MPI_Comm comm) {
            int rank = 0;
            MPI_Comm_rank(comm, &rank);
            report::RunReport r;
            try {
              r = job::run_parallel(c, comm);
            } catch (const job::StoppedEarly& e) {
              // Every rank gets here together; the exit code tells slurm/run.sbatch to requeue.
              if (rank == 0) std::fprintf(stderr, "wafermill: %s\n", e.what());
              return job::kExitStoppedEarly;
            }
            if (rank == 0) {
              if (!c.report.empty()) report::write_report(r, c.report);
              if (!c.quiet) std::fputs(report::text_summary(r).c_str(), stdout);
            }
            return 0;
          }};
}

}  // namespace wafermill::cli
