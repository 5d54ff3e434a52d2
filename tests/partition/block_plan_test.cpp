// Fixed blocks: wafer ranges, weights, the partial last block, errors.
#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

#include "wafermill/error.hpp"
#include "wafermill/partition/policy.hpp"

namespace wp = wafermill::partition;

TEST(BlockPlan, WaferRangesAndWeightsWithPartialLastBlock) {
  // 7 wafers of 3, 2, 0, 5, 2, 8, 1 rows; blocks of 3 wafers: {0,1,2} {3,4,5} {6}.
  const std::vector<std::uint64_t> offsets{0, 3, 5, 5, 10, 12, 20, 21};
  const wp::BlockPlan plan(offsets, 3, 0.5);
  EXPECT_EQ(plan.n_wafers(), 7u);
  EXPECT_EQ(plan.n_blocks(), 3u);
  EXPECT_EQ(plan.block_size(), 3u);
  EXPECT_EQ(plan.first_wafer(0), 0u);
  EXPECT_EQ(plan.first_wafer(1), 3u);
  EXPECT_EQ(plan.end_wafer(1), 6u);
  EXPECT_EQ(plan.first_wafer(2), 6u);
  EXPECT_EQ(plan.end_wafer(2), 7u);  // partial: one wafer
  EXPECT_EQ(plan.first_wafer(3), 7u);
  EXPECT_THROW(plan.first_wafer(4), std::out_of_range);
  EXPECT_DOUBLE_EQ(plan.weight(0), 5 + 3 * 0.5);
  EXPECT_DOUBLE_EQ(plan.weight(1), 15 + 3 * 0.5);
  EXPECT_DOUBLE_EQ(plan.weight(2), 1 + 0.5);
  EXPECT_DOUBLE_EQ(plan.weight(wp::WorkUnit{1, 3}), 16.5 + 1.5);
  EXPECT_DOUBLE_EQ(plan.weight(wp::WorkUnit{2, 2}), 0.0);
  EXPECT_DOUBLE_EQ(plan.total_weight(), 21 + 7 * 0.5);
  EXPECT_THROW(plan.weight(wp::WorkUnit{2, 4}), std::out_of_range);
  EXPECT_THROW(plan.weight(wp::WorkUnit{2, 1}), std::out_of_range);
}

TEST(BlockPlan, ExactMultipleAndEmptyFile) {
  const std::vector<std::uint64_t> offsets{0, 1, 2, 3, 4};
  const wp::BlockPlan plan(offsets, 2);
  EXPECT_EQ(plan.n_blocks(), 2u);
  EXPECT_EQ(plan.end_wafer(1), 4u);
  const std::vector<std::uint64_t> none{0};
  const wp::BlockPlan empty(none, 4);
  EXPECT_EQ(empty.n_wafers(), 0u);
  EXPECT_EQ(empty.n_blocks(), 0u);
  EXPECT_EQ(empty.total_weight(), 0.0);
}

TEST(BlockPlan, Errors) {
  const std::vector<std::uint64_t> offsets{0, 4, 2};
  EXPECT_THROW(wp::BlockPlan(offsets, 1), wafermill::InputError);
  EXPECT_THROW(wp::BlockPlan({}, 1), wafermill::InputError);
  const std::vector<std::uint64_t> good{0, 4};
  EXPECT_THROW(wp::BlockPlan(good, 0), wafermill::UsageError);
  EXPECT_THROW(wp::BlockPlan(good, 1, -1.0), wafermill::UsageError);
}
