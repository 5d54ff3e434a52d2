// The study's aggregation: reports → series (policy, backend, I/O) → points (rank count),
// with the baseline, speedup, efficiency, Karp–Flatt and the Amdahl fit. docs/STUDY.md.
#include "wafermill/report/study.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "wafermill/error.hpp"

namespace wafermill::report {
namespace {

namespace fs = std::filesystem;

// Same input ⇔ same fingerprint and size; the size alone stands in when a report has no hash.
std::string input_key(const RunReport& r) {
  return r.provenance.input_fingerprint + ":" + std::to_string(r.provenance.n_samples);
}

double mean_over_ranks(const RunFigures& f, double RankFigures::*phase) {
  if (f.per_rank.empty()) return NAN;
  double sum = 0;
  for (const auto& r : f.per_rank) sum += r.*phase;
  return sum / static_cast<double>(f.per_rank.size());
}

std::vector<double> collect(const std::vector<const RunReport*>& runs, auto&& figure) {
  std::vector<double> out;
  for (const RunReport* r : runs) out.push_back(figure(*r));
  return out;
}

StudyPoint make_point(int ranks, const std::vector<std::size_t>& indices,
                      const std::vector<StudyRun>& all) {
  StudyPoint p;
  p.ranks = ranks;
  p.runs = indices;
  std::vector<const RunReport*> runs;
  for (std::size_t i : indices) runs.push_back(&all[i].report);
  for (const RunReport* r : runs)
    p.nodes = std::max(p.nodes, static_cast<int>(r->provenance.hosts.size()));
  p.time_s = summarise(collect(runs, [](const RunReport& r) { return r.parallel.wall_s; }));
  p.wafers = static_cast<std::uint64_t>(summarise(collect(runs, [](const RunReport& r) {
                                          return double(r.parallel.wafers);
                                        })).median);
  auto phase = [&](double RankFigures::*member) {
    return summarise(
        collect(runs, [&](const RunReport& r) { return mean_over_ranks(r.parallel, member); }));
  };
  p.phases.read = phase(&RankFigures::read_s);
  p.phases.compute = phase(&RankFigures::compute_s);
  p.phases.reduce = phase(&RankFigures::reduce_s);
  p.phases.wait = phase(&RankFigures::wait_s);
  p.phases.other = summarise(collect(runs, [](const RunReport& r) {
    const auto& f = r.parallel;
    double accounted = 0;
    for (auto m : {&RankFigures::read_s, &RankFigures::compute_s, &RankFigures::reduce_s,
                   &RankFigures::wait_s})
      accounted += mean_over_ranks(f, m);
    return std::max(0.0, f.wall_s - accounted);
  }));
  p.imbalance =
      summarise(collect(runs, [](const RunReport& r) { return r.parallel.balance.imbalance; }));
  p.wafers_per_s =
      summarise(collect(runs, [](const RunReport& r) { return r.parallel.wafers_per_s(); }));
  p.mb_per_s = summarise(collect(runs, [](const RunReport& r) { return r.parallel.mb_per_s(); }));
  return p;
}

// Chooses T_base: the single-rank runs, else (strong) the sequential baselines the reports
// carry, else the smallest P (relative scaling).
void choose_baseline(StudySeries& s, const std::vector<StudyRun>& all, ScalingKind kind) {
  const StudyPoint& first = s.points.front();
  if (first.ranks == 1 && first.time_s.n > 0) {
    s.baseline_s = first.time_s.median;
    s.baseline_ranks = 1;
    s.baseline_note = "median of " + std::to_string(first.time_s.n) + " single-rank run(s)";
    return;
  }
  if (kind == ScalingKind::strong) {
    std::vector<double> seq;
    for (const auto& p : s.points)
      for (std::size_t i : p.runs)
        if (all[i].report.sequential) seq.push_back(all[i].report.sequential->wall_s);
    const Spread t = summarise(seq);
    if (t.n > 0 && t.median > 0) {
      s.baseline_s = t.median;
      s.baseline_ranks = 1;
      s.baseline_note = "median of " + std::to_string(t.n) +
                        " sequential baseline(s) carried in the reports (run --baseline run)";
      return;
    }
  }
  if (first.time_s.n > 0 && first.time_s.median > 0) {
    s.baseline_s = first.time_s.median;
    s.baseline_ranks = first.ranks;
    const std::string p0 = std::to_string(first.ranks);
    s.baseline_note = "no single-rank run: relative to P=" + p0 +
                      (kind == ScalingKind::strong ? ", S = " + p0 + "·T(" + p0 + ")/T(P)"
                                                   : ", E = T(" + p0 + ")/T(P)");
  } else {
    s.baseline_note = "no baseline: no run with a positive wall time";
  }
}

// Speedup and efficiency bars: the fastest run gives the top of the bar, the slowest the bottom.
Spread ratio_spread(double numerator, const Spread& t, double scale) {
  Spread r;
  r.n = t.n;
  r.median = scale * numerator / t.median;
  r.min = scale * numerator / t.max;
  r.max = scale * numerator / t.min;
  return r;
}

void scaling_figures(StudySeries& s, const std::vector<StudyRun>& all, ScalingKind kind) {
  choose_baseline(s, all, kind);
  if (!s.baseline_s) return;
  const double base = *s.baseline_s;
  for (auto& p : s.points) {
    if (p.time_s.n == 0 || !(p.time_s.min > 0)) continue;
    const double pr = p.ranks;
    if (kind == ScalingKind::strong) {
      // S = P_base · T_base / T(P): P_base = 1 is the classic definition.
      p.speedup = ratio_spread(base, p.time_s, s.baseline_ranks);
      p.efficiency = ratio_spread(base, p.time_s, s.baseline_ranks / pr);
      if (p.ranks > 1 && s.baseline_ranks == 1)
        p.karp_flatt = metrics::scaling(base, p.time_s.median, p.ranks).karp_flatt;
    } else {
      // Weak scaling: E = T_base / T(P); scaled speedup (Gustafson) = P · E.
      p.efficiency = ratio_spread(base, p.time_s, 1.0);
      p.speedup = ratio_spread(base, p.time_s, pr);
    }
  }
  if (kind == ScalingKind::strong) {
    std::vector<int> ranks;
    std::vector<double> times;
    bool have_single = false;
    for (const auto& p : s.points)
      for (std::size_t i : p.runs) {
        ranks.push_back(p.ranks);
        times.push_back(all[i].report.parallel.wall_s);
        have_single = have_single || p.ranks == 1;
      }
    // The sequential baselines are T(1) measurements too when no single-rank run exists.
    if (!have_single)
      for (const auto& p : s.points)
        for (std::size_t i : p.runs)
          if (all[i].report.sequential) {
            ranks.push_back(1);
            times.push_back(all[i].report.sequential->wall_s);
          }
    s.amdahl = fit_amdahl(ranks, times);
  }
}

bool is_report_json(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return false;
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  return !j.is_discarded() && j.is_object() && j.contains("wafermill_report");
}

// The runs whose report has a monitoring.drift section (run --model with a v2 model), ordered
// by report file name: name them in night order (night_00.json, night_01.json, ...).
std::vector<DriftNight> drift_nights(const std::vector<StudyRun>& runs) {
  std::vector<DriftNight> out;
  for (const auto& run : runs) {
    const auto& m = run.report.monitoring;
    if (!m || !m->is_object() || !m->contains("drift")) continue;
    const nlohmann::json& d = m->at("drift");
    DriftNight n;
    n.source = run.source;
    n.input = run.report.provenance.input_path;
    try {
      n.wafers = d.value("wafers", std::uint64_t{0});
      n.assessed = d.value("assessed", true);
      n.threshold = d.value("applied_psi_threshold", 0.0);
      n.noise_floor = d.value("noise_floor_psi", 0.0);
      n.inflation = d.value("inflation", 1.0);
      n.false_alarm_rate = d.value("false_alarm_rate", 0.0);
      n.threshold_lo = n.threshold;
      for (const auto& c : d.at("columns")) {
        n.psi.emplace_back(c.at("column").get<std::string>(), c.at("psi").get<double>());
        n.threshold_lo = std::min(n.threshold_lo, c.value("psi_threshold", n.threshold));
      }
      for (const auto& c : d.at("drifted")) n.drifted.push_back(c.at("column").get<std::string>());
    } catch (const nlohmann::json::exception& e) {
      throw InputError(run.source + ": monitoring.drift is malformed: " + e.what());
    }
    out.push_back(std::move(n));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const DriftNight& a, const DriftNight& b) { return a.source < b.source; });
  return out;
}

}  // namespace

std::string to_string(ScalingKind kind) { return kind == ScalingKind::strong ? "strong" : "weak"; }

ScalingKind parse_scaling_kind(const std::string& word) {
  if (word == "strong") return ScalingKind::strong;
  if (word == "weak") return ScalingKind::weak;
  throw UsageError("scaling kind \"" + word + "\": expected strong or weak");
}

std::vector<StudyRun> load_study_runs(const std::vector<std::string>& paths) {
  std::vector<StudyRun> runs;
  for (const auto& path : paths) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      std::vector<fs::path> files;
      for (const auto& e : fs::directory_iterator(path, ec))
        if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path());
      std::sort(files.begin(), files.end());
      // A directory may hold other JSON (a previous study.json): only reports are taken.
      for (const auto& f : files)
        if (is_report_json(f)) runs.push_back({f.string(), read_report(f.string())});
      continue;
    }
    if (!fs::exists(path, ec)) throw InputError(path + ": no such report file or directory");
    runs.push_back({path, read_report(path)});
  }
  if (runs.empty()) throw InputError("no wafermill run report found in the given paths");
  return runs;
}

Study build_study(std::vector<StudyRun> runs, std::optional<ScalingKind> kind) {
  if (runs.empty()) throw InputError("a study needs at least one run report");
  // A stable order for the tables: series, then P, then file.
  std::stable_sort(runs.begin(), runs.end(), [](const StudyRun& a, const StudyRun& b) {
    const auto& x = a.report.parallel;
    const auto& y = b.report.parallel;
    return std::tie(x.policy, x.backend, x.io, x.ranks, a.source) <
           std::tie(y.policy, y.backend, y.io, y.ranks, b.source);
  });
  Study study;
  using Key = std::tuple<std::string, std::string, std::string>;
  std::map<Key, std::map<int, std::vector<std::size_t>>> grouped;
  std::set<std::string> ios;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const auto& f = runs[i].report.parallel;
    grouped[{f.policy, f.backend, f.io}][f.ranks].push_back(i);
    ios.insert(f.io);
  }

  // Strong scaling ⇔ one input per series; weak ⇔ the input changes with P.
  bool one_input_per_series = true;
  for (const auto& [key, by_p] : grouped) {
    std::set<std::string> inputs;
    for (const auto& [p, idx] : by_p)
      for (std::size_t i : idx) inputs.insert(input_key(runs[i].report));
    one_input_per_series = one_input_per_series && inputs.size() == 1;
  }
  study.kind = kind.value_or(one_input_per_series ? ScalingKind::strong : ScalingKind::weak);
  if (study.kind == ScalingKind::strong && !one_input_per_series)
    study.notes.push_back(
        "strong scaling was asked for, but the runs of a series read different "
        "inputs (fingerprints differ): speedups compare different work");

  for (const auto& [key, by_p] : grouped) {
    StudySeries s;
    std::tie(s.policy, s.backend, s.io) = key;
    s.label = s.policy + "/" + s.backend + (ios.size() > 1 ? "/" + s.io : "");
    for (const auto& [p, idx] : by_p) {
      s.points.push_back(make_point(p, idx, runs));
      if (study.kind == ScalingKind::weak) {
        std::set<std::string> inputs;
        for (std::size_t i : idx) inputs.insert(input_key(runs[i].report));
        if (inputs.size() > 1)
          study.notes.push_back(s.label + " P=" + std::to_string(p) +
                                ": its repetitions read different inputs");
      }
    }
    scaling_figures(s, runs, study.kind);
    if (s.baseline_ranks != 1 || !s.baseline_s)
      study.notes.push_back(s.label + ": " + s.baseline_note);
    study.series.push_back(std::move(s));
  }
  study.runs = std::move(runs);
  study.drift = drift_nights(study.runs);
  return study;
}

std::vector<std::string> DriftNight::drifted_sensors() const {
  std::vector<std::string> out;
  for (const auto& c : drifted) {
    const std::string sensor = c.substr(0, c.find('/'));
    if (std::find(out.begin(), out.end(), sensor) == out.end()) out.push_back(sensor);
  }
  return out;
}

}  // namespace wafermill::report
