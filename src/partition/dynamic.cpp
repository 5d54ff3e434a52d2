/// @file dynamic.cpp
/// @brief "dynamic": guided self-scheduling (factor 1) or factoring (factor 2) over blocks,
/// answered by the coordinator from shared state.
#include <algorithm>

#include "policies.hpp"

namespace wafermill::partition::detail {

namespace {

// Not thread-safe: the coordinator answers one request at a time.
class GuidedDispenser final : public UnitDispenser {
 public:
  GuidedDispenser(const BlockPlan& plan, int n_ranks, const PolicyOptions& options)
      : plan_(plan), n_ranks_(n_ranks), options_(options) {}

  // Any rank may take the next unit; the rank does not change what it is.
  std::optional<WorkUnit> next(int /*rank*/) override {
    const std::uint64_t n_blocks = plan_.n_blocks();
    if (next_block_ == n_blocks) return std::nullopt;
    // Target weight max(min, R / (f P)) with R the remaining weight: guided self-scheduling
    // (Polychronopoulos & Kuck 1987) for f = 1, factoring (Hummel, Schonberg & Flynn 1992)
    // for f = 2, on weights instead of iteration counts. Whole blocks are taken until the
    // target is reached, at least one.
    const double remaining = plan_.weight(WorkUnit{next_block_, n_blocks});
    const double target =
        std::max(options_.min_unit_weight, remaining / (options_.factor * static_cast<double>(n_ranks_)));
    WorkUnit u{next_block_, next_block_};
    double weight = 0.0;
    do {
      weight += plan_.weight(u.end_block);
      ++u.end_block;
    } while (u.end_block < n_blocks && weight < target);
    next_block_ = u.end_block;
    return u;
  }

 private:
  BlockPlan plan_;  // a copy: the dispenser may outlive the caller's plan
  int n_ranks_;
  PolicyOptions options_;
  std::uint64_t next_block_ = 0;
};

class DynamicPolicy final : public PartitionPolicy {
 public:
  explicit DynamicPolicy(const PolicyOptions& options) : options_(options) {}
  std::string_view name() const override { return "dynamic"; }
  bool dynamic() const override { return true; }

  std::unique_ptr<UnitDispenser> dispenser(const BlockPlan& plan, int n_ranks) const override {
    require_ranks(n_ranks);
    return std::make_unique<GuidedDispenser>(plan, n_ranks, options_);
  }

 private:
  PolicyOptions options_;
};

}  // namespace

std::unique_ptr<PartitionPolicy> make_dynamic_policy(const PolicyOptions& options) {
  return std::make_unique<DynamicPolicy>(options);
}

}  // namespace wafermill::partition::detail
