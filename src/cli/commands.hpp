// The subcommands: each builds its options, parses, and returns a runnable Command.
#pragma once

#include <string>

#include <boost/program_options.hpp>

#include "wafermill/cli/cli.hpp"

namespace wafermill::cli {

namespace po = boost::program_options;

/// Parses argv against desc (+ --help, --config) with INI section `command`.
po::variables_map parse_options(const std::string& command, int argc, char** argv,
                                po::options_description& desc,
                                const po::positional_options_description* positional, bool* help);
/// The --help text of a command.
std::string help_text(const std::string& command, const std::string& synopsis,
                      const po::options_description& desc);
/// Stores the keys of INI section `section` into vm (values already in vm win).
void store_config_file(const std::string& path, const std::string& section,
                       const po::options_description& desc, po::variables_map& vm);

Command make_run_command(int argc, char** argv, const std::string& command_line);
Command make_generate_command(int argc, char** argv);
Command make_validate_command(int argc, char** argv);
Command make_sequential_command(int argc, char** argv);
Command make_compare_command(int argc, char** argv);
Command make_study_command(int argc, char** argv);
Command make_import_command(int argc, char** argv);
Command make_fit_command(int argc, char** argv);
Command make_export_command(int argc, char** argv);
Command make_score_command(int argc, char** argv);

}  // namespace wafermill::cli
