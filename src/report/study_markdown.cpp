// The study as Markdown (study.md): the sections' paragraphs and tables, readable in a
// terminal as they are; the charts live in study.html.
#include <sstream>

#include "study_sections.hpp"
#include "wafermill/report/study_writer.hpp"

namespace wafermill::report {
namespace {

// A '|' inside a cell would split the column.
std::string cell(const std::string& s) {
  std::string o;
  for (char c : s) o += c == '|' ? std::string("\\|") : std::string(1, c);
  return o;
}

void table(std::ostringstream& o, const detail::StudyTable& t) {
  o << "**" << t.title << "**\n\n|";
  for (const auto& h : t.header) o << ' ' << cell(h) << " |";
  o << "\n|";
  for (std::size_t i = 0; i < t.header.size(); ++i) o << (i == 0 ? " --- |" : " ---: |");
  o << '\n';
  for (const auto& row : t.rows) {
    o << '|';
    for (const auto& c : row) o << ' ' << cell(c) << " |";
    o << '\n';
  }
  o << '\n';
}

class MarkdownStudyWriter final : public StudyWriter {
 public:
  std::string file_name() const override { return "study.md"; }
  std::string render(const Study& s) const override {
    std::ostringstream o;
    o << "# wafermill scaling study\n\n";
    for (const auto& sec : detail::study_sections(s)) {
      o << "## " << sec.heading << "\n\n";
      for (const auto& p : sec.paragraphs) o << p << "\n\n";
      for (const auto& t : sec.tables) table(o, t);
    }
    o << "Charts: study.html (self-contained, opens without a network).\n";
    return o.str();
  }
};

}  // namespace

namespace detail {
std::unique_ptr<StudyWriter> make_markdown_study_writer() { return std::make_unique<MarkdownStudyWriter>(); }
}  // namespace detail

}  // namespace wafermill::report
