/// @file study_charts.hpp
/// @brief The charts of a study as plain data, and their rendering as inline SVG (no
/// scripts, no external references: the page must open without a network).
#pragma once

#include <string>
#include <vector>

#include "wafermill/report/study.hpp"

namespace wafermill::report {

/// @brief One line (or one bar colour) of a chart. For lines, x and y pair up; for bars, y
/// holds one value per category. lo/hi, when not empty, are min–max bars (same size as y).
struct ChartSeries {
  std::string name;
  std::vector<double> x, y, lo, hi;
  bool dashed = false;   ///< reference lines: ideal speedup, the Amdahl fit
  bool markers = true;
  std::string color;     ///< CSS colour; empty takes the next colour of the palette
};

/// @brief A chart: lines over x, or bars grouped / stacked by category.
struct ChartSpec {
  enum class Type { lines, grouped_bars, stacked_bars };
  Type type = Type::lines;
  std::string id;     ///< HTML id, unique in a page
  std::string title;
  std::string x_label, y_label;
  std::vector<std::string> categories;  ///< bars: one group per category ("P=4")
  std::vector<ChartSeries> series;
  bool log2_x = false;  ///< lines: x axis in powers of two (rank counts)
};

/// @brief The charts of the study: time with the Amdahl fit, speedup against the ideal line,
/// efficiency, Karp–Flatt (strong), phase breakdown per series, load imbalance per policy,
/// throughput, and with a comparison the change of T(P) against the reference. Charts
/// without data are left out.
std::vector<ChartSpec> study_charts(const Study& study);

/// @brief The colour of the i-th series of a study, the same in every chart.
std::string series_color(std::size_t i);

/// @brief `s` with &, <, > and " escaped for HTML text and attribute values.
std::string escape_html(const std::string& s);

/// @brief One <svg> element (no xmlns: it is meant to be inlined in HTML), with a <title>
/// per mark so hovering shows the value.
std::string render_svg(const ChartSpec& chart);

}  // namespace wafermill::report
