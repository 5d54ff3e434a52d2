#include "wafermill/job/job_config.hpp"

#include <cmath>
#include <unistd.h>

#include "wafermill/error.hpp"

namespace wafermill::job {

nlohmann::json JobConfig::to_json() const {
  return {{"input", input},
          {"inputs", inputs},
          {"skip_bad_files", skip_bad_files},
          {"output", output},
          {"report", report},
          {"force", force},
          {"policy", policy},
          {"io", std::string(format::to_string(io))},
          {"backend", backend.name},
          {"device_memory_bytes", backend.device_memory_bytes},
          {"features", features.to_string()},
          {"memory_budget_bytes", memory_budget_bytes},
          {"block_size", block_size},
          {"dynamic_factor", dynamic_factor},
          {"histogram_bins", histogram_bins},
          {"time_windows", time_windows},
          {"threshold", threshold},
          {"false_alarm_rate", false_alarm_rate},
          {"fleet_limit", fleet_limit},
          {"model", model},
          {"contributions", contributions},
          {"drift_threshold", drift_threshold},
          {"defects", {{"k_sigma", defects.k_sigma}, {"std_floor", defects.std_floor},
                       {"min_blob", defects.min_blob}}},
          {"weights", {{"time", weights.time}, {"kl", weights.kl}, {"memory", weights.memory},
                       {"gpu", weights.gpu}}},
          {"kl_smoothing", kl_smoothing},
          {"baseline", baseline},
          {"progress_interval_s", progress_interval_s},
          {"quiet", quiet},
          {"resume", resume},
          {"rehash", rehash},
          {"store", store},
          {"time_limit_s", time_limit_s},
          {"rank_timeout_s", rank_timeout_s},
          {"command_line", command_line}};
}

JobConfig JobConfig::from_json(const nlohmann::json& j) {
  try {
    JobConfig c;
    c.input = j.at("input").get<std::string>();
    c.inputs = j.value("inputs", std::vector<std::string>{c.input});
    c.skip_bad_files = j.value("skip_bad_files", false);
    c.output = j.at("output").get<std::string>();
    c.report = j.at("report").get<std::string>();
    c.force = j.at("force").get<bool>();
    c.policy = j.at("policy").get<std::string>();
    c.io = format::parse_io_driver(j.at("io").get<std::string>());
    c.backend.name = j.at("backend").get<std::string>();
    c.backend.device_memory_bytes = j.at("device_memory_bytes").get<std::uint64_t>();
    c.features = features::FeatureSet::parse(j.at("features").get<std::string>());
    c.memory_budget_bytes = j.at("memory_budget_bytes").get<std::uint64_t>();
    c.block_size = j.at("block_size").get<std::uint64_t>();
    c.dynamic_factor = j.at("dynamic_factor").get<double>();
    c.histogram_bins = j.at("histogram_bins").get<std::size_t>();
    c.time_windows = j.value("time_windows", 0u);
    c.threshold = j.at("threshold").get<double>();
    c.false_alarm_rate = j.value("false_alarm_rate", 0.01);
    c.fleet_limit = j.value("fleet_limit", std::string("parametric"));
    c.model = j.value("model", "");
    c.contributions = j.value("contributions", 5u);
    c.drift_threshold = j.value("drift_threshold", 0.25);
    if (j.contains("defects")) {
      const auto& d = j.at("defects");
      c.defects = {d.at("k_sigma").get<double>(), d.at("std_floor").get<double>(),
                   d.at("min_blob").get<std::uint64_t>()};
    }
    const auto& w = j.at("weights");
    c.weights = {w.at("time").get<double>(), w.at("kl").get<double>(), w.at("memory").get<double>(),
                 w.at("gpu").get<double>()};
    c.kl_smoothing = j.at("kl_smoothing").get<double>();
    c.baseline = j.at("baseline").get<std::string>();
    c.progress_interval_s = j.at("progress_interval_s").get<double>();
    c.quiet = j.at("quiet").get<bool>();
    c.command_line = j.value("command_line", "");
    c.resume = j.value("resume", false);
    c.rehash = j.value("rehash", false);
    c.store = j.value("store", std::string());
    c.time_limit_s = j.value("time_limit_s", 0.0);
    c.rank_timeout_s = j.value("rank_timeout_s", 600.0);
    return c;
  } catch (const nlohmann::json::exception& e) {
    throw InputError(std::string("malformed job configuration: ") + e.what());
  }
}

std::string JobConfig::store_path() const {
  if (store == "none") return "";
  return store.empty() ? output + ".wmstore" : store;
}

void JobConfig::validate() const {
  if (input.empty()) throw UsageError("--input is required");
  if (output.empty()) throw UsageError("--output is required");
  for (const auto& f : input_files())
    if (output == f) throw UsageError("--output must differ from --input " + f);
  if (memory_budget_bytes < (64ULL << 10))
    throw UsageError("--memory-budget must be at least 0.0625 MiB (64 KiB)");
  if (block_size == 0) throw UsageError("--block-size must be at least 1 wafer");
  if (histogram_bins == 0 || histogram_bins > 65536)
    throw UsageError("--histogram-bins must be in 1..65536");
  if (!(dynamic_factor >= 1.0)) throw UsageError("--dynamic-factor must be >= 1");
  if (time_windows > format::kMaxSteps)
    throw UsageError("--time-windows must be in [0, " + std::to_string(format::kMaxSteps) + "]");
  if (!std::isfinite(threshold) || threshold < 0.0)
    throw UsageError("--threshold must be >= 0 (0: limits from --false-alarm-rate)");
  if (!(false_alarm_rate > 0.0 && false_alarm_rate < 1.0)) throw UsageError("--false-alarm-rate must be in (0, 1)");
  if (fleet_limit != "parametric" && fleet_limit != "reference" && fleet_limit != "fleet")
    throw UsageError("--fleet-limit must be parametric, reference or fleet");
  if (contributions < 1 || contributions > 64) throw UsageError("--contributions must be in 1..64");
  if (!(drift_threshold > 0.0) || !std::isfinite(drift_threshold)) throw UsageError("--drift-threshold must be > 0");
  if (!std::isfinite(defects.k_sigma) || defects.k_sigma <= 0.0)
    throw UsageError("--defect-k-sigma must be > 0");
  if (!std::isfinite(defects.std_floor) || defects.std_floor < 0.0)
    throw UsageError("--defect-std-floor must be >= 0 grey levels");
  if (defects.min_blob == 0) throw UsageError("--defect-min-blob must be at least 1 pixel");
  if (!(kl_smoothing >= 0.0)) throw UsageError("--kl-smoothing must be >= 0");
  for (double w : {weights.time, weights.kl, weights.memory, weights.gpu})
    if (!(w >= 0.0)) throw UsageError("score weights must be >= 0");
  if (!(time_limit_s >= 0.0)) throw UsageError("--time-limit must be >= 0 seconds");
  if (!(rank_timeout_s >= 0.0)) throw UsageError("--rank-timeout must be >= 0 seconds");
  if (resume && store == "none") throw UsageError("--resume needs a result store, not --store none");
  if (features.size() == 0) throw UsageError("--features selects no feature");
  if (baseline != "run" && baseline != "repeat" && baseline != "none" &&
      ::access(baseline.c_str(), R_OK) != 0)
    throw UsageError("--baseline " + baseline +
                     ": not run, repeat, none, or a readable report file");
}

}  // namespace wafermill::job
