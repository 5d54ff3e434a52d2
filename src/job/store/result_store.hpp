// The result store: finished reduction blocks on disk beside the output, so that a killed or
// stopped run resumes without recomputing them and a rerun over a grown or regrouped input
// computes only the new blocks (docs/RELIABILITY.md "Result store"). Private to job/.
//
// Content-addressed: one file per block, `entry-<key>.wmb`, found by its key alone (the caller's
// block_key() of the block's content, content_hash.hpp), so an entry is found wherever its block
// sits in the run: after files were added before it, removed or reordered. No global block index
// is in the name or the key; the one in the header is informational (where the writer had it).
// Written by the rank that computed the block (every rank holds a ResultStore on the same
// directory), holding what a BatchResult holds for that block: per-wafer features, per-step
// features, per-wafer sensor moments (the fleet moments are summed per wafer, reduce/fleet.hpp)
// and the wafers' latencies, behind a header (shape, key) and a checksum of the payload. Each
// file is written under a temporary name and renamed (see put()).
// Memory stays bounded: one block is held at a time; a listing keeps only keys (8 bytes each).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "wafermill/features/backend.hpp"
#include "wafermill/partition/policy.hpp"
#include "worker.hpp"

namespace wafermill::job {

class ResultStore {
 public:
  /// A store in `dir` (created on the first put) for blocks of `plan` shaped like `layout`.
  ResultStore(std::string dir, const partition::BlockPlan& plan,
              const features::FeatureLayout& layout);

  const std::string& dir() const { return dir_; }

  /// The keys of the entries present, sorted, without repeats (empty when the directory does
  /// not exist). Entries of older schemas (`block-<index>-<key>.wmb`) are not listed: they are
  /// never read, only pruned.
  std::vector<std::uint64_t> list() const;

  /// Removes temporary files a killed writer left behind. Returns how many.
  std::size_t remove_temporaries() const;

  /// Writes every block of `batch` (batch.keys holds one key per block) as its own entry.
  /// @throws std::runtime_error naming the file when a write or rename fails.
  void put(const BatchResult& batch);

  /// Reads the entry with `key` into `out` as block b of this run (a one-block batch: b gives
  /// where its wafers go and how many the entry must hold, and names it in messages). Returns
  /// false, with the reason in `why`, when the entry is missing, truncated, of another shape or
  /// fails its checksum: the block is then recomputed.
  bool load(std::uint64_t key, std::uint64_t b, BatchResult& out, std::string& why) const;

  /// True when an entry with `key` exists.
  bool has(std::uint64_t key) const;

  /// Removes every entry whose key is not in `keep` (any order, repeats allowed), and every
  /// entry of an older schema. Called by one process (rank 0) after a complete run with every
  /// rank's keys (prune_to_run, resume.hpp), so the store then holds exactly that run's keys.
  /// Returns how many entries were removed.
  std::size_t prune(std::vector<std::uint64_t> keep) const;

 private:
  std::string entry_path(std::uint64_t key) const;
  void ensure_directory();

  std::string dir_;
  const partition::BlockPlan& plan_;
  features::FeatureLayout layout_;
  bool dir_ready_ = false;
};

}  // namespace wafermill::job
