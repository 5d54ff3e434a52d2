/// @file study_writer.hpp
/// @brief The study's output formats, one writer per format behind one interface, chosen by
/// name: "json" (study.json, machine-readable and usable as a reference), "markdown"
/// (study.md, for terminals), "html" (study.html, self-contained with SVG charts).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "wafermill/report/study.hpp"

namespace wafermill::report {

/// @brief Renders a study in one format.
class StudyWriter {
 public:
  virtual ~StudyWriter() = default;
  /// @brief The file name it writes in the output directory ("study.md").
  virtual std::string file_name() const = 0;
  /// @brief The whole document.
  virtual std::string render(const Study& study) const = 0;
};

/// @brief The writer of a format. @throws UsageError for an unknown name.
std::unique_ptr<StudyWriter> make_study_writer(const std::string& name);
/// @brief Every format's name, in the order the files are written.
std::vector<std::string> study_writer_names();

/// @brief The study as JSON: kind, series and points, the flat metrics, runs with their
/// provenance, notes and the comparison (the document of the "json" writer).
nlohmann::json study_to_json(const Study& study);

/// @brief Writes every format into `dir` (created if missing). Each file is written under a
/// temporary name and renamed only after all of them rendered and were written.
/// @throws std::runtime_error when a file cannot be written.
/// @return the paths written.
std::vector<std::string> write_study_files(const Study& study, const std::string& dir);

}  // namespace wafermill::report
