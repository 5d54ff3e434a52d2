// The study as JSON (study.json): the figures, flat metrics for the next night's gate, the
// runs' provenance and the comparison.
#include <cmath>

#include "study_sections.hpp"
#include "wafermill/report/study_gate.hpp"
#include "wafermill/report/study_writer.hpp"

namespace wafermill::report {
namespace {

using nlohmann::json;

// JSON has no NaN: missing figures are null.
json num(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }
json num(const std::optional<double>& v) { return v ? num(*v) : json(nullptr); }

json spread(const Spread& s) {
  return {{"median", num(s.median)}, {"min", num(s.min)}, {"max", num(s.max)}, {"n", s.n}};
}
json spread(const std::optional<Spread>& s) { return s ? spread(*s) : json(nullptr); }

json point_json(const StudyPoint& p, const Study& study) {
  json sources = json::array();
  for (std::size_t i : p.runs) sources.push_back(study.runs[i].source);
  return {{"ranks", p.ranks},
          {"nodes", p.nodes},
          {"runs", sources},
          {"wafers", p.wafers},
          {"time_s", spread(p.time_s)},
          {"speedup", spread(p.speedup)},
          {"efficiency", spread(p.efficiency)},
          {"karp_flatt", num(p.karp_flatt)},
          {"phases_s",
           {{"read", spread(p.phases.read)},
            {"compute", spread(p.phases.compute)},
            {"reduce", spread(p.phases.reduce)},
            {"wait", spread(p.phases.wait)},
            {"other", spread(p.phases.other)}}},
          {"imbalance", spread(p.imbalance)},
          {"throughput_wafers_per_s", spread(p.wafers_per_s)},
          {"throughput_mb_per_s", spread(p.mb_per_s)}};
}

json series_json(const StudySeries& s, const Study& study) {
  json points = json::array();
  for (const auto& p : s.points) points.push_back(point_json(p, study));
  json amdahl = nullptr;
  if (s.amdahl)
    amdahl = {{"serial_fraction", num(s.amdahl->serial_fraction)},
              {"serial_fraction_error", num(s.amdahl->serial_fraction_error)},
              {"t1_s", num(s.amdahl->t1_s)},
              {"residual_rms_s", num(s.amdahl->residual_rms_s)},
              {"n_runs", s.amdahl->n_runs}};
  return {{"label", s.label},
          {"policy", s.policy},
          {"backend", s.backend},
          {"io", s.io},
          {"baseline_s", num(s.baseline_s)},
          {"baseline_ranks", s.baseline_ranks},
          {"baseline_note", s.baseline_note},
          {"amdahl", amdahl},
          {"points", points}};
}

json run_json(const StudyRun& run) {
  const auto& p = run.report.provenance;
  const auto& f = run.report.parallel;
  return {{"source", run.source},
          {"ranks", f.ranks},
          {"policy", f.policy},
          {"backend", f.backend},
          {"io", f.io},
          {"wall_s", num(f.wall_s)},
          {"version", p.version},
          {"git_revision", p.git_revision},
          {"started_utc", p.started_utc},
          {"command_line", p.command_line},
          {"hosts", p.hosts},
          {"nodes", p.hosts.size()},
          {"ranks_per_node", p.ranks_per_node},
          {"cores", p.cores},
          {"slurm_job_id", p.slurm_job_id.empty() ? json(nullptr) : json(p.slurm_job_id)},
          {"input_path", p.input_path},
          {"input_bytes", p.input_bytes},
          {"input_fingerprint", p.input_fingerprint},
          {"input_wafers", p.n_wafers},
          {"input_samples", p.n_samples}};
}

json comparison_json(const StudyComparison& c) {
  json checks = json::array();
  for (const auto& m : c.checks)
    checks.push_back({{"metric", m.metric},
                      {"reference", num(m.reference)},
                      {"value", num(m.value)},
                      {"lower", num(m.lower)},
                      {"upper", num(m.upper)},
                      {"change", num(m.change())},
                      {"status", m.status}});
  return {{"reference", c.reference_source},
          {"passed", c.regressed().empty()},
          {"regressed", c.regressed()},
          {"notes", c.notes},
          {"checks", checks}};
}

// Drift night over night: per night the thresholds, the drifted columns and sensors, every PSI.
json drift_json(const Study& study) {
  json nights = json::array();
  for (const auto& n : study.drift) {
    json psi = json::object();
    for (const auto& [c, v] : n.psi) psi[c] = num(v);
    nights.push_back({{"source", n.source},
                      {"input", n.input},
                      {"wafers", n.wafers},
                      {"assessed", n.assessed},
                      {"applied_psi_threshold", num(n.threshold)},
                      {"lowest_psi_threshold", num(n.threshold_lo)},
                      {"noise_floor_psi", num(n.noise_floor)},
                      {"inflation", num(n.inflation)},
                      {"false_alarm_rate", num(n.false_alarm_rate)},
                      {"drifted", n.drifted},
                      {"drifted_sensors", n.drifted_sensors()},
                      {"psi", psi}});
  }
  return nights;
}

class JsonStudyWriter final : public StudyWriter {
 public:
  std::string file_name() const override { return "study.json"; }
  std::string render(const Study& s) const override { return study_to_json(s).dump(2) + "\n"; }
};

}  // namespace

json study_to_json(const Study& study) {
  json series = json::array();
  for (const auto& s : study.series) series.push_back(series_json(s, study));
  json runs = json::array();
  for (const auto& r : study.runs) runs.push_back(run_json(r));
  const auto cfg = detail::config_summary(study);
  return {{"wafermill_study", 1},
          {"kind", to_string(study.kind)},
          {"series", series},
          {"metrics", study_metrics(study)},
          {"runs", runs},
          {"config_common", cfg.common},
          {"config_differing", cfg.differing},
          {"notes", study.notes},
          {"drift", drift_json(study)},
          {"comparison", study.comparison ? comparison_json(*study.comparison) : json(nullptr)}};
}

namespace detail {
std::unique_ptr<StudyWriter> make_json_study_writer() {
  return std::make_unique<JsonStudyWriter>();
}
}  // namespace detail

}  // namespace wafermill::report
