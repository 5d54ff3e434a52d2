/// @file policy.cpp
/// @brief The registry of partition policies by name, and draining a dispenser.
#include <cmath>
#include <string>

#include "policies.hpp"
#include "wafermill/error.hpp"

namespace wafermill::partition {

namespace detail {

void require_ranks(int n_ranks) {
  if (n_ranks < 1) throw UsageError("partition: need at least one rank, got " + std::to_string(n_ranks));
}

}  // namespace detail

namespace {

struct PolicyEntry {
  std::string_view name;
  std::unique_ptr<PartitionPolicy> (*make)(const PolicyOptions&);
};

// One line per policy; a new policy is one file and one line here.
constexpr PolicyEntry kPolicies[] = {
    {"static", [](const PolicyOptions&) { return detail::make_static_policy(); }},
    {"weighted", [](const PolicyOptions&) { return detail::make_weighted_policy(); }},
    {"dynamic", [](const PolicyOptions& o) { return detail::make_dynamic_policy(o); }},
};

}  // namespace

std::unique_ptr<PartitionPolicy> make_policy(std::string_view name, const PolicyOptions& options) {
  if (!(options.factor > 0.0) || !std::isfinite(options.factor)) {
    throw UsageError("partition: factor must be finite and > 0, got " + std::to_string(options.factor));
  }
  if (!(options.min_unit_weight >= 0.0) || !std::isfinite(options.min_unit_weight)) {
    throw UsageError("partition: min unit weight must be finite and >= 0, got " +
                     std::to_string(options.min_unit_weight));
  }
  for (const PolicyEntry& entry : kPolicies) {
    if (entry.name == name) return entry.make(options);
  }
  std::string known;
  for (const PolicyEntry& entry : kPolicies) known += (known.empty() ? "" : ", ") + std::string(entry.name);
  throw UsageError("unknown partition policy '" + std::string(name) + "' (known: " + known + ")");
}

std::vector<std::string> policy_names() {
  std::vector<std::string> names;
  for (const PolicyEntry& entry : kPolicies) names.emplace_back(entry.name);
  return names;
}

std::vector<std::vector<WorkUnit>> drain(UnitDispenser& d, int n_ranks) {
  detail::require_ranks(n_ranks);
  // Round-robin over ranks until every rank has been refused once: a static dispenser gives
  // each rank its own list in order, a dynamic one the order a fair coordinator would.
  std::vector<std::vector<WorkUnit>> per_rank(static_cast<std::size_t>(n_ranks));
  std::vector<char> done(per_rank.size(), 0);
  std::size_t n_done = 0;
  while (n_done < per_rank.size()) {
    for (int r = 0; r < n_ranks; ++r) {
      if (done[r]) continue;
      if (auto u = d.next(r)) {
        per_rank[r].push_back(*u);
      } else {
        done[r] = 1;
        ++n_done;
      }
    }
  }
  return per_rank;
}

}  // namespace wafermill::partition
