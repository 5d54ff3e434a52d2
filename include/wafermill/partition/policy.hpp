/// @file policy.hpp
/// @brief Work units and partition policies (static, weighted, dynamic) behind one interface.
///
/// Wafers are grouped into fixed reduction blocks of `block_size` consecutive wafers whose
/// boundaries never depend on the number of ranks; a work unit is a run of whole blocks, so
/// every block's partial statistics are computed by one rank in wafer order and the fleet
/// reduction is reproducible for any rank count and policy.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace wafermill::partition {

/// @brief Blocks [first_block, end_block) of a BlockPlan.
struct WorkUnit {
  std::uint64_t first_block = 0;
  std::uint64_t end_block = 0;
  friend bool operator==(const WorkUnit&, const WorkUnit&) = default;
};

/// @brief The fixed blocks of a file and their work (sample counts).
class BlockPlan {
 public:
  /// @brief Groups the wafers of `offsets` (n_wafers + 1 row offsets) into blocks of
  /// `block_size` wafers. A block's weight is its rows plus `wafer_overhead_rows` per wafer
  /// (the fixed cost of a wafer, expressed in rows); the last block may be partial.
  /// @throws UsageError if block_size == 0 or the overhead is negative or not finite;
  /// InputError if offsets is empty or decreases.
  BlockPlan(std::span<const std::uint64_t> offsets, std::uint64_t block_size,
            double wafer_overhead_rows = 0.0);
  /// @brief The same over several files whose first wafers are `file_starts` (increasing,
  /// starting at 0): blocks restart at each file, so no block spans two files and a file's
  /// blocks are the same whichever files come before it (docs/FORMAT.md "Several input
  /// files"); each file's last block may be partial. @throws InputError if file_starts is
  /// empty, does not start at 0, decreases or passes the last wafer.
  BlockPlan(std::span<const std::uint64_t> offsets, std::uint64_t block_size,
            double wafer_overhead_rows, std::span<const std::uint64_t> file_starts);

  std::uint64_t n_wafers() const { return n_wafers_; }
  std::uint64_t n_blocks() const { return weights_.size(); }
  std::uint64_t block_size() const { return block_size_; }
  /// @brief First wafer of block b (b may equal n_blocks()). @throws std::out_of_range.
  std::uint64_t first_wafer(std::uint64_t b) const;
  /// @brief The first block of the file that starts at wafer `file_start` (a file of no wafers
  /// has no block: the next file's first block).
  std::uint64_t first_block_at(std::uint64_t file_start) const;
  /// @brief One past the last wafer of block b.
  std::uint64_t end_wafer(std::uint64_t b) const { return first_wafer(b + 1); }
  /// @brief Weight of block b.
  double weight(std::uint64_t b) const { return weights_[b]; }
  /// @brief Weight of blocks [first, end). @throws std::out_of_range.
  double weight(const WorkUnit& u) const;
  /// @brief Sum of all weights.
  double total_weight() const;

 private:
  void build(std::span<const std::uint64_t> offsets, double wafer_overhead_rows,
             std::span<const std::uint64_t> file_starts);
  std::uint64_t n_wafers_ = 0;
  std::uint64_t block_size_ = 1;
  std::vector<std::uint64_t> starts_;  // n_blocks + 1 first wafers; empty: b * block_size_
  std::vector<double> weights_;
  std::vector<double> prefix_;  // n_blocks + 1 prefix sums of weights
};

/// @brief Hands out work units. Static policies answer from a precomputed assignment (each
/// rank can run its own copy, no messages); dynamic ones from shared state held by the
/// coordinator (rank 0), which answers workers' requests.
class UnitDispenser {
 public:
  virtual ~UnitDispenser() = default;
  /// @brief The next unit for `rank`, or nullopt when it has no more work. Static
  /// dispensers throw std::out_of_range for a rank outside [0, n_ranks); the dynamic one
  /// ignores the rank (any rank may take the next unit) and is not thread-safe.
  virtual std::optional<WorkUnit> next(int rank) = 0;
};

/// @brief A partition policy, chosen by name.
class PartitionPolicy {
 public:
  virtual ~PartitionPolicy() = default;
  /// @brief "static", "weighted" or "dynamic".
  virtual std::string_view name() const = 0;
  /// @brief True when units must be requested from the coordinator at run time.
  virtual bool dynamic() const = 0;
  /// @brief A dispenser over a copy of `plan` for `n_ranks` ranks. @throws UsageError if
  /// n_ranks < 1.
  virtual std::unique_ptr<UnitDispenser> dispenser(const BlockPlan& plan, int n_ranks) const = 0;
};

/// @brief Settings shared by the policies.
struct PolicyOptions {
  /// dynamic: a unit's target weight is max(min_unit_weight, remaining / (factor * P))
  /// (guided self-scheduling for factor 1, factoring for factor 2).
  double factor = 2.0;
  double min_unit_weight = 0.0;  ///< dynamic: lower bound on a unit's weight (rows)
};

/// @brief The policy called `name`. @throws UsageError for an unknown name, a factor that
/// is not finite and > 0, or a min_unit_weight that is not finite and >= 0.
std::unique_ptr<PartitionPolicy> make_policy(std::string_view name, const PolicyOptions& options = {});

/// @brief The units one rank took in an earlier pass over the same plan, again and in the same
/// order: a static policy whose dispenser ignores the rank (each rank builds its own from its
/// own units). A second pass over the same items then finds, on each rank, what the first pass
/// left there (content hashes, latencies, warm pages), and is as balanced as the first.
std::unique_ptr<PartitionPolicy> replay_policy(std::vector<WorkUnit> units);

/// @brief Names of every policy, for --help.
std::vector<std::string> policy_names();

/// @brief Every unit a dispenser would give, per rank (for tests and reports), asking the
/// ranks round-robin until each is refused once. @throws UsageError if n_ranks < 1.
std::vector<std::vector<WorkUnit>> drain(UnitDispenser& d, int n_ranks);

}  // namespace wafermill::partition
