// The study's sections: what the Markdown and HTML documents say, in the same words.
#include "study_sections.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "wafermill/report/study_gate.hpp"

namespace wafermill::report::detail {
namespace {

std::string join(const std::set<std::string>& items, const std::string& sep) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

std::string bytes_text(std::uint64_t b) {
  return b >= 1000000 ? number("%.1f MB", b / 1e6) : std::to_string(b) + " B";
}

std::string opt_spread(const char* f, const std::optional<Spread>& s) {
  return s ? spread_text(f, *s) : "n/a";
}

std::string percent(std::optional<double> v) {
  return v ? number("%+.1f %%", *v * 100) : "unbounded";
}

StudySection summary_section(const Study& s) {
  StudySection sec;
  sec.heading = "Scaling study: " + to_string(s.kind) + " scaling";
  std::set<int> ranks;
  std::set<std::string> revisions, inputs, hosts;
  for (const auto& run : s.runs) {
    ranks.insert(run.report.parallel.ranks);
    revisions.insert(run.report.provenance.git_revision);
    inputs.insert(run.report.provenance.input_path);
    for (const auto& h : run.report.provenance.hosts) hosts.insert(h);
  }
  std::string p_list;
  for (int p : ranks) p_list += (p_list.empty() ? "" : ", ") + std::to_string(p);
  sec.paragraphs.push_back(
      std::to_string(s.runs.size()) + " run(s) in " + std::to_string(s.series.size()) +
      " series (policy/backend) at P = " + p_list + " on " + std::to_string(hosts.size()) +
      " host(s); git " + join(revisions, ", ") + "; input " + join(inputs, ", ") + ".");
  sec.paragraphs.push_back(
      s.kind == ScalingKind::strong
          ? "Strong scaling: one input for every P. Speedup S = T_base/T(P), efficiency E = S/P, "
            "Karp-Flatt e = (1/S - 1/P)/(1 - 1/P). Points are medians over repetitions; bars span "
            "min to max."
          : "Weak scaling: the input grows with P. Efficiency E = T_base/T(P) (ideal 1), scaled "
            "speedup "
            "P*E. Points are medians over repetitions; bars span min to max.");
  sec.chart_ids = {"time", "speedup", "efficiency", "karp-flatt", "throughput"};
  return sec;
}

StudySection comparison_section(const StudyComparison& c) {
  StudySection sec;
  sec.heading = "Regression check";
  const auto bad = c.regressed();
  std::size_t gated = 0;
  for (const auto& m : c.checks) gated += m.status == "pass" || m.status == "regressed";
  if (bad.empty()) {
    sec.paragraphs.push_back("PASS: all " + std::to_string(gated) +
                             " gated metric(s) within tolerance of " + c.reference_source + ".");
  } else {
    std::string names;
    for (const auto& n : bad) names += (names.empty() ? "" : "; ") + n;
    sec.paragraphs.push_back("REGRESSED: " + std::to_string(bad.size()) + " of " +
                             std::to_string(gated) + " gated metric(s) outside tolerance of " +
                             c.reference_source + ": " + names + ".");
  }
  for (const auto& n : c.notes) sec.paragraphs.push_back("Note: " + n);
  StudyTable t{"Metrics against the reference (band = reference x (1 + lower .. 1 + upper))",
               {"metric", "reference", "this study", "change", "lower", "upper", "status"},
               {}};
  // Regressed metrics first: at a glance, without scrolling past the passing ones.
  std::vector<const MetricCheck*> order;
  for (const auto& m : c.checks)
    if (m.status == "regressed") order.push_back(&m);
  for (const auto& m : c.checks)
    if (m.status != "regressed") order.push_back(&m);
  for (const MetricCheck* pm : order) {
    const MetricCheck& m = *pm;
    t.rows.push_back({m.metric, m.reference ? number("%.4g", *m.reference) : "-",
                      m.value ? number("%.4g", *m.value) : "-",
                      m.change() ? number("%+.1f %%", *m.change() * 100) : "-", percent(m.lower),
                      percent(m.upper), m.status});
  }
  sec.tables.push_back(std::move(t));
  sec.chart_ids.push_back("comparison");
  return sec;
}

StudySection series_section(const Study& s, const StudySeries& series, std::size_t index) {
  StudySection sec;
  sec.heading = "Series " + series.label;
  sec.paragraphs.push_back(
      "Baseline T_base = " +
      (series.baseline_s ? number("%.4g s", *series.baseline_s) : std::string("n/a")) + ": " +
      series.baseline_note + ".");
  if (series.amdahl) {
    const auto& a = *series.amdahl;
    sec.paragraphs.push_back(
        "Amdahl fit T(P) = T1 (f + (1 - f)/P), least squares over " + std::to_string(a.n_runs) +
        " run(s): serial fraction f = " + number("%.4f", a.serial_fraction) + " +/- " +
        number("%.4f", a.serial_fraction_error) + " (standard error), T1 = " +
        number("%.4g s", a.t1_s) + ", rms residual " + number("%.3g s", a.residual_rms_s) +
        (a.serial_fraction > 0 && a.serial_fraction < 1
             ? "; the speedup it allows is at most 1/f = " + number("%.3g", 1 / a.serial_fraction) +
                   "."
             : "; f outside (0, 1): the times do not follow Amdahl's law (e.g. slower with more "
               "ranks)."));
  } else if (s.kind == ScalingKind::strong) {
    sec.paragraphs.push_back("Amdahl fit: needs runs at two or more rank counts.");
  }
  const bool strong = s.kind == ScalingKind::strong;
  StudyTable t{"Scaling (median [min-max])",
               {"P", "nodes", "runs", strong ? "T(P) s" : "T(P) s (input wafers)",
                strong ? "speedup" : "scaled speedup", "efficiency", "Karp-Flatt", "imbalance",
                "wafers/s", "MB/s"},
               {}};
  for (const auto& p : series.points) {
    std::string time = spread_text("%.4g", p.time_s);
    if (!strong) time += " (" + std::to_string(p.wafers) + ")";
    t.rows.push_back(
        {std::to_string(p.ranks), std::to_string(p.nodes), std::to_string(p.runs.size()), time,
         opt_spread("%.3f", p.speedup), opt_spread("%.3f", p.efficiency),
         p.karp_flatt ? number("%.4f", *p.karp_flatt) : "-", spread_text("%.3f", p.imbalance),
         spread_text("%.4g", p.wafers_per_s), spread_text("%.4g", p.mb_per_s)});
  }
  sec.tables.push_back(std::move(t));
  StudyTable ph{
      "Time per phase, mean per rank, s (median of runs); other = wall - phases (index, scoring, "
      "commit)",
      {"P", "read", "compute", "reduce", "wait", "other", "wall"},
      {}};
  for (const auto& p : series.points)
    ph.rows.push_back({std::to_string(p.ranks), number("%.4f", p.phases.read.median),
                       number("%.4f", p.phases.compute.median),
                       number("%.4f", p.phases.reduce.median), number("%.4f", p.phases.wait.median),
                       number("%.4f", p.phases.other.median), number("%.4f", p.time_s.median)});
  sec.tables.push_back(std::move(ph));
  sec.chart_ids.push_back("phases-" + std::to_string(index));
  return sec;
}

StudySection policy_section(const Study& s) {
  StudySection sec;
  sec.heading = "Load balance and policies side by side";
  sec.paragraphs.push_back(
      "Imbalance = max/mean busy time over ranks (1 is perfect). On skewed inputs "
      "(lognormal trace lengths) static splits wafers evenly, weighted splits samples, "
      "dynamic hands out work as ranks finish.");
  std::set<int> ranks;
  for (const auto& series : s.series)
    for (const auto& p : series.points) ranks.insert(p.ranks);
  StudyTable t{"Median wall time, s / imbalance per series", {"P"}, {}};
  for (const auto& series : s.series) t.header.push_back(series.label);
  for (int r : ranks) {
    std::vector<std::string> row{std::to_string(r)};
    for (const auto& series : s.series) {
      std::string cell = "-";
      for (const auto& p : series.points)
        if (p.ranks == r)
          cell = number("%.4g", p.time_s.median) + " / " + number("%.3f", p.imbalance.median);
      row.push_back(cell);
    }
    t.rows.push_back(std::move(row));
  }
  sec.tables.push_back(std::move(t));
  sec.chart_ids.push_back("imbalance");
  return sec;
}

StudySection provenance_section(const Study& s) {
  StudySection sec;
  sec.heading = "Provenance";
  StudyTable t{"Runs",
               {"report", "P", "nodes", "ranks/node", "cores", "policy", "wall s", "git",
                "Slurm job", "hosts", "input fingerprint", "input size", "started (UTC)"},
               {}};
  for (const auto& run : s.runs) {
    const auto& p = run.report.provenance;
    std::set<std::string> hosts(p.hosts.begin(), p.hosts.end());
    t.rows.push_back(
        {run.source, std::to_string(run.report.parallel.ranks), std::to_string(p.hosts.size()),
         std::to_string(p.ranks_per_node), std::to_string(p.cores), run.report.parallel.policy,
         number("%.4f", run.report.parallel.wall_s), p.git_revision,
         p.slurm_job_id.empty() ? "-" : p.slurm_job_id, join(hosts, " "), p.input_fingerprint,
         bytes_text(p.input_bytes) + ", " + std::to_string(p.n_wafers) + " wafers", p.started_utc});
  }
  sec.tables.push_back(std::move(t));
  const ConfigSummary cfg = config_summary(s);
  std::string common;
  for (const auto& [k, v] : cfg.common.items())
    common += (common.empty() ? "" : ", ") + k + " = " + v.dump();
  sec.paragraphs.push_back("Configuration shared by every run: " + (common.empty() ? "-" : common) +
                           ".");
  if (!cfg.differing.empty()) {
    std::set<std::string> d(cfg.differing.begin(), cfg.differing.end());
    sec.paragraphs.push_back("Configuration that differs between runs: " + join(d, ", ") + ".");
  }
  return sec;
}

std::string base_name(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Drift night over night: one row per night, then the PSI of every column named on some night.
StudySection drift_section(const Study& s) {
  StudySection sec;
  sec.heading = "Drift night over night";
  const DriftNight& first = s.drift.front();
  sec.paragraphs.push_back(
      "Each night's run --model against the model's reference histograms (docs/MONITORING.md "
      "\"Drift\"): "
      "a column has drifted when its PSI exceeds max(--drift-threshold, L x (1/n + 1/N) x the "
      "chi-square(B-1) quantile 1 - a/J), L the inflation of its feature over the sensors (genomic "
      "control), a = " +
      number("%.3g", first.false_alarm_rate) +
      " the chance that a clean night names any of the J columns; nights in report-file order.");
  StudyTable t;
  t.title = "Drift per night";
  t.header = {"night",
              "report",
              "input",
              "wafers",
              "PSI threshold (by column)",
              "noise floor",
              "inflation (all columns)",
              "largest PSI",
              "sensors named (columns)"};
  std::set<std::string> named_columns;
  for (std::size_t k = 0; k < s.drift.size(); ++k) {
    const DriftNight& n = s.drift[k];
    std::string largest = "-";
    double top = -1.0;
    for (const auto& [c, v] : n.psi)
      if (v > top) top = v, largest = number("%.3f", v) + " " + c;
    std::string sensors;
    for (const auto& sensor : n.drifted_sensors()) {
      std::size_t cols = 0;
      for (const auto& c : n.drifted) cols += c.rfind(sensor + "/", 0) == 0 ? 1 : 0;
      sensors += (sensors.empty() ? "" : ", ") + sensor + " (" + std::to_string(cols) + ")";
    }
    if (!n.assessed) sensors = "not assessed (too few wafers)";
    for (const auto& c : n.drifted) named_columns.insert(c);
    t.rows.push_back({std::to_string(k + 1), base_name(n.source), base_name(n.input),
                      std::to_string(n.wafers),
                      number("%.3f", n.threshold_lo) + "-" + number("%.3f", n.threshold),
                      number("%.3f", n.noise_floor), number("%.2f", n.inflation), largest,
                      sensors.empty() ? "none" : sensors});
  }
  sec.tables.push_back(std::move(t));
  if (!named_columns.empty()) {
    StudyTable m;
    m.title = "PSI night over night of the columns named on some night (* drifted)";
    m.header = {"column"};
    for (std::size_t k = 0; k < s.drift.size(); ++k)
      m.header.push_back("night " + std::to_string(k + 1));
    for (const auto& c : named_columns) {
      std::vector<std::string> row = {c};
      for (const auto& n : s.drift) {
        std::string cellv = "-";
        for (const auto& [col, v] : n.psi)
          if (col == c) cellv = number("%.3f", v);
        if (std::find(n.drifted.begin(), n.drifted.end(), c) != n.drifted.end()) cellv += " *";
        row.push_back(cellv);
      }
      m.rows.push_back(std::move(row));
    }
    sec.tables.push_back(std::move(m));
  }
  sec.chart_ids = {"drift"};
  return sec;
}

}  // namespace

std::string number(const char* format, double v) {
  if (!std::isfinite(v)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string spread_text(const char* format, const Spread& s) {
  if (s.n == 0) return "n/a";
  if (s.n == 1 || s.min == s.max) return number(format, s.median);
  return number(format, s.median) + " [" + number(format, s.min) + "-" + number(format, s.max) +
         "]";
}

ConfigSummary config_summary(const Study& study) {
  ConfigSummary out;
  std::set<std::string> keys;
  for (const auto& run : study.runs)
    if (run.report.config.is_object())
      for (const auto& [k, v] : run.report.config.items()) keys.insert(k);
  for (const auto& k : keys) {
    const nlohmann::json* first = nullptr;
    bool same = true;
    for (const auto& run : study.runs) {
      const auto& c = run.report.config;
      const nlohmann::json* v = c.is_object() && c.contains(k) ? &c.at(k) : nullptr;
      if (!v || (first && *first != *v)) same = false;
      if (!first) first = v;
    }
    if (same && first)
      out.common[k] = *first;
    else
      out.differing.push_back(k);
  }
  return out;
}

std::vector<StudySection> study_sections(const Study& study) {
  std::vector<StudySection> out;
  if (study.comparison) out.push_back(comparison_section(*study.comparison));
  out.push_back(summary_section(study));
  for (std::size_t i = 0; i < study.series.size(); ++i)
    out.push_back(series_section(study, study.series[i], i));
  out.push_back(policy_section(study));
  if (!study.drift.empty()) out.push_back(drift_section(study));
  out.push_back(provenance_section(study));
  if (!study.notes.empty()) out.push_back({"Notes", study.notes, {}, {}});
  return out;
}

}  // namespace wafermill::report::detail
