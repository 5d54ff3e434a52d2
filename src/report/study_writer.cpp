// The registry of study writers and writing all formats into a directory, all or nothing.
#include "wafermill/report/study_writer.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "wafermill/error.hpp"

namespace wafermill::report {

namespace detail {
std::unique_ptr<StudyWriter> make_json_study_writer();
std::unique_ptr<StudyWriter> make_markdown_study_writer();
std::unique_ptr<StudyWriter> make_html_study_writer();
}  // namespace detail

std::vector<std::string> study_writer_names() { return {"json", "markdown", "html"}; }

std::unique_ptr<StudyWriter> make_study_writer(const std::string& name) {
  if (name == "json") return detail::make_json_study_writer();
  if (name == "markdown") return detail::make_markdown_study_writer();
  if (name == "html") return detail::make_html_study_writer();
  throw UsageError("unknown study format \"" + name + "\" (json, markdown, html)");
}

std::vector<std::string> write_study_files(const Study& study, const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error(dir + ": cannot create the study directory: " + ec.message());
  // Render and write every file under a temporary name first, then rename them all: a failure
  // leaves the previous study (the next night's reference) untouched.
  std::vector<std::pair<std::string, std::string>> staged;  // temporary, final
  auto discard = [&] {
    for (const auto& [tmp, final_path] : staged) std::remove(tmp.c_str());
  };
  try {
    for (const auto& name : study_writer_names()) {
      const auto writer = make_study_writer(name);
      const std::string final_path = (fs::path(dir) / writer->file_name()).string();
      const std::string tmp = final_path + ".tmp." + std::to_string(::getpid());
      staged.emplace_back(tmp, final_path);
      std::ofstream out(tmp, std::ios::binary);
      out << writer->render(study);
      out.flush();
      if (!out) throw std::runtime_error(tmp + ": cannot write the study file");
    }
  } catch (...) {
    discard();
    throw;
  }
  std::vector<std::string> written;
  for (const auto& [tmp, final_path] : staged) {
    if (std::rename(tmp.c_str(), final_path.c_str()) != 0) {
      discard();
      throw std::runtime_error(final_path + ": cannot rename the study file into place");
    }
    written.push_back(final_path);
  }
  return written;
}

}  // namespace wafermill::report
