// The resume pass: before any work is handed out, find which blocks the result store already
// holds for exactly this input and configuration, and feed them to the collectors
// (docs/RELIABILITY.md "Resume"). Private to job/.
//
// 1. Rank 0 lists the store's keys and shares them (8 bytes an entry). An empty store ends the
//    pass: nothing is read twice on a first run.
// 2. Entries are found by content, not by place, so every block is a candidate: the blocks are
//    split over the ranks in contiguous shares; each rank reads and hashes its share
//    (Worker::hash_blocks) in runs of at most kResumeRun blocks.
// 3. Each rank loads every block of its share whose key is listed into its own collector (its
//    rows, its wafers' moments); an entry that fails its checks is reported and recomputed.
// 4. The bitmaps of reused blocks are OR-ed over the ranks: the work pass skips those blocks.
//
// After a complete run, prune_to_run() leaves the store holding exactly that run's keys.
#pragma once

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include <mpi.h>

#include "collector.hpp"
#include "store/result_store.hpp"
#include "worker.hpp"

namespace wafermill::job {

/// Keys known without reading the input: known[b] != 0 where key[b] is block b's key, taken
/// from the file records (store/file_records.hpp) of an unchanged input file. Empty: none.
struct KnownKeys {
  std::vector<std::uint64_t> key;
  std::vector<std::uint8_t> known;
  std::uint64_t count() const;
};

/// Collective over `comm` (MPI_COMM_NULL: one process). Every rank has its `store` (the same
/// directory) and its `collector`; `known` is the same on every rank. Blocks whose key is known
/// are not read; the others are read and hashed. Returns, on every rank, reused[b] = 1 for each
/// block taken from the store.
std::vector<std::uint8_t> resume_from_store(MPI_Comm comm, int rank, int size,
                                            const partition::BlockPlan& plan, Worker& worker,
                                            ResultStore& store, Collector& collector,
                                            const std::function<void()>& between_chunks,
                                            bool quiet, const KnownKeys& known = {});

/// Blocks hashed in one run of the resume pass (the wafers' hashes of a run are held at once).
inline constexpr std::uint64_t kResumeRun = 256;

/// After a complete run: gathers every rank's block keys (`mine`: (block, key) pairs of the
/// blocks it wrote or reused) on rank 0, 8 bytes a block, and rank 0 removes every entry whose
/// key is not among them (ResultStore::prune). `prune` is rank 0's say (false: its store could
/// not be written, leave it alone). Collective over comm (MPI_COMM_NULL: one process). Returns
/// the number of entries removed on rank 0, 0 elsewhere. With `keys_by_block` (rank 0, sized
/// to the plan's blocks), rank 0 also gets every block's key there (the file records).
std::size_t prune_to_run(MPI_Comm comm, int rank, const ResultStore& store,
                         const std::vector<std::pair<std::uint64_t, std::uint64_t>>& mine,
                         bool prune, std::vector<std::uint64_t>* keys_by_block = nullptr);

}  // namespace wafermill::job
