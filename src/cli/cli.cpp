#include "wafermill/cli/cli.hpp"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include <boost/program_options.hpp>

#include "commands.hpp"
#include "wafermill/config.hpp"
#include "wafermill/error.hpp"

namespace po = boost::program_options;

namespace wafermill::cli {
namespace {

const char* kUsage =
    "usage: wafermill <command> [options]\n"
    "\n"
    "commands:\n"
    "  run        extract per-wafer features, fleet statistics and flags (under mpirun/srun)\n"
    "  fit        fit a model of good wafers (PCA, T2 and SPE limits) for `run --model`\n"
    "  score      score one lot against a model without MPI: latency, drift, optional model update\n"
    "  export     write an output's per-wafer verdicts and contributions as CSV\n"
    "  generate   write a synthetic trace file with planted anomalies\n"
    "  validate   check a file against the wafermill format (traces, maps, images)\n"
    "  compare    are two output files bitwise equal?\n"
    "  study      aggregate run reports into a scaling study (Markdown, HTML/SVG, regression gate)\n"
    "  import     convert fab text data (UCR TSV, UCI SECOM, one file per wafer) to wafermill HDF5\n"
    "  sequential (internal) the single-process baseline of `run`, without MPI\n"
    "\n"
    "`wafermill <command> --help` describes each command's options. Options may also come from\n"
    "an INI file (--config FILE, section [<command>]); the command line wins.\n"
    "Exit codes: 0 success, 1 runtime failure, 2 usage or bad input.\n";

Command print_and_return(std::string text, int code) {
  Command c;
  c.name = "help";
  c.run = [text = std::move(text), code](MPI_Comm) {
    std::fputs(text.c_str(), code == 0 ? stdout : stderr);
    return code;
  };
  return c;
}

}  // namespace

void store_config_file(const std::string& path, const std::string& section,
                       const po::options_description& desc, po::variables_map& vm) {
  std::ifstream in(path);
  if (!in) throw UsageError(path + ": cannot open the configuration file");
  po::parsed_options parsed(&desc);
  try {
    const po::options_description none;
    const po::parsed_options all = po::parse_config_file(in, none, true);
    const std::string prefix = section + ".";
    for (const auto& o : all.options) {
      if (o.string_key.rfind(prefix, 0) != 0) continue;  // another command's section
      po::option copy = o;
      copy.string_key = o.string_key.substr(prefix.size());
      copy.unregistered = false;
      if (desc.find_nothrow(copy.string_key, false) == nullptr)
        throw UsageError(path + ": [" + section + "] has an unknown key \"" + copy.string_key + "\"");
      // The command line wins, also for a repeatable option (--input), whose values would
      // otherwise be composed with the file's.
      if (vm.count(copy.string_key) > 0 && !vm[copy.string_key].defaulted()) continue;
      parsed.options.push_back(copy);
    }
    po::store(parsed, vm);
  } catch (const po::error& e) {
    throw UsageError(path + ": " + e.what());
  }
}

po::variables_map parse_options(const std::string& command, int argc, char** argv,
                                po::options_description& desc,
                                const po::positional_options_description* positional,
                                bool* help) {
  desc.add_options()("help,h", "show this help")(
      "config", po::value<std::string>(), "INI file whose [<command>] section holds more options");
  po::variables_map vm;
  try {
    po::command_line_parser parser(argc, argv);
    parser.options(desc);
    if (positional) parser.positional(*positional);
    po::store(parser.run(), vm);
    if (vm.count("config")) store_config_file(vm["config"].as<std::string>(), command, desc, vm);
    *help = vm.count("help") > 0;
    if (!*help) po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError("wafermill " + command + ": " + e.what() + " (see wafermill " + command +
                     " --help)");
  }
  return vm;
}

std::string help_text(const std::string& command, const std::string& synopsis,
                      const po::options_description& desc) {
  std::ostringstream o;
  o << "usage: " << synopsis << "\n\n" << desc << "\nOptions may also come from --config FILE, section ["
    << command << "], key = value with the long option names; the command line wins.\n";
  return o.str();
}

Command parse(int argc, char** argv) {
  if (argc < 2) return print_and_return(kUsage, 2);
  const std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") return print_and_return(kUsage, 0);
  if (name == "--version")
    return print_and_return(std::string("wafermill ") + WAFERMILL_VERSION + " (" +
                                WAFERMILL_GIT_REVISION + ")\n",
                            0);
  // Subcommand argv without the command word.
  const int sub_argc = argc - 1;
  char** sub_argv = argv + 1;
  std::string command_line;
  // Appended piecewise: g++ 12 -O2 warns -Wrestrict (a false positive, GCC PR 105329) on
  // `(i ? " " : "") + std::string(argv[i])`.
  for (int i = 0; i < argc; ++i) {
    if (i) command_line += ' ';
    command_line += argv[i];
  }
  if (name == "run") return make_run_command(sub_argc, sub_argv, command_line);
  if (name == "generate") return make_generate_command(sub_argc, sub_argv);
  if (name == "validate") return make_validate_command(sub_argc, sub_argv);
  if (name == "sequential") return make_sequential_command(sub_argc, sub_argv);
  if (name == "compare") return make_compare_command(sub_argc, sub_argv);
  if (name == "study") return make_study_command(sub_argc, sub_argv);
  if (name == "import") return make_import_command(sub_argc, sub_argv);
  if (name == "fit") return make_fit_command(sub_argc, sub_argv);
  if (name == "export") return make_export_command(sub_argc, sub_argv);
  if (name == "score") return make_score_command(sub_argc, sub_argv);
  throw UsageError("unknown command \"" + name + "\"\n" + kUsage);
}

}  // namespace wafermill::cli
