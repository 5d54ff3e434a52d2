// The resume pass: before any work is handed out, find which blocks the result store already
// holds for exactly this input and configuration, and feed them to the collectors
// (docs/RELIABILITY.md "Resume"). Private to job/.
//
// 1. Rank 0 lists the store: the blocks that have any entry are candidates (a block without one
//    is computed without being read twice).
// 2. The candidates are split over the ranks in contiguous runs; each rank reads and hashes its
//    share (Worker::hash_blocks).
// 3. Each rank loads every block of its share whose entry has the key just computed into its
//    own collector (its rows, its partials); an entry that fails its checks is reported and
//    recomputed.
// 4. The bitmaps of reused blocks are OR-ed over the ranks: the work pass skips those blocks.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include <mpi.h>

#include "collector.hpp"
#include "store/result_store.hpp"
#include "worker.hpp"

namespace wafermill::job {

/// Collective over `comm` (MPI_COMM_NULL: one process). Every rank has its `store` (the same
/// directory) and its `collector`. Returns, on every rank, reused[b] = 1 for each block taken
/// from the store.
std::vector<std::uint8_t> resume_from_store(MPI_Comm comm, int rank, int size,
                                            const partition::BlockPlan& plan, Worker& worker,
                                            ResultStore& store, Collector& collector,
                                            const std::function<void()>& between_chunks,
                                            bool quiet);

}  // namespace wafermill::job
