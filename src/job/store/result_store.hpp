// The result store: finished reduction blocks on disk beside the output, so that a killed or
// stopped run resumes without recomputing them and a rerun over a grown or regrouped input
// computes only the new blocks (docs/RELIABILITY.md "Result store"). Private to job/.
//
// Content-addressed: every block is an entry found by its key alone (the caller's block_key()
// of the block's content, content_hash.hpp), so an entry is found wherever its block sits in the
// run: after files were added before it, removed or reordered. No global block index is in a
// name or a key; the one in an entry's header is informational (where the writer had it).
//
// Pack files (schema 4): put() writes the entries of one batch (consecutive whole blocks, as
// many as the worker's result budget holds) into ONE file, `pack-<16 hex>.wmb`, named by a hash
// of the batch's keys:
//   pack header   4 words: magic "WMPACK04", entry count n, checksum of (n, table), 0
//   table         n x 3 words: key, offset of the entry in the file, its length in bytes
//   entries       each as in schema 3: an 11-word header (magic "WMSTORE4", key, block, first
//                 wafer, wafers, shape, payload length, payload checksum) and the payload
//                 (per-wafer features, per-step features, per-wafer sensor moments, latencies)
// written straight from the batch's arrays (writev) under `<name>.tmp.<first block of the
// batch>` (unique within a run, whichever rank or host writes it; one run at a time holds the
// store's lock) and renamed once: a pack appears whole or not at all; an operating-system crash
// may leave one cut short or zero-filled, which the table checksum, the entries' bounds and
// their payload checksums reject (not fsynced). One file per batch instead of one per block:
// the store's cost was mostly the file system allocating an inode per entry (issue 18 item 6).
// `.wmb` like the trace entries before; the picture store's files are `.wmp`.
// Readers find entries through the packs' tables, read once (lazily, on the first list(), has()
// or load()) into a key -> (pack, offset, length) map: memory O(entries). A pack whose table is
// damaged, truncated or foreign gives no entries (its reason is kept, rejected_packs()); an entry
// that fails its own checks is refused with the reason and its block recomputed. prune() keeps
// every pack at least half live (see there).
// Entries of older schemas (`entry-<key>.wmb`, `block-<index>-<key>.wmb`) are never read, only
// pruned. Memory stays bounded: one block's payload is held at a time while writing or reading.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
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
  ~ResultStore();
  ResultStore(const ResultStore&) = delete;
  ResultStore& operator=(const ResultStore&) = delete;

  const std::string& dir() const { return dir_; }

  /// The keys of the entries present, sorted, without repeats (empty when the directory does
  /// not exist). Entries of older schemas are not listed: they are never read, only pruned.
  std::vector<std::uint64_t> list() const;

  /// Why packs were ignored when the tables were read ("<path>: <reason>" each; their entries
  /// are neither listed nor loaded, so their blocks are recomputed).
  const std::vector<std::string>& rejected_packs() const;

  /// Removes temporary files a killed writer left behind. Returns how many.
  std::size_t remove_temporaries() const;

  /// Writes every block of `batch` (batch.keys holds one key per block) into one pack file (a
  /// key given twice in the batch is written once).
  /// @throws std::runtime_error naming the file when a write or rename fails.
  void put(const BatchResult& batch);

  /// Reads the entry with `key` into `out` as block b of this run (a one-block batch: b gives
  /// where its wafers go and how many the entry must hold, and names it in messages). Returns
  /// false, with the reason in `why`, when the entry is missing, truncated, of another shape or
  /// fails its checksum: the block is then recomputed. When several packs hold the key, each
  /// copy is tried.
  bool load(std::uint64_t key, std::uint64_t b, BatchResult& out, std::string& why) const;

  /// True when a pack's table lists an entry with `key`.
  bool has(std::uint64_t key) const;

  /// Removes every pack none of whose entries has a key in `keep` (any order, repeats allowed),
  /// rewrites a pack of which fewer than half the entries are kept into a new pack of those
  /// alone, and removes every entry file of an older schema. A key held by several packs counts
  /// as kept in the newest of them only, and an entry a pack cut short no longer holds whole
  /// counts as dead. So afterwards every pack holds at least half kept entries: the dead weight
  /// is bounded by the live. Called by one process (rank 0) after
  /// a complete run with every rank's keys (prune_to_run, resume.hpp). Returns how many entries
  /// were removed (entries of removed or rewritten packs that were not kept, and old files).
  std::size_t prune(std::vector<std::uint64_t> keep) const;

 private:
  struct Where {
    std::uint32_t pack;  // index into packs_
    std::uint64_t offset, length;
  };
  void ensure_directory();
  void read_tables() const;
  bool load_from(const Where& w, std::uint64_t key, std::uint64_t b, BatchResult& out,
                 std::string& why) const;

  std::string dir_;
  const partition::BlockPlan& plan_;
  features::FeatureLayout layout_;
  bool dir_ready_ = false;
  // The index, read lazily from the packs' tables and extended by put().
  mutable bool indexed_ = false;
  mutable std::vector<std::string> packs_;  // paths
  mutable std::unordered_multimap<std::uint64_t, Where> index_;
  mutable std::vector<std::string> rejected_;
  mutable int open_fd_ = -1;  // the pack last read by load(), kept open
  mutable std::uint32_t open_pack_ = 0;
};

}  // namespace wafermill::job
