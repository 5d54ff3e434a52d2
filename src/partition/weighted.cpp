/// @file weighted.cpp
/// @brief "weighted": contiguous ranges of (nearly) equal weight, cut by prefix sums.
#include <algorithm>

#include "policies.hpp"

namespace wafermill::partition::detail {

namespace {

class WeightedPolicy final : public PartitionPolicy {
 public:
  std::string_view name() const override { return "weighted"; }
  bool dynamic() const override { return false; }

  std::unique_ptr<UnitDispenser> dispenser(const BlockPlan& plan, int n_ranks) const override {
    require_ranks(n_ranks);
    const std::uint64_t n_blocks = plan.n_blocks();
    const double total = plan.total_weight();
    const auto p = static_cast<std::uint64_t>(n_ranks);
    if (!(total > 0.0)) return make_static_policy()->dispenser(plan, n_ranks);  // nothing to weigh

    // Cut r (1 <= r < P) goes to the block boundary k whose prefix weight W_k lies nearest to
    // the target r W / P (the prefix-sum split of h5bench-style partitioning, on blocks). The
    // target lies inside one block, so each cut is off by at most half a block and every
    // rank's weight is at most W / P + max block weight. Ties go to the lower boundary.
    std::vector<std::uint64_t> cuts(p + 1, 0);
    cuts[p] = n_blocks;
    std::uint64_t k = 0;  // first boundary with W_k >= target; targets increase, so k only moves up
    for (std::uint64_t r = 1; r < p; ++r) {
      const double target = total * static_cast<double>(r) / static_cast<double>(p);
      while (k < n_blocks && prefix(plan, k) < target) ++k;
      std::uint64_t cut = k;
      if (k > 0 && target - prefix(plan, k - 1) <= prefix(plan, k) - target) cut = k - 1;
      cuts[r] = std::max(cut, cuts[r - 1]);
    }
    std::vector<std::vector<WorkUnit>> per_rank(p);
    for (std::uint64_t r = 0; r < p; ++r) {
      if (cuts[r + 1] > cuts[r]) per_rank[r].push_back(WorkUnit{cuts[r], cuts[r + 1]});
    }
    return std::make_unique<AssignedDispenser>(std::move(per_rank));
  }

 private:
  // W_k: the weight of blocks [0, k).
  static double prefix(const BlockPlan& plan, std::uint64_t k) { return plan.weight(WorkUnit{0, k}); }
};

}  // namespace

std::unique_ptr<PartitionPolicy> make_weighted_policy() { return std::make_unique<WeightedPolicy>(); }

}  // namespace wafermill::partition::detail
