/// @file static.cpp
/// @brief "static": equal numbers of blocks per rank, contiguous.
#include "policies.hpp"

namespace wafermill::partition::detail {

namespace {

class StaticPolicy final : public PartitionPolicy {
 public:
  std::string_view name() const override { return "static"; }
  bool dynamic() const override { return false; }

  std::unique_ptr<UnitDispenser> dispenser(const BlockPlan& plan, int n_ranks) const override {
    require_ranks(n_ranks);
    const std::uint64_t b = plan.n_blocks();
    const auto p = static_cast<std::uint64_t>(n_ranks);
    // Rank r gets [r B / P, (r + 1) B / P): sizes differ by at most one block. Written as
    // (B / P) r + (B mod P) r / P, which is the same integer without overflowing r B.
    const auto boundary = [&](std::uint64_t r) { return (b / p) * r + (b % p) * r / p; };
    std::vector<std::vector<WorkUnit>> per_rank(p);
    for (std::uint64_t r = 0; r < p; ++r) {
      const WorkUnit u{boundary(r), boundary(r + 1)};
      if (u.end_block > u.first_block) per_rank[r].push_back(u);
    }
    return std::make_unique<AssignedDispenser>(std::move(per_rank));
  }
};

}  // namespace

std::unique_ptr<PartitionPolicy> make_static_policy() { return std::make_unique<StaticPolicy>(); }

}  // namespace wafermill::partition::detail
