/// @file policies.hpp
/// @brief The partition room's private seams: one factory per policy file and the dispenser
/// of precomputed per-rank units that the static policies share.
#pragma once

#include <memory>
#include <vector>

#include "wafermill/partition/policy.hpp"

namespace wafermill::partition::detail {

/// @brief Hands each rank its own precomputed units, in order; no shared state.
class AssignedDispenser final : public UnitDispenser {
 public:
  /// @brief per_rank[r] is the list of rank r's units.
  explicit AssignedDispenser(std::vector<std::vector<WorkUnit>> per_rank);
  /// @brief Rank's next unit. @throws std::out_of_range for a rank outside [0, n_ranks).
  std::optional<WorkUnit> next(int rank) override;

 private:
  std::vector<std::vector<WorkUnit>> per_rank_;
  std::vector<std::size_t> cursor_;
};

/// @brief Equal block counts per rank (static.cpp).
std::unique_ptr<PartitionPolicy> make_static_policy();
/// @brief Equal weights per rank by prefix sums (weighted.cpp).
std::unique_ptr<PartitionPolicy> make_weighted_policy();
/// @brief Guided self-scheduling / factoring (dynamic.cpp).
std::unique_ptr<PartitionPolicy> make_dynamic_policy(const PolicyOptions& options);

/// @brief @throws UsageError if n_ranks < 1.
void require_ranks(int n_ranks);

}  // namespace wafermill::partition::detail
