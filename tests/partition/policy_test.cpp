// The three policies over many random weight vectors and rank counts.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "wafermill/error.hpp"
#include "wafermill/partition/policy.hpp"

namespace wp = wafermill::partition;

namespace {

struct Case {
  std::vector<std::uint64_t> offsets;
  std::uint64_t block_size;
  double overhead;
};

// Wafers with lognormal row counts (a heavy tail, as real trace lengths), sometimes empty.
Case random_case(std::mt19937_64& rng) {
  std::uniform_int_distribution<int> n_wafers(0, 300);
  std::uniform_int_distribution<std::uint64_t> block_size(1, 9);
  std::uniform_real_distribution<double> sigma(0.1, 2.5);
  std::lognormal_distribution<double> rows(5.0, sigma(rng));
  Case c{{0}, block_size(rng), std::uniform_int_distribution<int>(0, 1)(rng) * 20.0};
  const int n = n_wafers(rng);
  for (int i = 0; i < n; ++i) c.offsets.push_back(c.offsets.back() + static_cast<std::uint64_t>(rows(rng)));
  return c;
}

double max_block_weight(const wp::BlockPlan& plan) {
  double m = 0.0;
  for (std::uint64_t b = 0; b < plan.n_blocks(); ++b) m = std::max(m, plan.weight(b));
  return m;
}

// Every block in exactly one unit; every unit non-empty and inside the plan.
void expect_exact_cover(const wp::BlockPlan& plan, const std::vector<std::vector<wp::WorkUnit>>& per_rank) {
  std::vector<int> seen(plan.n_blocks(), 0);
  for (const auto& units : per_rank) {
    for (const wp::WorkUnit& u : units) {
      ASSERT_LT(u.first_block, u.end_block);
      ASSERT_LE(u.end_block, plan.n_blocks());
      for (std::uint64_t b = u.first_block; b < u.end_block; ++b) ++seen[b];
    }
  }
  for (std::uint64_t b = 0; b < plan.n_blocks(); ++b) ASSERT_EQ(seen[b], 1) << "block " << b;
}

// Static policies: at most one contiguous unit per rank, ranks in block order.
void expect_ordered_ranges(const std::vector<std::vector<wp::WorkUnit>>& per_rank) {
  std::uint64_t next = 0;
  for (const auto& units : per_rank) {
    ASSERT_LE(units.size(), 1u);
    if (units.empty()) continue;
    EXPECT_EQ(units[0].first_block, next);
    next = units[0].end_block;
  }
}

}  // namespace

TEST(Policies, RandomWeightsAllPoliciesAllRankCounts) {
  std::mt19937_64 rng(424242);
  for (int trial = 0; trial < 150; ++trial) {
    const Case c = random_case(rng);
    const wp::BlockPlan plan(c.offsets, c.block_size, c.overhead);
    const double total = plan.total_weight();
    const double w_max = max_block_weight(plan);
    const std::uint64_t n_blocks = plan.n_blocks();
    for (int p = 1; p <= 8; ++p) {
      SCOPED_TRACE(testing::Message() << "trial " << trial << " P " << p << " blocks " << n_blocks);
      {
        auto d = wp::make_policy("static")->dispenser(plan, p);
        const auto per_rank = wp::drain(*d, p);
        expect_exact_cover(plan, per_rank);
        expect_ordered_ranges(per_rank);
        for (int r = 0; r < p; ++r) {
          const std::uint64_t first = static_cast<std::uint64_t>(r) * n_blocks / p;
          const std::uint64_t end = static_cast<std::uint64_t>(r + 1) * n_blocks / p;
          const std::uint64_t got = per_rank[r].empty() ? 0 : per_rank[r][0].end_block - per_rank[r][0].first_block;
          EXPECT_EQ(got, end - first) << "rank " << r;
          EXPECT_LE(got, n_blocks / p + 1);
          EXPECT_GE(got, n_blocks / p);
          if (!per_rank[r].empty()) {
            EXPECT_EQ(per_rank[r][0].first_block, first);
          }
        }
      }
      {
        auto d = wp::make_policy("weighted")->dispenser(plan, p);
        const auto per_rank = wp::drain(*d, p);
        expect_exact_cover(plan, per_rank);
        expect_ordered_ranges(per_rank);
        for (int r = 0; r < p; ++r) {
          const double w = per_rank[r].empty() ? 0.0 : plan.weight(per_rank[r][0]);
          EXPECT_LE(w, total / p + w_max + 1e-9 * total) << "rank " << r;
        }
      }
      for (double factor : {1.0, 2.0}) {
        for (double min_unit : {0.0, total / 50}) {
          wp::PolicyOptions options;
          options.factor = factor;
          options.min_unit_weight = min_unit;
          auto d = wp::make_policy("dynamic", options)->dispenser(plan, p);
          const auto per_rank = wp::drain(*d, p);
          expect_exact_cover(plan, per_rank);
          // Units in the order handed out (round-robin drain): they tile the blocks in order.
          std::vector<wp::WorkUnit> units;
          for (std::size_t i = 0;; ++i) {
            bool any = false;
            for (const auto& rank_units : per_rank) {
              if (i < rank_units.size()) {
                units.push_back(rank_units[i]);
                any = true;
              }
            }
            if (!any) break;
          }
          std::uint64_t next = 0;
          double previous_weight = HUGE_VAL;
          for (const wp::WorkUnit& u : units) {
            ASSERT_EQ(u.first_block, next);
            const double remaining = plan.weight(wp::WorkUnit{u.first_block, n_blocks});
            const double target = std::max(min_unit, remaining / (factor * p));
            const double w = plan.weight(u);
            // The unit reaches its target (or takes everything left) and stops at the first
            // block that does: dropping its last block leaves it below the target.
            if (u.end_block < n_blocks) {
              EXPECT_GE(w, target * (1 - 1e-12));
            }
            EXPECT_GE(w, std::min(min_unit, remaining) * (1 - 1e-12));
            if (u.end_block - u.first_block > 1) {
              EXPECT_LT(plan.weight(wp::WorkUnit{u.first_block, u.end_block - 1}), target);
            }
            // Guided: unit weights shrink, up to one block's overshoot.
            EXPECT_LE(w, previous_weight + w_max + 1e-9 * total);
            previous_weight = w;
            next = u.end_block;
          }
          EXPECT_EQ(next, n_blocks);
        }
      }
    }
  }
}

TEST(Policies, DynamicGuidedAndFactoringExamples) {
  // Eight blocks of one wafer with one row each: weights 1.
  const std::vector<std::uint64_t> offsets{0, 1, 2, 3, 4, 5, 6, 7, 8};
  const wp::BlockPlan plan(offsets, 1);
  const auto units = [&](double factor, double min_unit) {
    wp::PolicyOptions o;
    o.factor = factor;
    o.min_unit_weight = min_unit;
    auto d = wp::make_policy("dynamic", o)->dispenser(plan, 2);
    std::vector<wp::WorkUnit> out;
    while (auto u = d->next(static_cast<int>(out.size() % 2))) out.push_back(*u);
    EXPECT_FALSE(d->next(0).has_value());
    return out;
  };
  // Guided (factor 1, P = 2): targets 8/2, 4/2, 2/2, 1/2 -> 4, 2, 1, 1 blocks.
  EXPECT_EQ(units(1.0, 0.0), (std::vector<wp::WorkUnit>{{0, 4}, {4, 6}, {6, 7}, {7, 8}}));
  // Factoring (factor 2): targets 2, 1.5, 1, 0.75, ... -> 2, 2, 1, 1, 1, 1 blocks.
  EXPECT_EQ(units(2.0, 0.0), (std::vector<wp::WorkUnit>{{0, 2}, {2, 4}, {4, 5}, {5, 6}, {6, 7}, {7, 8}}));
  // A minimum unit of 3 rows: 3, 3, then the 2 left.
  EXPECT_EQ(units(2.0, 3.0), (std::vector<wp::WorkUnit>{{0, 3}, {3, 6}, {6, 8}}));
}

TEST(Policies, WeightedCutsAtTheNearerBoundary) {
  // Block weights 1, 1, 10, 1, 1 (W = 14). P = 2: target 7 lies inside block 2 (prefix 2 .. 12);
  // 7 - 2 = 5 <= 12 - 7 = 5, a tie, goes to the lower boundary 2.
  const std::vector<std::uint64_t> offsets{0, 1, 2, 12, 13, 14};
  const wp::BlockPlan plan(offsets, 1);
  auto d = wp::make_policy("weighted")->dispenser(plan, 2);
  EXPECT_EQ(wp::drain(*d, 2), (std::vector<std::vector<wp::WorkUnit>>{{{0, 2}}, {{2, 5}}}));
  // P = 3: targets 4.67 (nearer 2 than 12) and 9.33 (nearer 12 than 2).
  auto d3 = wp::make_policy("weighted")->dispenser(plan, 3);
  EXPECT_EQ(wp::drain(*d3, 3), (std::vector<std::vector<wp::WorkUnit>>{{{0, 2}}, {{2, 3}}, {{3, 5}}}));
}

TEST(Policies, MoreRanksThanBlocksAndEmptyPlans) {
  const std::vector<std::uint64_t> offsets{0, 5, 9};
  const wp::BlockPlan plan(offsets, 1);
  for (const std::string& name : wp::policy_names()) {
    auto d = wp::make_policy(name)->dispenser(plan, 5);
    const auto per_rank = wp::drain(*d, 5);
    expect_exact_cover(plan, per_rank);
    const std::vector<std::uint64_t> none{0};
    auto e = wp::make_policy(name)->dispenser(wp::BlockPlan(none, 3), 3);
    for (const auto& units : wp::drain(*e, 3)) EXPECT_TRUE(units.empty()) << name;
  }
  // All-zero weights: the weighted policy falls back to equal block counts.
  const std::vector<std::uint64_t> zeros{0, 0, 0, 0, 0};
  auto z = wp::make_policy("weighted")->dispenser(wp::BlockPlan(zeros, 1), 2);
  EXPECT_EQ(wp::drain(*z, 2), (std::vector<std::vector<wp::WorkUnit>>{{{0, 2}}, {{2, 4}}}));
}

TEST(Policies, NamesFlagsAndErrors) {
  EXPECT_EQ(wp::policy_names(), (std::vector<std::string>{"static", "weighted", "dynamic"}));
  for (const std::string& name : wp::policy_names()) {
    const auto policy = wp::make_policy(name);
    EXPECT_EQ(policy->name(), name);
    EXPECT_EQ(policy->dynamic(), name == "dynamic");
  }
  EXPECT_THROW(wp::make_policy("round-robin"), wafermill::UsageError);
  EXPECT_THROW(wp::make_policy(""), wafermill::UsageError);
  wp::PolicyOptions bad;
  bad.factor = 0.0;
  EXPECT_THROW(wp::make_policy("dynamic", bad), wafermill::UsageError);
  bad.factor = 1.0;
  bad.min_unit_weight = -1.0;
  EXPECT_THROW(wp::make_policy("dynamic", bad), wafermill::UsageError);
  const std::vector<std::uint64_t> offsets{0, 5, 9};
  const wp::BlockPlan plan(offsets, 1);
  EXPECT_THROW(wp::make_policy("static")->dispenser(plan, 0), wafermill::UsageError);
  auto d = wp::make_policy("static")->dispenser(plan, 2);
  EXPECT_THROW(d->next(2), std::out_of_range);
  EXPECT_THROW(d->next(-1), std::out_of_range);
}

TEST(Policies, ReplayGivesOneRanksUnitsAgainInOrder) {
  // Rank 1's units of a dynamic first pass over 40 blocks of 4 ranks, replayed: the same units
  // in the same order, whatever rank asks, then nothing; a second dispenser starts over.
  std::vector<std::uint64_t> offsets(161);
  for (std::size_t i = 1; i < offsets.size(); ++i) offsets[i] = offsets[i - 1] + 1 + i % 7;
  const wp::BlockPlan plan(offsets, 4);
  auto first = wp::make_policy("dynamic")->dispenser(plan, 4);
  const auto units = wp::drain(*first, 4);
  ASSERT_FALSE(units[1].empty());
  const auto replay = wp::replay_policy(units[1]);
  EXPECT_FALSE(replay->dynamic());
  EXPECT_EQ(replay->name(), "replay");
  for (int round = 0; round < 2; ++round) {
    auto d = replay->dispenser(plan, 4);
    std::vector<wp::WorkUnit> again;
    while (auto u = d->next(round == 0 ? 1 : 3)) again.push_back(*u);
    EXPECT_EQ(again, units[1]);
    EXPECT_FALSE(d->next(1).has_value());
  }
}
