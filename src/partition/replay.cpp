/// @file replay.cpp
/// @brief The replay policy (policy.hpp): one rank's units of an earlier pass, again.
#include <utility>

#include "wafermill/partition/policy.hpp"

namespace wafermill::partition {
namespace {

class ReplayDispenser final : public UnitDispenser {
 public:
  explicit ReplayDispenser(const std::vector<WorkUnit>& units) : units_(units) {}
  std::optional<WorkUnit> next(int /*rank*/) override {
    if (at_ == units_.size()) return std::nullopt;
    return units_[at_++];
  }

 private:
  const std::vector<WorkUnit>& units_;
  std::size_t at_ = 0;
};

class ReplayPolicy final : public PartitionPolicy {
 public:
  explicit ReplayPolicy(std::vector<WorkUnit> units) : units_(std::move(units)) {}
  std::string_view name() const override { return "replay"; }
  bool dynamic() const override { return false; }
  std::unique_ptr<UnitDispenser> dispenser(const BlockPlan& /*plan*/,
                                           int /*n_ranks*/) const override {
    return std::make_unique<ReplayDispenser>(units_);
  }

 private:
  std::vector<WorkUnit> units_;
};

}  // namespace

std::unique_ptr<PartitionPolicy> replay_policy(std::vector<WorkUnit> units) {
  return std::make_unique<ReplayPolicy>(std::move(units));
}

}  // namespace wafermill::partition
