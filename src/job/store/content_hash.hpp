// Content hashes of what a reduction block reads, the keys of the result store
// (docs/RELIABILITY.md "Result store"). Private to job/.
//
// Every hash here is XXH3 (64-bit) from Debian's libxxhash (scripts/install-deps.sh).
// A wafer's hash covers its row count, its samples as the file stores them (whole rows, row
// after row, 4 or 8 bytes each) and its steps. The row path hashes the rows it already holds in
// its read buffer, in place, one XXH3 pass at memory speed; the oversize path (a wafer larger
// than the read budget, read one column at a time) hashes the same rows in budget-sized slices of
// whole rows, which gives the same hash: XXH3's streaming form equals its one-shot form.
// A block's key covers the configuration digest, the block's first wafer (within its file) and
// its wafers' hashes.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "wafermill/format/trace_index.hpp"
#include "wafermill/job/job_config.hpp"

struct XXH3_state_s;

namespace wafermill::job {

/// Frees an XXH3 state (content_hash.cpp).
struct Xxh3StateFree {
  void operator()(XXH3_state_s* s) const;
};
using Xxh3State = std::unique_ptr<XXH3_state_s, Xxh3StateFree>;

/// A 64-bit XXH3 hash of a stream of 64-bit words and byte ranges, each range prefixed with its
/// length. Words are gathered locally and passed to XXH3 in pieces. Not cryptographic: it
/// detects changed data, not forged data.
class Hash64 {
 public:
  explicit Hash64(std::uint64_t seed = 0);
  void add(std::uint64_t word) {
    if (n_ == kWords) flush();
    words_[n_++] = word;
  }
  void add_bytes(const void* data, std::size_t n);
  /// Adds bytes without their length: add(n) and then pieces of n bytes in all, one after the
  /// other, give what add_bytes() of the n bytes at once gives.
  void add_piece(const void* data, std::size_t n);
  std::uint64_t finish();

 private:
  static constexpr std::size_t kWords = 32;
  void flush();
  Xxh3State state_;
  std::uint64_t words_[kWords];
  std::size_t n_ = 0;
};

/// Hashes one wafer, fed in any grouping of consecutive whole rows.
class WaferHasher {
 public:
  WaferHasher();
  /// Starts a wafer of `rows` rows of `row_bytes` bytes each.
  void reset(std::uint64_t rows, std::size_t row_bytes);
  /// Adds `n_rows` consecutive whole rows, as the file stores them.
  void add_rows(const void* rows, std::uint64_t n_rows);
  /// Adds the steps of consecutive rows.
  void add_steps(std::span<const std::int32_t> steps);
  /// The wafer's hash.
  std::uint64_t finish();

 private:
  std::uint64_t rows_ = 0;
  std::size_t row_bytes_ = 0;
  Xxh3State values_, steps_;
};

/// What every key of a run shares: the store schema, the version and the configuration fields
/// that change results (feature set, block size, the input's layout, the backend's name).
std::uint64_t config_digest(const JobConfig& config, const format::TraceIndex& index,
                            const std::string& backend_name);

/// The key of a block of wafer_hashes.size() wafers starting at `first_wafer`: the result
/// store finds an entry by this key alone (result_store.hpp), so `first_wafer` should be the
/// block's place within its own input file, which does not move when other files are added,
/// removed or reordered.
std::uint64_t block_key(std::uint64_t digest, std::uint64_t first_wafer,
                        std::span<const std::uint64_t> wafer_hashes);

}  // namespace wafermill::job
