// Content hashes of what a reduction block reads, the keys of the result store
// (docs/RELIABILITY.md "Result store"). Private to job/.
//
// A wafer's hash covers its row count, its steps and, per sensor column, the column's samples in
// row order as the file stores them (4 or 8 bytes each). Hashing per column makes the row path
// (whole rows in a buffer) and the oversize path (one column at a time) give the same hash.
// A block's key covers the configuration digest, the block's first wafer and its wafers' hashes.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "wafermill/format/trace_index.hpp"
#include "wafermill/job/job_config.hpp"

namespace wafermill::job {

/// A 64-bit hash over 64-bit words with xxHash64's round and final avalanche (Collet, xxHash
/// spec): each round is a bijection of the word for a fixed state, so changing any one word
/// always changes the state. Not cryptographic: it detects changed data, not forged data.
class Hash64 {
 public:
  explicit Hash64(std::uint64_t seed = 0) : h_(seed + kPrime5) {}
  void add(std::uint64_t word) {
    h_ ^= round(word);
    h_ = rotl(h_, 27) * kPrime1 + kPrime4;
  }
  void add_bytes(const void* data, std::size_t n);
  std::uint64_t finish() const;

  static constexpr std::uint64_t kPrime1 = 0x9E3779B185EBCA87ULL;
  static constexpr std::uint64_t kPrime2 = 0xC2B2AE3D27D4EB4FULL;
  static constexpr std::uint64_t kPrime3 = 0x165667B19E3779F9ULL;
  static constexpr std::uint64_t kPrime4 = 0x85EBCA77C2B2AE63ULL;
  static constexpr std::uint64_t kPrime5 = 0x27D4EB2F165667C5ULL;

 private:
  static std::uint64_t rotl(std::uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
  static std::uint64_t round(std::uint64_t w) { return rotl(w * kPrime2, 31) * kPrime1; }
  std::uint64_t h_;
};

/// Hashes one wafer, fed in any grouping of whole rows or whole columns.
class WaferHasher {
 public:
  /// Starts a wafer of `rows` rows and `n_sensors` columns of `value_bytes` (4 or 8) each.
  void reset(std::uint64_t rows, std::size_t n_sensors, std::size_t value_bytes);
  /// Adds `n_rows` consecutive rows of the columns [first_column, first_column + n_columns),
  /// row-major with `n_columns` values per row.
  void add_values(const void* values, std::uint64_t n_rows, std::size_t first_column,
                  std::size_t n_columns);
  /// Adds the steps of consecutive rows.
  void add_steps(std::span<const std::int32_t> steps);
  /// The wafer's hash.
  std::uint64_t finish() const;

 private:
  std::uint64_t rows_ = 0;
  std::size_t value_bytes_ = 4;
  std::vector<Hash64> columns_;
  Hash64 steps_{1};
};

/// What every key of a run shares: the store schema, the version and the configuration fields
/// that change results (feature set, block size, the input's layout, the backend's name).
std::uint64_t config_digest(const JobConfig& config, const format::TraceIndex& index,
                            const std::string& backend_name);

/// The key of the block of wafers [first_wafer, first_wafer + wafer_hashes.size()).
std::uint64_t block_key(std::uint64_t digest, std::uint64_t first_wafer,
                        std::span<const std::uint64_t> wafer_hashes);

}  // namespace wafermill::job
