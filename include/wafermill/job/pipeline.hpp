/// @file pipeline.hpp
/// @brief The pipeline that wires the rooms together: index → partition → read → features →
/// block-ordered reduction → scoring → output, and the sequential baseline.
#pragma once

#include <mpi.h>

#include "wafermill/job/job_config.hpp"
#include "wafermill/report/run_report.hpp"

namespace wafermill::job {

/// @brief Runs the parallel job on every rank of `comm` (collective). Rank 0 coordinates,
/// also works, writes the output and, per config.baseline, runs or loads the sequential
/// baseline and builds the report; other ranks return a report with only their figures.
/// @throws InputError (same on every rank) for bad input found before work starts.
report::RunReport run_parallel(const JobConfig& config, MPI_Comm comm);

/// @brief Runs the same pipeline on one process without MPI (the sequential baseline) and
/// returns its figures. Writes config.output like a parallel run.
report::RunFigures run_sequential(const JobConfig& config);

}  // namespace wafermill::job
