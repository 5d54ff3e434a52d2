// Test driver: writes the synthetic policy study's reports and, with a reference, its study
// pages, without the wafermill binary (used by the browser and CLI tests).
//   study_page_driver reports DIR [SLOWDOWN]   write 27 synthetic reports into DIR
//   study_page_driver study OUT_DIR REPORT_DIR  build the study of REPORT_DIR, compared with
//                                               itself at 1.2x slower, into OUT_DIR
#include <cstdio>
#include <string>

#include "study_fixture.hpp"
#include "wafermill/report/study_gate.hpp"
#include "wafermill/report/study_writer.hpp"

int main(int argc, char** argv) {
  using namespace wafermill::report;
  const std::string mode = argc > 2 ? argv[1] : "";
  try {
    if (mode == "reports") {
      std::filesystem::create_directories(argv[2]);
      const double slowdown = argc > 3 ? std::stod(argv[3]) : 1.0;
      const auto paths = testing::write_policy_study(argv[2], slowdown);
      std::printf("wrote %zu reports into %s\n", paths.size(), argv[2]);
      return 0;
    }
    if (mode == "study" && argc > 3) {
      Study s = build_study(load_study_runs({argv[3]}), std::nullopt);
      // A reference 20 % faster than this study, so that the page shows a failing comparison.
      ReferenceStudy ref;
      ref.source = "synthetic reference (20 % faster)";
      for (const auto& [name, v] : study_metrics(s)) ref.metrics[name] = name.ends_with("time_s") ? v / 1.2 : v;
      s.comparison = compare_studies(s, ref, default_tolerances());
      for (const auto& f : write_study_files(s, argv[2])) std::printf("wrote %s\n", f.c_str());
      return 0;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "study_page_driver: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "usage: study_page_driver reports DIR [SLOWDOWN] | study OUT_DIR REPORT_DIR\n");
  return 2;
}
