/// @file assigned_dispenser.cpp
/// @brief The dispenser of precomputed per-rank units.
#include <stdexcept>
#include <string>

#include "policies.hpp"

namespace wafermill::partition::detail {

AssignedDispenser::AssignedDispenser(std::vector<std::vector<WorkUnit>> per_rank)
    : per_rank_(std::move(per_rank)), cursor_(per_rank_.size(), 0) {}

std::optional<WorkUnit> AssignedDispenser::next(int rank) {
  if (rank < 0 || static_cast<std::size_t>(rank) >= per_rank_.size()) {
    throw std::out_of_range("partition: rank " + std::to_string(rank) + " of " +
                            std::to_string(per_rank_.size()));
  }
  const auto r = static_cast<std::size_t>(rank);
  if (cursor_[r] == per_rank_[r].size()) return std::nullopt;
  return per_rank_[r][cursor_[r]++];
}

}  // namespace wafermill::partition::detail
