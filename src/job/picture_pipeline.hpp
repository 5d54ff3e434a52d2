// The picture pass of `wafermill run`: die maps and inspection images through the same
// partition policies and coordinator idea as the traces (docs/PICTURES.md). Private to job/.
#pragma once

#include <optional>

#include <mpi.h>
#include <nlohmann/json.hpp>

#include "wafermill/job/job_config.hpp"
#include "wafermill/report/run_report.hpp"

namespace wafermill::job {

/// What the picture pass did.
struct PictureOutcome {
  /// False when the input holds maps or images but no /traces: the trace pass must not run,
  /// and `report` is the whole run's report.
  bool has_traces = true;
  /// Rank 0: the report's "pictures" section (absent when the file has no maps or images).
  std::optional<nlohmann::json> json;
  /// Rank 0, when !has_traces: provenance, configuration and the pictures section.
  report::RunReport report;
};

/// Runs the picture pass collectively on `comm`. Bad input found by rank 0 is broadcast and
/// thrown on every rank as CollectiveInputError (exit code 2).
PictureOutcome run_pictures(const JobConfig& config, MPI_Comm comm);

}  // namespace wafermill::job
