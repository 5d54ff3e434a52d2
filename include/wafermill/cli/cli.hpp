/// @file cli.hpp
/// @brief The command line: subcommands, Boost.Program_options, INI files, exit codes.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <mpi.h>

namespace wafermill::cli {

/// @brief A parsed command, ready to run.
struct Command {
  std::string name;        ///< "run", "generate", "validate", ...
  bool needs_mpi = false;  ///< main initialises MPI only for these
  /// Runs the command; returns the process exit code. `comm` is MPI_COMM_WORLD when
  /// needs_mpi, else MPI_COMM_NULL.
  std::function<int(MPI_Comm comm)> run;
};

/// @brief Parses argv. `--help` and usage errors yield a command that prints and returns 0 / 2.
/// @throws UsageError for unknown subcommands or options (exit code 2).
Command parse(int argc, char** argv);

}  // namespace wafermill::cli
