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

// Several input files: blocks restart at each file's first wafer, so a file's blocks do not
// depend on the files before it; an empty file has no block.
TEST(BlockPlan, BlocksRestartAtEveryFile) {
  std::vector<std::uint64_t> offsets(11);
  for (std::uint64_t w = 0; w <= 10; ++w) offsets[w] = 3 * w;
  const std::vector<std::uint64_t> starts{0, 3, 3, 7};
  const wp::BlockPlan plan(offsets, 2, 0.0, starts);
  const std::vector<std::uint64_t> want{0, 2, 3, 5, 7, 9, 10};
  ASSERT_EQ(plan.n_blocks(), want.size() - 1);
  for (std::uint64_t b = 0; b < want.size(); ++b) EXPECT_EQ(plan.first_wafer(b), want[b]) << b;
  EXPECT_DOUBLE_EQ(plan.weight(1), 3.0);
  EXPECT_DOUBLE_EQ(plan.total_weight(), 30.0);
  EXPECT_EQ(plan.first_block_at(0), 0u);
  EXPECT_EQ(plan.first_block_at(3), 2u);
  EXPECT_EQ(plan.first_block_at(7), 4u);
  // The last file's blocks are those of the file alone, shifted.
  const std::vector<std::uint64_t> alone(offsets.begin() + 7, offsets.end());
  const wp::BlockPlan last(alone, 2);
  for (std::uint64_t b = 0; b <= last.n_blocks(); ++b)
    EXPECT_EQ(plan.first_wafer(4 + b), 7 + last.first_wafer(b));
  // One file is the plan of old.
  const std::vector<std::uint64_t> one{0};
  const wp::BlockPlan single(offsets, 4, 0.0, one), plain(offsets, 4);
  ASSERT_EQ(single.n_blocks(), plain.n_blocks());
  for (std::uint64_t b = 0; b <= plain.n_blocks(); ++b) EXPECT_EQ(single.first_wafer(b), plain.first_wafer(b));
}

TEST(BlockPlan, FileStartsMustIncreaseFromZero) {
  std::vector<std::uint64_t> offsets{0, 1, 2, 3};
  EXPECT_THROW(wp::BlockPlan(offsets, 1, 0.0, std::vector<std::uint64_t>{1, 2}), wafermill::InputError);
  EXPECT_THROW(wp::BlockPlan(offsets, 1, 0.0, std::vector<std::uint64_t>{0, 2, 1}), wafermill::InputError);
  EXPECT_THROW(wp::BlockPlan(offsets, 1, 0.0, std::vector<std::uint64_t>{0, 4}), wafermill::InputError);
}
