// The sequential baseline of a parallel run: a child process running `wafermill sequential`
// (no MPI), so its time and peak memory are its own, measured like the parallel run's.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "wafermill/job/job_config.hpp"
#include "wafermill/report/run_report.hpp"

namespace wafermill::job {

/// What the baseline child left behind.
struct BaselineRun {
  report::RunFigures figures;
  std::string output_path;  // its output file, removed by the caller when done
};

/// Runs `exe sequential` on the parallel run's configuration, writing to a temporary output
/// beside config.output. @throws std::runtime_error if the child fails.
BaselineRun run_baseline_child(const JobConfig& config, const std::string& exe);

/// The figures of a single-rank run stored in an earlier report.
/// @throws InputError if the file is not a report of a single-rank run.
report::RunFigures load_baseline(const std::string& report_path);

/// Entry point of `wafermill sequential`: reads the config JSON, runs, writes figures JSON.
int sequential_main(const std::string& config_json_path, const std::string& figures_path);

}  // namespace wafermill::job
