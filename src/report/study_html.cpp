// The study as one self-contained HTML page (study.html): inline CSS, inline SVG charts and
// no reference outside the file, so it opens from a mail attachment or an air-gapped cluster.
#include <map>
#include <sstream>

#include "study_sections.hpp"
#include "wafermill/report/study_charts.hpp"
#include "wafermill/report/study_writer.hpp"

namespace wafermill::report {
namespace {

std::string esc(const std::string& s) { return escape_html(s); }

const char* kStyle = R"(
body { font-family: sans-serif; margin: 1.5em auto; max-width: 1560px; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.5em 0 1.2em; font-size: 0.9em; }
caption { text-align: left; font-weight: bold; padding: 0.3em 0; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
td.pass { background: #e3f4e3; } td.regressed { background: #f9d6d5; font-weight: bold; }
td.new, td.missing, td.ungated { color: #666; }
p.verdict-pass { background: #e3f4e3; padding: 0.5em; } p.verdict-fail { background: #f9d6d5; padding: 0.5em; font-weight: bold; }
figure.chart { display: inline-block; margin: 0.3em; vertical-align: top; }
figure.chart svg { max-width: 100%; height: auto; }
.scroll { overflow-x: auto; }
#render-check { color: #888; font-size: 0.8em; }
)";

// Fills #render-check after layout: how many charts have a non-empty box and drawn marks.
// The browser test reads it; a reader never needs it.
const char* kRenderCheck = R"(
window.addEventListener('load', function () {
  var svgs = document.querySelectorAll('figure.chart svg');
  var drawn = 0;
  svgs.forEach(function (s) {
    var box = s.getBoundingClientRect();
    if (box.width > 0 && box.height > 0 && s.querySelectorAll('path, rect.bar, circle').length > 0) drawn++;
  });
  var out = document.getElementById('render-check');
  out.setAttribute('data-charts', String(svgs.length));
  out.setAttribute('data-drawn', String(drawn));
  out.textContent = 'charts drawn: ' + drawn + ' of ' + svgs.length;
});
)";

void table(std::ostringstream& o, const detail::StudyTable& t) {
  o << "<div class=\"scroll\"><table>\n<caption>" << esc(t.title) << "</caption>\n<tr>";
  for (const auto& h : t.header) o << "<th>" << esc(h) << "</th>";
  o << "</tr>\n";
  for (const auto& row : t.rows) {
    o << "<tr>";
    for (const auto& c : row) {
      const bool status = c == "pass" || c == "regressed" || c == "new" || c == "missing" || c == "ungated";
      o << (status ? "<td class=\"" + c + "\">" : std::string("<td>")) << esc(c) << "</td>";
    }
    o << "</tr>\n";
  }
  o << "</table></div>\n";
}

class HtmlStudyWriter final : public StudyWriter {
 public:
  std::string file_name() const override { return "study.html"; }
  std::string render(const Study& s) const override {
    std::map<std::string, ChartSpec> charts;
    for (auto& c : study_charts(s)) charts.emplace(c.id, std::move(c));
    std::ostringstream o;
    o << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      << "<title>wafermill scaling study (" << to_string(s.kind) << ")</title>\n<style>" << kStyle
      << "</style>\n</head>\n<body>\n<h1>wafermill scaling study</h1>\n";
    for (const auto& sec : detail::study_sections(s)) {
      o << "<section>\n<h2>" << esc(sec.heading) << "</h2>\n";
      for (const auto& p : sec.paragraphs) {
        const char* cls = p.rfind("PASS:", 0) == 0 ? " class=\"verdict-pass\""
                          : p.rfind("REGRESSED:", 0) == 0 ? " class=\"verdict-fail\"" : "";
        o << "<p" << cls << ">" << esc(p) << "</p>\n";
      }
      for (const auto& id : sec.chart_ids) {
        auto it = charts.find(id);
        if (it == charts.end()) continue;  // a chart without data (Karp-Flatt in weak scaling)
        o << "<figure class=\"chart\" id=\"chart-" << esc(id) << "\">\n" << render_svg(it->second) << "</figure>\n";
      }
      for (const auto& t : sec.tables) table(o, t);
      o << "</section>\n";
    }
    o << "<p id=\"render-check\">charts not yet drawn</p>\n<script>" << kRenderCheck << "</script>\n"
      << "</body>\n</html>\n";
    return o.str();
  }
};

}  // namespace

namespace detail {
std::unique_ptr<StudyWriter> make_html_study_writer() { return std::make_unique<HtmlStudyWriter>(); }
}  // namespace detail

}  // namespace wafermill::report
