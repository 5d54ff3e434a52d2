#include "wafermill/report/run_report.hpp"

#include "wafermill/metrics/latency_sketch.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "wafermill/error.hpp"

namespace wafermill::report {
namespace {

double max_psi(const nlohmann::json& d) {
  double m = 0.0;
  for (const auto& c : d.at("columns")) m = std::max(m, c.value("psi", 0.0));
  return m;
}

}  // namespace

std::string drift_line(const nlohmann::json& d) {
  const auto& named = d.at("drifted");
  const auto wafers = static_cast<unsigned long long>(d.value("wafers", 0ULL));
  char head[320];
  if (!d.value("assessed", true)) {
    // Too few wafers for the chi-square reference: say so and what noise to expect.
    std::snprintf(head, sizeof head,
                  "drift: not assessed, %llu wafers < %llu (PSI's noise floor at this size %.3g, largest PSI %.3g",
                  wafers, static_cast<unsigned long long>(d.value("min_wafers", 0ULL)), d.value("noise_floor_psi", 0.0),
                  max_psi(d));
    std::string out = head;
    // Why the reference's lots could not judge them either.
    const auto lots = d.value("lots", 0ULL), reference = d.value("reference_lots", 0ULL);
    if (reference == 0)
      out += "; the model keeps no histograms per lot: fit with lots (--lot-by) to judge a few lots";
    else if (lots == 0)
      out += "; the input names no lots (/wafers/" + d.value("lot_by", std::string("lot_id")) + ")";
    else
      out += "; " + std::to_string(reference) + " reference lots are too few to judge " + std::to_string(lots);
    return out + ")\n";
  }
  double lowest = d.value("applied_psi_threshold", 0.0);
  for (const auto& c : d.at("columns")) lowest = std::min(lowest, c.value("psi_threshold", lowest));
  if (d.value("rule", std::string()) == "lots")
    std::snprintf(head, sizeof head,
                  "drift (PSI > %.3g-%.3g by column over %llu wafers of %llu lots, against the reference's %llu lots; "
                  "false-alarm rate %.3g): ",
                  lowest, d.value("applied_psi_threshold", 0.0), wafers,
                  static_cast<unsigned long long>(d.value("lots", 0ULL)),
                  static_cast<unsigned long long>(d.value("reference_lots", 0ULL)), d.value("false_alarm_rate", 0.0));
  else
    std::snprintf(head, sizeof head,
                  "drift (PSI > %.3g-%.3g by column over %llu wafers; noise floor %.3g, false-alarm rate %.3g): ",
                  lowest, d.value("applied_psi_threshold", 0.0), wafers, d.value("noise_floor_psi", 0.0),
                  d.value("false_alarm_rate", 0.0));
  std::string out = head;
  if (named.empty()) return out + "none of " + std::to_string(d.at("columns").size()) + " columns\n";
  out += std::to_string(named.size()) + " of " + std::to_string(d.at("columns").size()) + " columns:";
  std::size_t shown = 0;
  for (const auto& c : named) {
    if (shown++ == 10) {
      out += " ...";
      break;
    }
    char item[200];
    std::snprintf(item, sizeof item, " %s (PSI %.3g, KL %.3g)", c.at("column").get<std::string>().c_str(),
                  c.at("psi").get<double>(), c.at("kl").get<double>());
    out += item;
  }
  return out + "\n";
}

namespace {

using nlohmann::json;

template <typename T>
json opt(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

// JSON has no NaN/Inf: write them as null so every reader can parse the report.
json num(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

template <typename T>
std::optional<T> get_opt(const json& j, const char* key) {
  if (!j.contains(key) || j.at(key).is_null()) return std::nullopt;
  return j.at(key).get<T>();
}

const json& need(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key))
    throw InputError(std::string("report JSON lacks the key \"") + key + "\"");
  return j.at(key);
}

double get_num(const json& j, const char* key) {
  const json& v = need(j, key);
  return v.is_null() ? NAN : v.get<double>();
}

json latency_json(const metrics::LatencySummary& l) {
  // The percentiles come from a mergeable histogram (metrics/latency_sketch.hpp): the bound on
  // their relative error travels with them.
  return {{"n", l.n}, {"mean_s", num(l.mean)}, {"p50_s", num(l.p50)}, {"p95_s", num(l.p95)},
          {"p99_s", num(l.p99)}, {"max_s", num(l.max)},
          {"percentile_relative_error", metrics::LatencySketch::relative_error()}};
}

metrics::LatencySummary latency_from(const json& j) {
  metrics::LatencySummary l;
  l.n = need(j, "n").get<std::uint64_t>();
  l.mean = get_num(j, "mean_s");
  l.p50 = get_num(j, "p50_s");
  l.p95 = get_num(j, "p95_s");
  l.p99 = get_num(j, "p99_s");
  l.max = get_num(j, "max_s");
  return l;
}

json balance_json(const metrics::LoadBalance& b) {
  return {{"busy_sum_s", num(b.sum)}, {"busy_max_s", num(b.max)}, {"busy_mean_s", num(b.mean)},
          {"imbalance", num(b.imbalance)}, {"model_speedup", num(b.model_speedup)}};
}

metrics::LoadBalance balance_from(const json& j) {
  metrics::LoadBalance b;
  b.sum = get_num(j, "busy_sum_s");
  b.max = get_num(j, "busy_max_s");
  b.mean = get_num(j, "busy_mean_s");
  b.imbalance = get_num(j, "imbalance");
  b.model_speedup = get_num(j, "model_speedup");
  return b;
}

std::string mib(std::uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / 1048576.0);
  return buf;
}

std::string fmt(const char* f, double v) {
  if (!std::isfinite(v)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

template <typename T>
std::string fmt_opt(const char* f, const std::optional<T>& v) {
  return v ? fmt(f, static_cast<double>(*v)) : std::string("n/a");
}

// The summary's name for the baseline: its source, and "this run" when the run was its own.
std::string baseline_label(const Comparison& c) {
  return c.baseline_note ? c.baseline_source + ": this run (one rank), no child started"
                         : c.baseline_source;
}

}  // namespace

json to_json(const RankFigures& r) {
  return {{"rank", r.rank},           {"host", r.host},         {"units", r.units},
          {"wafers", r.wafers},       {"samples", r.samples},   {"bytes", r.bytes},
          {"read_s", r.read_s},       {"compute_s", r.compute_s}, {"reduce_s", r.reduce_s},
          {"wait_s", r.wait_s},       {"busy_s", r.busy_s()},   {"peak_rss_bytes", r.peak_rss_bytes}};
}

RankFigures rank_figures_from_json(const json& j) {
  RankFigures r;
  r.rank = need(j, "rank").get<int>();
  r.host = need(j, "host").get<std::string>();
  r.units = need(j, "units").get<std::uint64_t>();
  r.wafers = need(j, "wafers").get<std::uint64_t>();
  r.samples = need(j, "samples").get<std::uint64_t>();
  r.bytes = need(j, "bytes").get<std::uint64_t>();
  r.read_s = get_num(j, "read_s");
  r.compute_s = get_num(j, "compute_s");
  r.reduce_s = get_num(j, "reduce_s");
  r.wait_s = get_num(j, "wait_s");
  r.peak_rss_bytes = need(j, "peak_rss_bytes").get<std::uint64_t>();
  return r;
}

json to_json(const RunFigures& r) {
  json ranks = json::array();
  for (const auto& x : r.per_rank) ranks.push_back(to_json(x));
  json out = {{"ranks", r.ranks},
          {"policy", r.policy},
          {"backend", r.backend},
          {"io", r.io},
          {"wall_s", r.wall_s},
          {"index_s", r.index_s},
          {"scoring_s", r.scoring_s},
          {"serial_s", r.serial_s},
          {"wafers", r.wafers},
          {"samples", r.samples},
          {"bytes", r.bytes},
          {"flagged", r.flagged},
          {"blocks_reused", r.blocks_reused},
          {"blocks_computed", r.blocks_computed},
          {"files", r.files},
          {"files_reused", r.files_reused},
          {"blocks_unread", r.blocks_unread},
          {"throughput_wafers_per_s", num(r.wafers_per_s())},
          {"throughput_mb_per_s", num(r.mb_per_s())},
          {"latency", latency_json(r.latency)},
          {"peak_rss_max_bytes", r.peak_rss_max_bytes},
          {"peak_rss_total_bytes", r.peak_rss_total_bytes},
          {"load_balance", balance_json(r.balance)},
          {"gpu_utilisation_percent", opt(r.gpu_utilisation)},
          {"kernel_busy_fraction", opt(r.kernel_busy_fraction)},
          {"per_rank", ranks}};
  if (r.pictures) out["pictures"] = *r.pictures;
  if (r.store_failure) out["store_failure"] = *r.store_failure;
  return out;
}

RunFigures run_figures_from_json(const json& j) {
  RunFigures r;
  r.ranks = need(j, "ranks").get<int>();
  r.policy = need(j, "policy").get<std::string>();
  r.backend = need(j, "backend").get<std::string>();
  r.io = need(j, "io").get<std::string>();
  r.wall_s = get_num(j, "wall_s");
  r.index_s = get_num(j, "index_s");
  r.scoring_s = get_num(j, "scoring_s");
  r.serial_s = j.value("serial_s", 0.0);  // absent before the rows were written in parallel
  r.wafers = need(j, "wafers").get<std::uint64_t>();
  r.samples = need(j, "samples").get<std::uint64_t>();
  r.bytes = need(j, "bytes").get<std::uint64_t>();
  r.flagged = need(j, "flagged").get<std::uint64_t>();
  // Absent in reports written before the result store existed.
  r.blocks_reused = j.value("blocks_reused", std::uint64_t{0});
  r.blocks_computed = j.value("blocks_computed", std::uint64_t{0});
  r.files = j.value("files", std::uint64_t{1});
  r.files_reused = j.value("files_reused", std::uint64_t{0});
  r.blocks_unread = j.value("blocks_unread", std::uint64_t{0});
  r.latency = latency_from(need(j, "latency"));
  r.peak_rss_max_bytes = need(j, "peak_rss_max_bytes").get<std::uint64_t>();
  r.peak_rss_total_bytes = need(j, "peak_rss_total_bytes").get<std::uint64_t>();
  r.balance = balance_from(need(j, "load_balance"));
  r.gpu_utilisation = get_opt<double>(j, "gpu_utilisation_percent");
  r.kernel_busy_fraction = get_opt<double>(j, "kernel_busy_fraction");
  for (const auto& x : need(j, "per_rank")) r.per_rank.push_back(rank_figures_from_json(x));
  if (j.contains("pictures") && !j.at("pictures").is_null()) r.pictures = j.at("pictures");
  r.store_failure = get_opt<std::string>(j, "store_failure");
  return r;
}

json to_json(const RunReport& r) {
  const auto& p = r.provenance;
  json prov = {{"version", p.version},
               {"git_revision", p.git_revision},
               {"started_utc", p.started_utc},
               {"command_line", p.command_line},
               {"hosts", p.hosts},
               {"ranks_per_node", p.ranks_per_node},
               {"cores", p.cores},
               {"slurm_job_id", p.slurm_job_id.empty() ? json(nullptr) : json(p.slurm_job_id)},
               {"input",
                {{"path", p.input_path},
                 {"bytes", p.input_bytes},
                 {"fingerprint", p.input_fingerprint},
                 {"wafers", p.n_wafers},
                 {"samples", p.n_samples},
                 {"sensors", p.n_sensors},
                 {"steps", p.n_steps},
                 {"wafers_one_sample", p.n_wafers_one_sample}}}};
  const auto& c = r.comparison;
  json terms = json::object();
  for (const auto& [name, t] : c.score_terms)
    terms[name] = {{"weight", t.weight}, {"value", t.value ? num(*t.value) : json(nullptr)}};
  json comp = {{"baseline", c.baseline_source},
               {"baseline_note", opt(c.baseline_note)},
               {"speedup", c.scaling ? num(c.scaling->speedup) : json(nullptr)},
               {"efficiency", c.scaling ? num(c.scaling->efficiency) : json(nullptr)},
               {"karp_flatt",
                c.scaling && c.scaling->karp_flatt ? num(*c.scaling->karp_flatt) : json(nullptr)},
               {"memory_efficiency", opt(c.memory_efficiency)},
               {"outputs_identical", opt(c.outputs_identical)},
               {"first_difference", opt(c.first_difference)},
               {"score", c.score ? num(*c.score) : json(nullptr)},
               {"score_terms", terms}};
  const auto& a = r.accuracy;
  json acc = {{"label_distribution", opt(a.label_distribution)},
              {"parallel_flag_distribution", opt(a.parallel_flag_distribution)},
              {"sequential_flag_distribution", opt(a.sequential_flag_distribution)},
              {"kl_labels_parallel", opt(a.kl_labels_parallel)},
              {"kl_labels_sequential", opt(a.kl_labels_sequential)},
              {"accuracy_ratio", opt(a.accuracy_ratio)},
              {"confusion", a.tp ? json{{"tp", *a.tp}, {"fp", *a.fp}, {"tn", *a.tn}, {"fn", *a.fn}}
                                 : json(nullptr)},
              {"kl_histograms_max", opt(a.kl_histograms_max)},
              {"kl_histograms_mean", opt(a.kl_histograms_mean)},
              {"smoothing_alpha", a.smoothing_alpha}};
  json out = {{"wafermill_report", 1},
              {"provenance", prov},
              {"config", r.config},
              {"ranks", r.parallel.ranks},
              {"parallel", to_json(r.parallel)},
              {"sequential", r.sequential ? to_json(*r.sequential) : json(nullptr)},
              {"comparison", comp},
              {"accuracy", acc},
              {"warnings", r.warnings}};
  out["skipped_files"] = json::array();
  for (const auto& f : r.skipped_files)
    out["skipped_files"].push_back({{"path", f.path}, {"reason", f.reason}});
  // Top-level per_rank mirrors parallel.per_rank for tools that only want hosts and ranks.
  out["per_rank"] = out["parallel"]["per_rank"];
  if (r.pictures) out["pictures"] = *r.pictures;
  if (r.monitoring) out["monitoring"] = *r.monitoring;
  return out;
}

RunReport run_report_from_json(const json& j) {
  RunReport r;
  if (!j.is_object() || !j.contains("wafermill_report"))
    throw InputError("not a wafermill report (no \"wafermill_report\" key)");
  const json& p = need(j, "provenance");
  auto& v = r.provenance;
  v.version = need(p, "version").get<std::string>();
  v.git_revision = need(p, "git_revision").get<std::string>();
  v.started_utc = need(p, "started_utc").get<std::string>();
  v.command_line = p.value("command_line", "");
  v.hosts = need(p, "hosts").get<std::vector<std::string>>();
  v.ranks_per_node = need(p, "ranks_per_node").get<int>();
  v.cores = need(p, "cores").get<unsigned>();
  v.slurm_job_id = get_opt<std::string>(p, "slurm_job_id").value_or("");
  const json& in = need(p, "input");
  v.input_path = need(in, "path").get<std::string>();
  v.input_bytes = need(in, "bytes").get<std::uint64_t>();
  v.input_fingerprint = need(in, "fingerprint").get<std::string>();
  v.n_wafers = need(in, "wafers").get<std::uint64_t>();
  v.n_samples = need(in, "samples").get<std::uint64_t>();
  v.n_sensors = need(in, "sensors").get<std::uint64_t>();
  v.n_steps = need(in, "steps").get<std::uint64_t>();
  v.n_wafers_one_sample = get_opt<std::uint64_t>(in, "wafers_one_sample").value_or(0);  // older reports
  r.config = need(j, "config");
  if (j.contains("pictures") && !j.at("pictures").is_null()) r.pictures = j.at("pictures");
  // Reports written before warnings existed have none.
  if (j.contains("warnings")) r.warnings = j.at("warnings").get<std::vector<std::string>>();
  if (j.contains("skipped_files"))  // since several inputs (issue 19)
    for (const auto& f : j.at("skipped_files"))
      r.skipped_files.push_back(
          {need(f, "path").get<std::string>(), need(f, "reason").get<std::string>()});
  if (j.contains("monitoring") && !j.at("monitoring").is_null()) r.monitoring = j.at("monitoring");
  r.parallel = run_figures_from_json(need(j, "parallel"));
  if (!need(j, "sequential").is_null()) r.sequential = run_figures_from_json(j.at("sequential"));
  const json& c = need(j, "comparison");
  r.comparison.baseline_source = need(c, "baseline").get<std::string>();
  r.comparison.baseline_note = get_opt<std::string>(c, "baseline_note");  // older reports: none
  if (auto s = get_opt<double>(c, "speedup")) {
    metrics::Scaling sc;
    sc.speedup = *s;
    sc.efficiency = get_opt<double>(c, "efficiency").value_or(NAN);
    sc.karp_flatt = get_opt<double>(c, "karp_flatt");
    r.comparison.scaling = sc;
  }
  r.comparison.memory_efficiency = get_opt<double>(c, "memory_efficiency");
  r.comparison.outputs_identical = get_opt<bool>(c, "outputs_identical");
  r.comparison.first_difference = get_opt<std::string>(c, "first_difference");
  r.comparison.score = get_opt<double>(c, "score");
  if (c.contains("score_terms"))
    for (const auto& [name, t] : c.at("score_terms").items())
      r.comparison.score_terms.push_back(
          {name, metrics::ScoreTerm{t.at("weight").get<double>(), get_opt<double>(t, "value")}});
  const json& a = need(j, "accuracy");
  auto& x = r.accuracy;
  x.label_distribution = get_opt<std::vector<double>>(a, "label_distribution");
  x.parallel_flag_distribution = get_opt<std::vector<double>>(a, "parallel_flag_distribution");
  x.sequential_flag_distribution = get_opt<std::vector<double>>(a, "sequential_flag_distribution");
  x.kl_labels_parallel = get_opt<double>(a, "kl_labels_parallel");
  x.kl_labels_sequential = get_opt<double>(a, "kl_labels_sequential");
  x.accuracy_ratio = get_opt<double>(a, "accuracy_ratio");
  if (a.contains("confusion") && !a.at("confusion").is_null()) {
    const json& m = a.at("confusion");
    x.tp = m.at("tp").get<std::uint64_t>();
    x.fp = m.at("fp").get<std::uint64_t>();
    x.tn = m.at("tn").get<std::uint64_t>();
    x.fn = m.at("fn").get<std::uint64_t>();
  }
  x.kl_histograms_max = get_opt<double>(a, "kl_histograms_max");
  x.kl_histograms_mean = get_opt<double>(a, "kl_histograms_mean");
  x.smoothing_alpha = a.value("smoothing_alpha", 0.5);
  return r;
}

RunReport read_report(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot open report file");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    throw InputError(path + ": not valid JSON: " + e.what());
  }
  try {
    return run_report_from_json(j);
  } catch (const InputError& e) {
    throw InputError(path + ": " + e.what());
  } catch (const json::exception& e) {
    throw InputError(path + ": malformed wafermill report: " + e.what());
  }
}

void write_report(const RunReport& r, const std::string& path) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp);
    if (!out) throw InputError(path + ": cannot create report file");
    out << to_json(r).dump(2) << '\n';
    out.flush();
    if (!out) throw std::runtime_error(path + ": write failed");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw std::runtime_error(path + ": cannot rename the report into place");
  }
}

// The files --skip-bad-files left out, one line each, named.
void skipped_lines(std::ostream& o, const std::vector<SkippedFile>& skipped) {
  if (skipped.empty()) return;
  o << "skipped " << skipped.size() << " bad input file" << (skipped.size() == 1 ? "" : "s")
    << " (--skip-bad-files):\n";
  for (const auto& f : skipped)
    o << "  " << (f.reason.rfind(f.path, 0) == 0 ? f.reason : f.path + ": " + f.reason) << "\n";
}

// One line per kind of picture of a report's "pictures" section (docs/PICTURES.md).
void picture_lines(std::ostream& o, const json& pictures) {
  const auto latency = [](const json& k) {
    const json& l = k.at("latency");
    return "latency p50 " + fmt("%.3f ms", l.value("p50_s", 0.0) * 1e3) + ", p95 " +
           fmt("%.3f ms", l.value("p95_s", 0.0) * 1e3) + ", p99 " + fmt("%.3f ms", l.value("p99_s", 0.0) * 1e3);
  };
  const auto balance = [](const json& k) {
    if (!k.contains("load_balance")) return std::string();
    return "  imbalance max/mean=" + fmt("%.3f", k.at("load_balance").value("imbalance", 1.0));
  };
  const auto sequential = [](const json& k) {
    if (!k.contains("sequential")) return std::string();
    const json& s = k.at("sequential");
    return "\n  sequential T_seq=" + fmt("%.3f s", s.value("wall_s", 0.0)) + "  S=" +
           (s.contains("speedup") ? fmt("%.2f", s.at("speedup").get<double>()) : "n/a") + "  S/P=" +
           (s.contains("efficiency") ? fmt("%.2f", s.at("efficiency").get<double>()) : "n/a") + "  results " +
           (s.value("identical", false) ? "identical" : "DIFFER");
  };
  // Planted truth only in generated files (/truth/*); anything else is the input's labels.
  const auto versus = [](const json& accuracy) {
    const std::string source = accuracy.value("truth_source", std::string("/truth/"));
    return source.rfind("/truth/", 0) == 0 ? std::string("vs planted truth")
                                           : "vs labels (" + source + ", " +
                                                 std::to_string(accuracy.value("labelled", 0ULL)) + " labelled)";
  };
  if (pictures.contains("maps")) {
    const json& m = pictures.at("maps");
    o << "maps: " << m.value("wafers", 0ULL) << " in " << fmt("%.3f s", m.value("wall_s", 0.0)) << "  "
      << fmt("%.0f maps/s", m.value("maps_per_s", 0.0)) << "  " << fmt("%.1f MB/s", m.value("mb_per_s", 0.0))
      << "  " << latency(m) << "  flagged " << m.value("flagged", 0ULL) << balance(m);
    if (m.contains("accuracy"))
      o << "\n  " << versus(m.at("accuracy")) << ": agreement " << fmt("%.3f", m.at("accuracy").value("agreement", 0.0))
        << "  KL(truth||found) " << fmt("%.5f", m.at("accuracy").value("kl_patterns", 0.0));
    o << sequential(m) << "\n";
  }
  if (pictures.contains("images")) {
    const json& m = pictures.at("images");
    o << "images: " << m.value("images", 0ULL) << " of " << m.value("height", 0U) << "x" << m.value("width", 0U)
      << "x" << m.value("channels", 0U) << " in " << fmt("%.3f s", m.value("wall_s", 0.0)) << "  "
      << fmt("%.0f images/s", m.value("images_per_s", 0.0)) << "  "
      << fmt("%.1f MB/s", m.value("mb_per_s", 0.0)) << "  " << latency(m) << "  flagged "
      << m.value("flagged", 0ULL) << balance(m);
    if (m.contains("accuracy")) {
      const json& a = m.at("accuracy");
      o << "\n  " << versus(a) << ": tp " << a.value("tp", 0ULL) << ", fp " << a.value("fp", 0ULL) << ", tn "
        << a.value("tn", 0ULL) << ", fn " << a.value("fn", 0ULL) << "  KL(truth||flags) "
        << fmt("%.5f", a.value("kl_flags", 0.0));
    }
    o << sequential(m) << "\n";
  }
}

std::string text_summary(const RunReport& r) {
  std::ostringstream o;
  const auto& p = r.parallel;
  const auto& v = r.provenance;
  // An input of maps and images only: no trace figures to show.
  const bool pictures_only = r.pictures && v.n_wafers == 0 && p.wafers == 0;
  if (pictures_only) {
    o << "wafermill " << v.version << " (" << v.git_revision << ")  " << v.input_path
      << ": "
      << (r.pictures->contains("maps") && r.pictures->contains("images") ? "maps and images"
          : r.pictures->contains("maps")                                  ? "maps"
                                                                          : "images")
      << ", no traces\n";
    o << "parallel   P=" << p.ranks << " policy=" << p.policy << " backend=" << p.backend
      << "  T_par=" << fmt("%.3f s", p.wall_s) << "\n";
    if (r.sequential)
      o << "sequential P=1 (" << baseline_label(r.comparison)
        << ")  T_seq=" << fmt("%.3f s", r.sequential->wall_s) << "\n";
    if (r.comparison.scaling)
      o << "speedup S=" << fmt("%.2f", r.comparison.scaling->speedup) << "  efficiency S/P="
        << fmt("%.2f", r.comparison.scaling->efficiency) << "\n";
    picture_lines(o, *r.pictures);
    if (r.comparison.baseline_note)
      o << "output: the run is its own baseline (one rank), not compared\n";
    else if (r.comparison.outputs_identical)
      o << "output " << (*r.comparison.outputs_identical ? "bitwise identical to the sequential run's"
                                                         : "DIFFERS from the sequential run's: " +
                                                               r.comparison.first_difference.value_or(""))
        << "\n";
    skipped_lines(o, r.skipped_files);
    return o.str();
  }
  o << "wafermill " << v.version << " (" << v.git_revision << ")  " << v.input_path << ": "
    << v.n_wafers << " wafers, " << v.n_samples << " samples, " << v.n_sensors << " sensors, "
    << v.n_steps << " steps\n";
  if (p.files > 1 || p.blocks_reused > 0)
    o << "inputs     " << p.files << (p.files == 1 ? " file" : " files") << ", " << p.files_reused
      << " reused whole from the result store; blocks " << p.blocks_reused << " reused, "
      << p.blocks_computed << " computed, " << p.blocks_unread
      << " known from the file records (not read again)\n";
  if (v.n_wafers_one_sample > 0) {
    o << "note: " << v.n_wafers_one_sample << " of " << v.n_wafers << " wafers ("
      << fmt("%.1f %%", 100.0 * double(v.n_wafers_one_sample) / double(v.n_wafers))
      << ") have one sample: their rms is |x|; std, skewness, kurtosis and slope are undefined "
         "(NaN) (docs/METRICS.md)\n";
  }
  o << "parallel   P=" << p.ranks << " policy=" << p.policy << " backend=" << p.backend
    << " io=" << p.io << "  T_par=" << fmt("%.3f s", p.wall_s) << "  "
    << fmt("%.0f wafers/s", p.wafers_per_s()) << "  " << fmt("%.1f MB/s", p.mb_per_s()) << "\n";
  if (r.sequential) {
    const auto& s = *r.sequential;
    o << "sequential P=1 (" << baseline_label(r.comparison)
      << ")  T_seq=" << fmt("%.3f s", s.wall_s) << "  " << fmt("%.0f wafers/s", s.wafers_per_s())
      << "\n";
  }
  if (r.comparison.scaling) {
    const auto& sc = *r.comparison.scaling;
    o << "speedup S=" << fmt("%.2f", sc.speedup) << "  efficiency S/P=" << fmt("%.2f", sc.efficiency)
      << "  Karp-Flatt e=" << fmt_opt("%.3f", sc.karp_flatt) << "\n";
  }
  o << "busy: sum " << fmt("%.3f s", p.balance.sum) << ", max " << fmt("%.3f s", p.balance.max)
    << "  imbalance max/mean=" << fmt("%.3f", p.balance.imbalance)
    << "  balance-limited speedup=" << fmt("%.2f", p.balance.model_speedup) << "\n";
  o << "latency per wafer: p50 " << fmt("%.3f ms", p.latency.p50 * 1e3) << ", p95 "
    << fmt("%.3f ms", p.latency.p95 * 1e3) << ", p99 " << fmt("%.3f ms", p.latency.p99 * 1e3)
    << ", max " << fmt("%.3f ms", p.latency.max * 1e3) << "\n";
  o << "memory: parallel peak RSS max/rank " << mib(p.peak_rss_max_bytes) << ", total "
    << mib(p.peak_rss_total_bytes);
  if (r.sequential) o << "; sequential " << mib(r.sequential->peak_rss_total_bytes);
  o << "; E_memory=" << fmt_opt("%.2f", r.comparison.memory_efficiency) << "\n";
  o << "E_GPU=" << fmt_opt("%.1f %%", p.gpu_utilisation)
    << "  kernel busy=" << fmt_opt("%.2f", p.kernel_busy_fraction) << "\n";
  const auto& a = r.accuracy;
  o << "flags: " << p.flagged << " of " << p.wafers;
  if (a.tp)
    o << "  vs labels: tp " << *a.tp << ", fp " << *a.fp << ", tn " << *a.tn << ", fn " << *a.fn;
  o << "\n";
  if (const auto& mon = r.monitoring; mon && mon->contains("kind")) {  // a run without a model
    const nlohmann::json* m = &*mon;
    char line[512];
    std::snprintf(line, sizeof line, "verdict: %s, %llu columns, limit %.4g%s\n",
                  m->value("kind", "") == "fleet" ? "the fleet's own fit" : "max |z| (--threshold)",
                  static_cast<unsigned long long>(m->value("columns", 0ULL)), m->value("limit", 0.0),
                  m->value("kind", "") == "fleet"
                      ? (", expected false-alarm rate " + fmt("%.3g", m->value("false_alarm_rate", 0.0)) + ", " +
                         std::to_string(m->value("rounds", 0)) + " rounds")
                            .c_str()
                      : "");
    o << line;
    if (m->contains("limit_used")) {  // the fleet's calibrated limit (docs/MONITORING.md)
      const nlohmann::json& q = m->at("calibrated_limit");
      std::snprintf(line, sizeof line,
                    "verdict limit: %s (x%.4g of the Student t limits, --fleet-limit %s); "
                    "conformal quantile %s (rank %llu of %llu wafers); the Student t limits "
                    "alone flag %llu\n",
                    m->value("limit_used", std::string()).c_str(), m->value("limit_factor", 1.0),
                    m->value("limit_rule", std::string()).c_str(),
                    q.is_number() ? fmt("%.4g", q.get<double>()).c_str() : "none (too few wafers)",
                    static_cast<unsigned long long>(m->value("calibration_rank", 0ULL)),
                    static_cast<unsigned long long>(m->value("calibration_reference", 0ULL)),
                    static_cast<unsigned long long>(m->value("flagged_parametric", 0ULL)));
      o << line;
    }
    if (!m->value("warning", std::string()).empty())
      o << "verdict warning: " << m->value("warning", std::string()) << "\n";
  } else if (const auto& m = r.monitoring) {
    char line[512];
    std::snprintf(line, sizeof line,
                  "model %s: %d components, T2 limit %.4g, SPE limit %.4g, expected false-alarm rate "
                  "%.3g (held-out %.3g); flagged by T2 %llu, by SPE %llu\n",
                  m->value("path", "").c_str(), m->value("components", 0), m->value("t2_limit", 0.0),
                  m->value("spe_limit", 0.0), m->value("false_alarm_rate", 0.0),
                  m->value("heldout_false_alarm_rate", 0.0),
                  static_cast<unsigned long long>(m->value("flagged_t2", 0ULL)),
                  static_cast<unsigned long long>(m->value("flagged_spe", 0ULL)));
    o << line;
    if (m->value("univariate_limit", 0.0) > 0.0)
      o << "univariate limit |z| " << m->value("univariate_limit", 0.0) << ": flagged "
        << m->value("flagged_univariate", 0ULL) << "\n";
    if (m->contains("drift")) o << drift_line(m->at("drift"));
    if (!m->value("warning", std::string()).empty()) o << "model warning: " << m->value("warning", std::string()) << "\n";
  }
  o << "KL(labels||flags): parallel " << fmt_opt("%.5f", a.kl_labels_parallel) << ", sequential "
    << fmt_opt("%.5f", a.kl_labels_sequential) << ", R_accuracy "
    << fmt_opt("%.3f", a.accuracy_ratio) << ";  KL(f64 reference||histograms) max "
    << fmt_opt("%.3g", a.kl_histograms_max)
    << (r.comparison.baseline_note ? " (by construction: the run is its own baseline)" : "")
    << "\n";
  if (r.pictures) picture_lines(o, *r.pictures);
  if (r.comparison.baseline_note)
    o << "outputs: the run is its own baseline (one rank), not compared; --baseline repeat "
         "checks them against a second pass\n";
  else if (r.comparison.outputs_identical)
    o << "outputs " << (*r.comparison.outputs_identical ? "bitwise identical to the sequential run"
                                                        : "DIFFER from the sequential run: " +
                                                              r.comparison.first_difference.value_or(""))
      << "\n";
  o << "score=" << fmt_opt("%.4f", r.comparison.score) << " (";
  bool first = true;
  for (const auto& [name, t] : r.comparison.score_terms) {
    o << (first ? "" : ", ") << name << " w=" << fmt("%.2f", t.weight) << " v=" << fmt_opt("%.4g", t.value);
    first = false;
  }
  o << ")\n";
  skipped_lines(o, r.skipped_files);
  return o.str();
}

}  // namespace wafermill::report
