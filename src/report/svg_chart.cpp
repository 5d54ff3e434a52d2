// Draws a ChartSpec as inline SVG: axes with "nice" ticks, lines or bars, min–max bars,
// a legend, and a <title> on every mark for hovering. Pure text, no scripts.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <sstream>
#include <tuple>
#include <utility>

#include "wafermill/report/study_charts.hpp"

namespace wafermill::report {

std::string escape_html(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

namespace {

constexpr double kWidth = 760, kHeight = 400;
constexpr double kLeft = 70, kRight = 200, kTop = 40, kBottom = 56;
constexpr double kPlotW = kWidth - kLeft - kRight, kPlotH = kHeight - kTop - kBottom;

const char* kPalette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"};


std::string esc(const std::string& s) { return escape_html(s); }

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string label(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

// Tick step 1, 2 or 5 × 10^k giving about five intervals up to `top`.
double nice_step(double top) {
  const double raw = top / 5;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * mag) return m * mag;
  return 10 * mag;
}

struct Axis {
  double y_top = 1;
  double y_bottom = 0;  ///< below 0 only when a value is negative (changes against a reference)
  double x_min = 0, x_max = 1;
  bool log2_x = false;
  double sx(double x) const {
    const double v = log2_x ? std::log2(x) : x;
    return kLeft + (v - x_min) / (x_max - x_min) * kPlotW;
  }
  double sy(double y) const {
    return kTop + kPlotH - std::clamp((y - y_bottom) / (y_top - y_bottom), 0.0, 1.05) * kPlotH;
  }
};

// [bottom, top] of the values with 8 % headroom; 0 is always inside.
std::pair<double, double> y_extent(const ChartSpec& c) {
  double top = 0, bottom = 0;
  if (c.type == ChartSpec::Type::stacked_bars) {
    for (std::size_t i = 0; i < c.categories.size(); ++i) {
      double sum = 0;
      for (const auto& s : c.series)
        if (i < s.y.size() && std::isfinite(s.y[i])) sum += s.y[i];
      top = std::max(top, sum);
    }
  } else {
    for (const auto& s : c.series) {
      for (const auto* values : {&s.y, &s.lo, &s.hi})
        for (double v : *values)
          if (std::isfinite(v)) {
            top = std::max(top, v);
            bottom = std::min(bottom, v);
          }
    }
  }
  if (!(top > bottom)) top = 1.0;
  return {bottom * 1.08, top * 1.08};
}

std::string color_of(const ChartSeries& s, std::size_t& next) {
  return s.color.empty() ? kPalette[next++ % std::size(kPalette)] : s.color;
}

void error_bar(std::ostringstream& o, double x, double lo, double hi, const Axis& a, const std::string& color) {
  if (!std::isfinite(lo) || !std::isfinite(hi) || lo == hi) return;
  const double y0 = a.sy(lo), y1 = a.sy(hi);
  o << "<path class=\"range\" d=\"M" << num(x) << ' ' << num(y0) << "V" << num(y1) << "M" << num(x - 4) << ' '
    << num(y0) << "h8M" << num(x - 4) << ' ' << num(y1) << "h8\" stroke=\"" << color << "\" fill=\"none\"/>\n";
}

void y_axis(std::ostringstream& o, const ChartSpec& c, const Axis& a) {
  const double step = nice_step((a.y_top - a.y_bottom) / 1.08);
  for (double t = std::ceil(a.y_bottom / step) * step; t <= a.y_top * 1.0001; t += step) {
    const double y = a.sy(t);
    o << "<line x1=\"" << num(kLeft) << "\" x2=\"" << num(kLeft + kPlotW) << "\" y1=\"" << num(y) << "\" y2=\""
      << num(y) << "\" stroke=\"" << (std::abs(t) < step * 1e-6 ? "#999" : "#e5e5e5") << "\"/>\n"
      << "<text x=\"" << num(kLeft - 6) << "\" y=\"" << num(y + 4) << "\" text-anchor=\"end\">" << label(std::abs(t) < step * 1e-6 ? 0.0 : t)
      << "</text>\n";
  }
  o << "<text transform=\"translate(16," << num(kTop + kPlotH / 2) << ") rotate(-90)\" text-anchor=\"middle\">"
    << esc(c.y_label) << "</text>\n";
  o << "<text x=\"" << num(kLeft + kPlotW / 2) << "\" y=\"" << num(kHeight - 12) << "\" text-anchor=\"middle\">"
    << esc(c.x_label) << "</text>\n";
  o << "<path d=\"M" << num(kLeft) << ' ' << num(kTop) << "V" << num(kTop + kPlotH) << "H" << num(kLeft + kPlotW)
    << "\" stroke=\"#333\" fill=\"none\"/>\n";
}

void legend(std::ostringstream& o, const ChartSpec& c) {
  std::size_t next = 0;
  double y = kTop + 8;
  for (const auto& s : c.series) {
    const std::string color = color_of(s, next);
    const double x = kLeft + kPlotW + 16;
    if (c.type == ChartSpec::Type::lines)
      o << "<line x1=\"" << num(x) << "\" x2=\"" << num(x + 22) << "\" y1=\"" << num(y) << "\" y2=\"" << num(y)
        << "\" stroke=\"" << color << "\" stroke-width=\"2\"" << (s.dashed ? " stroke-dasharray=\"6 4\"" : "")
        << "/>\n";
    else
      o << "<rect x=\"" << num(x) << "\" y=\"" << num(y - 6) << "\" width=\"22\" height=\"12\" fill=\"" << color
        << "\"/>\n";
    o << "<text x=\"" << num(x + 28) << "\" y=\"" << num(y + 4) << "\">" << esc(s.name) << "</text>\n";
    y += 18;
  }
}

void draw_lines(std::ostringstream& o, const ChartSpec& c, Axis& a) {
  std::set<double> xs;
  for (const auto& s : c.series)
    for (double x : s.x)
      if (x > 0 || !c.log2_x) xs.insert(x);
  auto tr = [&](double x) { return c.log2_x ? std::log2(x) : x; };
  if (xs.empty()) xs.insert(1);
  a.x_min = tr(*xs.begin());
  a.x_max = tr(*xs.rbegin());
  // Half a step of margin either side; a single P gets a unit-wide axis.
  const double pad = a.x_max > a.x_min ? 0.06 * (a.x_max - a.x_min) : 0.5;
  a.x_min -= pad;
  a.x_max += pad;
  y_axis(o, c, a);
  // x ticks at the rank counts of the markers (not at the densely sampled fit curve).
  std::set<double> ticks;
  for (const auto& s : c.series)
    if (s.markers)
      for (double x : s.x) ticks.insert(x);
  for (double x : ticks)
    o << "<text x=\"" << num(a.sx(x)) << "\" y=\"" << num(kTop + kPlotH + 18) << "\" text-anchor=\"middle\">"
      << label(x) << "</text>\n";
  std::size_t next = 0;
  for (const auto& s : c.series) {
    const std::string color = color_of(s, next);
    std::string d;
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.y[i]) || (c.log2_x && s.x[i] <= 0)) continue;
      d += d.empty() ? 'M' : 'L';
      d.append(num(a.sx(s.x[i]))).append(" ").append(num(a.sy(s.y[i])));
    }
    if (d.empty()) continue;
    o << "<path class=\"series\" d=\"" << d << "\" stroke=\"" << color << "\" stroke-width=\"2\" fill=\"none\""
      << (s.dashed ? " stroke-dasharray=\"6 4\"" : "") << "><title>" << esc(s.name) << "</title></path>\n";
    if (!s.markers) continue;
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.y[i])) continue;
      const double x = a.sx(s.x[i]);
      if (i < s.lo.size()) error_bar(o, x, s.lo[i], s.hi[i], a, color);
      o << "<circle cx=\"" << num(x) << "\" cy=\"" << num(a.sy(s.y[i])) << "\" r=\"4\" fill=\"" << color
        << "\"><title>" << esc(s.name) << ": P=" << label(s.x[i]) << ", " << label(s.y[i]);
      if (i < s.lo.size() && std::isfinite(s.lo[i]))
        o << " (min " << label(s.lo[i]) << ", max " << label(s.hi[i]) << ")";
      o << "</title></circle>\n";
    }
  }
}

void draw_bars(std::ostringstream& o, const ChartSpec& c, const Axis& a) {
  y_axis(o, c, a);
  const std::size_t n = std::max<std::size_t>(c.categories.size(), 1);
  const double group = kPlotW / static_cast<double>(n);
  const bool stacked = c.type == ChartSpec::Type::stacked_bars;
  const double per = stacked ? 1.0 : static_cast<double>(std::max<std::size_t>(c.series.size(), 1));
  const double bar_w = group * 0.7 / per;
  for (std::size_t i = 0; i < c.categories.size(); ++i) {
    const double g0 = kLeft + group * static_cast<double>(i) + group * 0.15;
    o << "<text x=\"" << num(kLeft + group * (i + 0.5)) << "\" y=\"" << num(kTop + kPlotH + 18)
      << "\" text-anchor=\"middle\">" << esc(c.categories[i]) << "</text>\n";
    double base = 0;
    std::size_t next = 0;
    for (std::size_t k = 0; k < c.series.size(); ++k) {
      const auto& s = c.series[k];
      const std::string color = color_of(s, next);
      if (i >= s.y.size() || !std::isfinite(s.y[i])) continue;
      const double x = stacked ? g0 : g0 + bar_w * static_cast<double>(k);
      const double y0 = stacked ? base : 0.0, y1 = y0 + s.y[i];
      const double top = std::min(a.sy(y0), a.sy(y1)), bottom = std::max(a.sy(y0), a.sy(y1));
      o << "<rect class=\"bar\" x=\"" << num(x) << "\" y=\"" << num(top) << "\" width=\"" << num(bar_w)
        << "\" height=\"" << num(bottom - top) << "\" fill=\"" << color << "\"><title>"
        << esc(s.name) << ", " << esc(c.categories[i]) << ": " << label(s.y[i]) << "</title></rect>\n";
      if (!stacked && i < s.lo.size()) error_bar(o, x + bar_w / 2, s.lo[i], s.hi[i], a, "#333");
      if (stacked) base = y1;
    }
  }
}

}  // namespace

std::string series_color(std::size_t i) { return kPalette[i % std::size(kPalette)]; }

std::string render_svg(const ChartSpec& c) {
  std::ostringstream o;
  o << "<svg class=\"chart\" id=\"svg-" << esc(c.id) << "\" viewBox=\"0 0 " << num(kWidth) << ' ' << num(kHeight)
    << "\" width=\"" << num(kWidth) << "\" height=\"" << num(kHeight) << "\" role=\"img\" aria-label=\""
    << esc(c.title) << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  o << "<title>" << esc(c.title) << "</title>\n";
  o << "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n";
  o << "<text x=\"" << num(kLeft) << "\" y=\"22\" font-size=\"15\" font-weight=\"bold\">" << esc(c.title)
    << "</text>\n";
  Axis a;
  std::tie(a.y_bottom, a.y_top) = y_extent(c);
  a.log2_x = c.log2_x;
  if (c.type == ChartSpec::Type::lines) draw_lines(o, c, a);
  else draw_bars(o, c, a);
  legend(o, c);
  o << "</svg>\n";
  return o.str();
}

}  // namespace wafermill::report
