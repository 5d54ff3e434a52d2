// Which charts a study has, and what goes into each (the drawing is svg_chart.cpp's).
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "wafermill/report/study_charts.hpp"

namespace wafermill::report {
namespace {

const char* kReference = "#777777";

// One line per series of a per-point figure, with its min–max bars.
ChartSpec per_point_chart(const Study& s, std::string id, std::string title, std::string y_label,
                          auto&& figure) {
  ChartSpec c;
  c.id = std::move(id);
  c.title = std::move(title);
  c.x_label = "ranks P";
  c.y_label = std::move(y_label);
  c.log2_x = true;
  for (std::size_t k = 0; k < s.series.size(); ++k) {
    const StudySeries& series = s.series[k];
    ChartSeries line;
    line.name = series.label;
    line.color = series_color(k);
    for (const auto& p : series.points) {
      const std::optional<Spread> v = figure(p);
      if (!v || v->n == 0 || !std::isfinite(v->median)) continue;
      line.x.push_back(p.ranks);
      line.y.push_back(v->median);
      line.lo.push_back(v->min);
      line.hi.push_back(v->max);
    }
    if (!line.x.empty()) c.series.push_back(std::move(line));
  }
  return c;
}

std::set<int> all_ranks(const Study& s) {
  std::set<int> r;
  for (const auto& series : s.series)
    for (const auto& p : series.points) r.insert(p.ranks);
  return r;
}

ChartSeries ideal_line(const std::set<int>& ranks, double (*ideal)(int), std::string name) {
  ChartSeries line;
  line.name = std::move(name);
  line.dashed = true;
  line.markers = false;
  line.color = kReference;
  for (int p : ranks) {
    line.x.push_back(p);
    line.y.push_back(ideal(p));
  }
  return line;
}

ChartSpec phase_chart(const StudySeries& series, std::size_t index) {
  ChartSpec c;
  c.type = ChartSpec::Type::stacked_bars;
  c.id = "phases-" + std::to_string(index);
  c.title = "Time per phase, " + series.label + " (mean per rank, median of runs)";
  c.y_label = "seconds";
  c.x_label = "ranks P";
  const char* names[] = {"read", "compute", "reduce", "wait", "other"};
  const Spread PhaseBreakdown::*members[] = {&PhaseBreakdown::read, &PhaseBreakdown::compute,
                                             &PhaseBreakdown::reduce, &PhaseBreakdown::wait,
                                             &PhaseBreakdown::other};
  for (const auto& p : series.points) c.categories.push_back("P=" + std::to_string(p.ranks));
  for (std::size_t k = 0; k < 5; ++k) {
    ChartSeries bar;
    bar.name = names[k];
    for (const auto& p : series.points) {
      const double v = (p.phases.*members[k]).median;
      bar.y.push_back(std::isfinite(v) ? v : 0.0);
    }
    c.series.push_back(std::move(bar));
  }
  return c;
}

ChartSpec imbalance_chart(const Study& s) {
  ChartSpec c;
  c.type = ChartSpec::Type::grouped_bars;
  c.id = "imbalance";
  c.title = "Load imbalance max/mean busy time per policy (1 is perfect)";
  c.x_label = "ranks P";
  c.y_label = "imbalance";
  const auto ranks = all_ranks(s);
  for (int r : ranks) c.categories.push_back("P=" + std::to_string(r));
  for (std::size_t k = 0; k < s.series.size(); ++k) {
    const StudySeries& series = s.series[k];
    ChartSeries bar;
    bar.name = series.label;
    bar.color = series_color(k);
    for (int r : ranks) {
      double y = NAN, lo = NAN, hi = NAN;
      for (const auto& p : series.points)
        if (p.ranks == r) y = p.imbalance.median, lo = p.imbalance.min, hi = p.imbalance.max;
      bar.y.push_back(y);
      bar.lo.push_back(lo);
      bar.hi.push_back(hi);
    }
    c.series.push_back(std::move(bar));
  }
  return c;
}

// The change of each series' T(P) against the reference, in percent: bars above 0 are slower.
ChartSpec comparison_chart(const Study& s) {
  ChartSpec c;
  c.type = ChartSpec::Type::grouped_bars;
  c.id = "comparison";
  c.title = "Change of wall time T(P) against the reference (above 0: slower)";
  c.x_label = "ranks P";
  c.y_label = "change, %";
  std::map<std::string, double> change;
  for (const auto& m : s.comparison->checks)
    if (m.change()) change[m.metric] = *m.change() * 100;
  const auto ranks = all_ranks(s);
  for (int r : ranks) c.categories.push_back("P=" + std::to_string(r));
  for (std::size_t k = 0; k < s.series.size(); ++k) {
    ChartSeries bar;
    bar.name = s.series[k].label;
    bar.color = series_color(k);
    bool any = false;
    for (int r : ranks) {
      const auto it = change.find(s.series[k].label + " P=" + std::to_string(r) + " time_s");
      bar.y.push_back(it == change.end() ? NAN : it->second);
      any = any || it != change.end();
    }
    if (any) c.series.push_back(std::move(bar));
  }
  return c;
}

}  // namespace

// Drift night over night: the largest PSI of each sensor named on some night, the largest of
// the other sensors, and the applied threshold (dashed).
ChartSpec drift_chart(const Study& s) {
  ChartSpec c;
  c.id = "drift";
  c.title = "Drift night over night: largest PSI per sensor";
  c.x_label = "night";
  c.y_label = "PSI";
  std::vector<std::string> named;
  for (const auto& n : s.drift)
    for (const auto& sensor : n.drifted_sensors())
      if (std::find(named.begin(), named.end(), sensor) == named.end()) named.push_back(sensor);
  auto sensor_of = [](const std::string& column) { return column.substr(0, column.find('/')); };
  for (std::size_t k = 0; k <= named.size(); ++k) {
    ChartSeries line;
    line.name = k < named.size() ? named[k] : "other sensors";
    line.color = k < named.size() ? series_color(k) : kReference;
    for (std::size_t i = 0; i < s.drift.size(); ++i) {
      double top = 0.0;
      for (const auto& [column, psi] : s.drift[i].psi) {
        const std::string sensor = sensor_of(column);
        const bool mine = k < named.size()
                              ? sensor == named[k]
                              : std::find(named.begin(), named.end(), sensor) == named.end();
        if (mine) top = std::max(top, psi);
      }
      line.x.push_back(static_cast<double>(i + 1));
      line.y.push_back(top);
    }
    c.series.push_back(std::move(line));
  }
  ChartSeries threshold;
  threshold.name = "threshold";
  threshold.color = kReference;
  threshold.dashed = true;
  threshold.markers = false;
  for (std::size_t i = 0; i < s.drift.size(); ++i) {
    threshold.x.push_back(static_cast<double>(i + 1));
    threshold.y.push_back(s.drift[i].threshold);
  }
  c.series.push_back(std::move(threshold));
  return c;
}

std::vector<ChartSpec> study_charts(const Study& s) {
  std::vector<ChartSpec> charts;
  const bool strong = s.kind == ScalingKind::strong;
  const auto ranks = all_ranks(s);

  ChartSpec time =
      per_point_chart(s, "time", strong ? "Wall time T(P) with the Amdahl fit" : "Wall time T(P)",
                      "seconds", [](const StudyPoint& p) { return std::optional(p.time_s); });
  if (strong) {
    for (std::size_t k = 0; k < s.series.size(); ++k) {
      const StudySeries& series = s.series[k];
      if (!series.amdahl || ranks.empty()) continue;
      // The fitted curve, sampled geometrically between the smallest and largest P.
      ChartSeries fit;
      fit.name = series.label + " Amdahl fit";
      fit.color = series_color(k);
      fit.dashed = true;
      fit.markers = false;
      const double p0 = *ranks.begin(), p1 = *ranks.rbegin();
      const double f = series.amdahl->serial_fraction, t1 = series.amdahl->t1_s;
      for (int i = 0; i <= 24; ++i) {
        const double p = p0 * std::pow(p1 / p0, i / 24.0);
        fit.x.push_back(p);
        fit.y.push_back(t1 * (f + (1 - f) / p));
      }
      time.series.push_back(std::move(fit));
    }
  }
  charts.push_back(std::move(time));

  ChartSpec speedup = per_point_chart(
      s, "speedup",
      strong ? "Speedup against the ideal S = P" : "Scaled speedup P*E against the ideal",
      strong ? "speedup S" : "scaled speedup", [](const StudyPoint& p) { return p.speedup; });
  speedup.series.push_back(ideal_line(
      ranks, [](int p) { return double(p); }, "ideal"));
  charts.push_back(std::move(speedup));

  ChartSpec eff = per_point_chart(
      s, "efficiency",
      strong ? "Parallel efficiency E = S/P" : "Weak-scaling efficiency E = T_base/T(P)",
      "efficiency", [](const StudyPoint& p) { return p.efficiency; });
  eff.series.push_back(ideal_line(
      ranks, [](int) { return 1.0; }, "ideal"));
  charts.push_back(std::move(eff));

  if (strong) {
    ChartSpec kf = per_point_chart(
        s, "karp-flatt", "Karp-Flatt serial fraction e(P)", "serial fraction e",
        [](const StudyPoint& p) {
          return p.karp_flatt
                     ? std::optional(Spread{*p.karp_flatt, *p.karp_flatt, *p.karp_flatt, 1})
                     : std::optional<Spread>();
        });
    if (!kf.series.empty()) charts.push_back(std::move(kf));
  }

  charts.push_back(
      per_point_chart(s, "throughput", "Throughput", "wafers per second",
                      [](const StudyPoint& p) { return std::optional(p.wafers_per_s); }));
  for (std::size_t i = 0; i < s.series.size(); ++i) charts.push_back(phase_chart(s.series[i], i));
  charts.push_back(imbalance_chart(s));
  if (s.comparison) {
    ChartSpec change = comparison_chart(s);
    if (!change.series.empty()) charts.push_back(std::move(change));
  }
  if (!s.drift.empty()) charts.push_back(drift_chart(s));
  return charts;
}

}  // namespace wafermill::report
