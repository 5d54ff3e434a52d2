// The result store: finished reduction blocks on disk beside the output, so that a killed or
// stopped run resumes without recomputing them and a rerun over a grown input computes only the
// new blocks (docs/RELIABILITY.md "Result store"). Private to job/.
//
// One file per block, `block-<index>-<key>.wmb`, written by the rank that computed the block
// (every rank holds a ResultStore on the same directory), holding what a BatchResult holds for that
// block: per-wafer features, per-step features, the block's moments partial and the wafers'
// latencies, behind a header (shape, key) and a checksum of the payload. Each file is written
// under a temporary name, fsynced and renamed; the directory is fsynced after each batch.
// Memory stays bounded: one block is held at a time; a listing keeps only (index, key) pairs.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <utility>
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

  /// Keys present per block index (empty when the directory does not exist).
  std::map<std::uint64_t, std::vector<std::uint64_t>> list() const;

  /// Removes temporary files a killed writer left behind. Returns how many.
  std::size_t remove_temporaries() const;

  /// Writes every block of `batch` (batch.keys holds one key per block) as its own entry.
  /// @throws std::runtime_error naming the file when a write, fsync or rename fails.
  void put(const BatchResult& batch);

  /// Reads block b's entry with `key` into `out` (a one-block batch). Returns false, with the
  /// reason in `why`, when the entry is missing, truncated, of another shape or fails its
  /// checksum: the block is then recomputed.
  bool load(std::uint64_t b, std::uint64_t key, BatchResult& out, std::string& why) const;

  /// True when block b's entry with `key` exists.
  bool has(std::uint64_t b, std::uint64_t key) const;

  /// Removes the entries of this rank's blocks (`mine`: (block, key) pairs) whose key is not
  /// this run's, and with `beyond` every entry of a block >= `beyond` (an input that shrank).
  /// Every rank prunes its own blocks, so after a complete run the store holds exactly that
  /// run's blocks and no rank handles the others'.
  void prune(const std::vector<std::pair<std::uint64_t, std::uint64_t>>& mine,
             std::optional<std::uint64_t> beyond) const;

 private:
  std::string entry_path(std::uint64_t b, std::uint64_t key) const;
  void ensure_directory();

  std::string dir_;
  const partition::BlockPlan& plan_;
  features::FeatureLayout layout_;
  bool dir_ready_ = false;
};

}  // namespace wafermill::job
