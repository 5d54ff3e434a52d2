/// @file pipeline.hpp
/// @brief The pipeline that wires the rooms together: index → partition → read → features →
/// block-ordered reduction → scoring → output, and the sequential baseline.
#pragma once

#include <stdexcept>

#include <mpi.h>

#include "wafermill/job/job_config.hpp"
#include "wafermill/report/run_report.hpp"

namespace wafermill::job {

/// @brief Exit code of a run that stopped early (SIGUSR1 or --time-limit) and can be resumed.
inline constexpr int kExitStoppedEarly = 3;

/// @brief Thrown by run_parallel on every rank when the run stopped before every block was
/// done (SIGUSR1, --time-limit): finished blocks are in the result store, no output was
/// written. what() is the message for the user on rank 0 (empty on other ranks).
class StoppedEarly : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// @brief Runs the parallel job on every rank of `comm` (collective). Rank 0 coordinates,
/// also works, writes the output and, per config.baseline, runs or loads the sequential
/// baseline and builds the report; other ranks return a report with only their figures.
/// @throws InputError (same on every rank) for bad input found before work starts;
/// StoppedEarly (every rank) when a stop was requested before the work was done.
report::RunReport run_parallel(const JobConfig& config, MPI_Comm comm);

/// @brief Runs the same pipeline on one process without MPI (the sequential baseline) and
/// returns its figures. Writes config.output like a parallel run.
report::RunFigures run_sequential(const JobConfig& config);

}  // namespace wafermill::job
