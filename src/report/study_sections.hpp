// The study laid out as sections of paragraphs, tables and chart references: the content
// the Markdown and HTML writers share, so that the two documents cannot tell different stories.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "wafermill/report/study.hpp"

namespace wafermill::report::detail {

/// A table of already formatted cells.
struct StudyTable {
  std::string title;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};

/// A heading with its paragraphs, tables and the ids of its charts (study_charts).
struct StudySection {
  std::string heading;
  std::vector<std::string> paragraphs;
  std::vector<StudyTable> tables;
  std::vector<std::string> chart_ids;
};

/// The sections of a study, in reading order (the regression verdict first when there is one).
std::vector<StudySection> study_sections(const Study& study);

/// The configuration keys every run shares, and the keys whose values differ between runs.
struct ConfigSummary {
  nlohmann::json common = nlohmann::json::object();
  std::vector<std::string> differing;
};
ConfigSummary config_summary(const Study& study);

/// printf-formatted number, "n/a" when not finite.
std::string number(const char* format, double v);
/// "median [min–max]", or just the median when there was one run.
std::string spread_text(const char* format, const Spread& s);

}  // namespace wafermill::report::detail
