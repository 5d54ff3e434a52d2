// The picture pass of `wafermill run`: die maps and inspection images through the same
// partition policies and coordinator idea as the traces (docs/PICTURES.md). Private to job/.
#pragma once

#include <memory>
#include <optional>

#include <mpi.h>
#include <nlohmann/json.hpp>

#include "wafermill/format/picture_results.hpp"
#include "wafermill/job/job_config.hpp"
#include "wafermill/report/run_report.hpp"

namespace wafermill::job {

class StopRequest;

/// What the picture pass did.
struct PictureOutcome {
  /// False when the input holds maps or images but no /traces: the trace pass must not run,
  /// and `report` is the whole run's report.
  bool has_traces = true;
  /// Rank 0: the report's "pictures" section (absent when the file has no maps or images).
  std::optional<nlohmann::json> json;
  /// Rank 0: the per-wafer and per-image results for the output file (already written to an
  /// output of its own when !has_traces).
  std::shared_ptr<const format::PictureResults> results;
  /// Rank 0, when !has_traces: provenance, configuration and the pictures section.
  report::RunReport report;
};

/// Runs the picture pass collectively on `comm` (MPI_COMM_NULL: one process, the sequential
/// baseline). Bad input found by rank 0 is broadcast and thrown on every rank as
/// CollectiveInputError (exit code 2). An input without traces gets its output file here.
/// `stop` (SIGUSR1, --time-limit) is asked before each unit: a stop leaves the pass with
/// StoppedEarly on every rank, finished blocks kept in the result store.
PictureOutcome run_pictures(const JobConfig& config, MPI_Comm comm, const StopRequest& stop);

/// Adds to each kind ("maps", "images") of a parallel run's pictures section the sequential
/// baseline's wall time, the speedup, the efficiency and whether every digest agrees.
void compare_pictures(nlohmann::json& parallel, const nlohmann::json& sequential);

}  // namespace wafermill::job
