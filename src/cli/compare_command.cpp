// wafermill compare A B: are two output files' per-wafer results and summaries bitwise equal?
#include <cstdio>

#include "commands.hpp"
#include "wafermill/error.hpp"
#include "wafermill/format/feature_file.hpp"

namespace wafermill::cli {

Command make_compare_command(int argc, char** argv) {
  po::options_description desc("wafermill compare options");
  desc.add_options()("file", po::value<std::vector<std::string>>()->required(), "two output files");
  po::positional_options_description pos;
  pos.add("file", 2);
  bool help = false;
  const po::variables_map vm = parse_options("compare", argc, argv, desc, &pos, &help);
  const std::string text = help_text("compare", "wafermill compare A.h5 B.h5", desc) +
      "Exit code 0 when /features/*, /wafers/score, /wafers/flag and /summary/* are bitwise equal,\n"
      "1 when they differ (the first difference is printed), 2 on bad input.\n";
  if (help) return {"compare", false, [text](MPI_Comm) { std::fputs(text.c_str(), stdout); return 0; }};
  const auto files = vm["file"].as<std::vector<std::string>>();
  if (files.size() != 2) throw UsageError("wafermill compare needs exactly two files");
  return {"compare", false, [files](MPI_Comm) {
            if (auto diff = format::compare_feature_files(files[0], files[1])) {
              std::printf("%s and %s differ: %s\n", files[0].c_str(), files[1].c_str(), diff->c_str());
              return 1;
            }
            std::printf("%s and %s: identical\n", files[0].c_str(), files[1].c_str());
            return 0;
          }};
}

}  // namespace wafermill::cli
