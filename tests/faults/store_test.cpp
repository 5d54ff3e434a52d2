// The result store and the content hashes behind its keys (src/job/content_hash.hpp,
// result_store.hpp), and the parser of the test-only fault injection.
#include <gtest/gtest.h>

#include <unistd.h>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "drive/fault_injection.hpp"
#include "store/content_hash.hpp"
#include "store/result_store.hpp"
#include "store/store_directory.hpp"
#include "wafermill/error.hpp"

namespace wafermill::job {
namespace {

namespace fs = std::filesystem;

TEST(WaferHasher, AnyGroupingOfRowsGivesTheSameHash) {
  // 6 rows x 3 sensors, row-major, hashed as whole rows, in two row groups and row by row (the
  // oversize path's slices).
  std::vector<float> v(18);
  std::iota(v.begin(), v.end(), 0.5f);
  const std::vector<std::int32_t> steps = {0, 0, 1, 1, 2, 2};
  WaferHasher h;
  h.reset(6, 3 * sizeof(float));
  h.add_rows(v.data(), 6);
  h.add_steps(steps);
  const std::uint64_t whole = h.finish();

  h.reset(6, 3 * sizeof(float));
  h.add_rows(v.data(), 2);
  h.add_rows(v.data() + 6, 4);
  h.add_steps(std::span(steps).first(2));
  h.add_steps(std::span(steps).subspan(2));
  EXPECT_EQ(h.finish(), whole);

  h.reset(6, 3 * sizeof(float));
  for (std::size_t r = 0; r < 6; ++r) {
    h.add_rows(v.data() + r * 3, 1);
    h.add_steps(std::span(steps).subspan(r, 1));
  }
  EXPECT_EQ(h.finish(), whole);
}

TEST(WaferHasher, AnyChangedSampleOrStepChangesTheHash) {
  std::vector<double> v(12, 1.0);
  std::vector<std::int32_t> steps(4, 0);
  const auto hash = [&](std::uint64_t rows = 4, std::size_t row_bytes = 3 * sizeof(double)) {
    WaferHasher h;
    h.reset(rows, row_bytes);
    h.add_rows(v.data(), v.size() * sizeof(double) / row_bytes);
    h.add_steps(steps);
    return h.finish();
  };
  const std::uint64_t base = hash();
  for (std::size_t i = 0; i < v.size(); ++i) {
    v[i] = 1.0000000000000002;  // one ulp
    EXPECT_NE(hash(), base) << "sample " << i;
    v[i] = 1.0;
  }
  steps[3] = 1;
  EXPECT_NE(hash(), base);
  steps[3] = 0;
  // Two samples swapped.
  v[0] = 2.0;
  const std::uint64_t changed = hash();
  std::swap(v[0], v[1]);
  EXPECT_NE(hash(), changed);
  v[1] = 1.0;
  // The same bytes as another shape.
  EXPECT_NE(hash(6, 2 * sizeof(double)), base);
  EXPECT_EQ(hash(), base);
}

TEST(BlockKey, ChangesWithAnyInputSample) {
  // A block of two wafers of 4 rows x 2 float32 sensors: changing any one sample (its lowest bit)
  // changes the block's key.
  std::vector<float> v(16);
  std::iota(v.begin(), v.end(), 1.0f);
  const auto key = [&] {
    WaferHasher h;
    std::vector<std::uint64_t> wafers;
    for (std::size_t w = 0; w < 2; ++w) {
      h.reset(4, 2 * sizeof(float));
      h.add_rows(v.data() + w * 8, 4);
      wafers.push_back(h.finish());
    }
    return block_key(42, 0, wafers);
  };
  const std::uint64_t base = key();
  for (std::size_t i = 0; i < v.size(); ++i) {
    const float keep = v[i];
    v[i] = std::nextafter(keep, 1e9f);
    EXPECT_NE(key(), base) << "sample " << i;
    v[i] = keep;
  }
  EXPECT_EQ(key(), base);
}

TEST(BlockKey, DependsOnDigestPositionAndWafers) {
  const std::vector<std::uint64_t> w = {1, 2, 3};
  const std::uint64_t k = block_key(7, 16, w);
  EXPECT_NE(block_key(8, 16, w), k);
  EXPECT_NE(block_key(7, 24, w), k);
  EXPECT_NE(block_key(7, 16, std::vector<std::uint64_t>{1, 2}), k);
  EXPECT_NE(block_key(7, 16, std::vector<std::uint64_t>{1, 3, 2}), k);
  EXPECT_EQ(block_key(7, 16, w), k);
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("wm_store_test_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    layout_.n_sensors = 2;
    layout_.n_steps = 2;
    layout_.features = features::FeatureSet::parse("count,mean,max");
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A batch of blocks [first, end) of `plan` with recognisable values.
  BatchResult batch(const partition::BlockPlan& plan, std::uint64_t first, std::uint64_t end) {
    BatchResult b;
    b.first_block = first;
    b.n_blocks = end - first;
    const std::uint64_t w0 = plan.first_wafer(first), n = plan.first_wafer(end) - w0;
    b.block.reset(w0, n, layout_);
    for (std::size_t i = 0; i < b.block.values.size(); ++i) b.block.values[i] = 1000.0 * w0 + i;
    for (std::size_t i = 0; i < b.block.by_step.size(); ++i) b.block.by_step[i] = -1.0 * i;
    for (std::size_t i = 0; i < b.block.moments.size(); ++i)
      b.block.moments[i] = reduce::single(1000.0 * w0 + double(i));
    b.latency_s.assign(n, 0.25);
    for (std::uint64_t k = first; k < end; ++k) b.keys.push_back(0xABC0 + k);
    return b;
  }

  fs::path dir_;
  features::FeatureLayout layout_;
};

TEST_F(StoreTest, PutThenLoadGivesEachBlockBack) {
  const std::vector<std::uint64_t> offsets = {0, 3, 3, 7, 9, 12, 20, 21};  // 7 wafers
  const partition::BlockPlan plan(offsets, 3);                             // blocks of 3, 3, 1
  ResultStore store(dir_.string(), plan, layout_);
  EXPECT_TRUE(store.list().empty());  // no directory yet
  const BatchResult b = batch(plan, 0, 3);
  store.put(b);
  EXPECT_EQ(store.list(), (std::vector<std::uint64_t>{0xABC0, 0xABC1, 0xABC2}));
  for (std::uint64_t k = 0; k < 3; ++k) {
    BatchResult got;
    std::string why;
    EXPECT_TRUE(store.has(0xABC0 + k));
    ASSERT_TRUE(store.load(0xABC0 + k, k, got, why)) << why;
    const std::uint64_t w0 = plan.first_wafer(k), n = plan.end_wafer(k) - w0;
    EXPECT_EQ(got.first_block, k);
    EXPECT_EQ(got.block.first_wafer, w0);
    EXPECT_EQ(got.block.n_wafers, n);
    const std::size_t sf = 2 * 3;
    for (std::size_t i = 0; i < n * sf; ++i)
      EXPECT_EQ(got.block.values[i], b.block.values[w0 * sf + i]);
    for (std::size_t i = 0; i < n * sf * 2; ++i)
      EXPECT_EQ(got.block.by_step[i], b.block.by_step[w0 * sf * 2 + i]);
    ASSERT_EQ(got.block.moments.size(), n * 2);
    EXPECT_EQ(std::memcmp(got.block.moments.data(), b.block.moments.data() + w0 * 2,
                          n * 2 * sizeof(reduce::Moments)),
              0);
    EXPECT_EQ(got.latency_s, std::vector<double>(n, 0.25));
  }
  BatchResult none;
  std::string why;
  EXPECT_FALSE(store.has(0x1234));
  EXPECT_FALSE(store.load(0x1234, 1, none, why));  // another key: a miss
}

// Issue 19: an entry is found by its key alone, wherever its block sits in the run. Blocks
// written under one plan are found under another whose blocks hold the same content at other
// global indices (files added before them), and an entry is refused for a block of another
// size even when asked for by its key.
TEST_F(StoreTest, EntriesAreFoundByKeyAtAnyBlockIndex) {
  const std::vector<std::uint64_t> offsets = {0, 3, 3, 7, 9, 12, 20, 21};  // 7 wafers
  const partition::BlockPlan plan(offsets, 3);                             // blocks of 3, 3, 1
  {
    ResultStore store(dir_.string(), plan, layout_);
    store.put(batch(plan, 0, 3));
  }
  // Six wafers of another file before the same seven: blocks of 3, 3 | 3, 3, 1.
  std::vector<std::uint64_t> grown = {0, 2, 4, 6, 8, 10, 12};
  for (std::size_t i = 1; i < offsets.size(); ++i) grown.push_back(12 + offsets[i]);
  const partition::BlockPlan later(grown, 3);
  ASSERT_EQ(later.n_blocks(), 5u);
  ResultStore store(dir_.string(), later, layout_);
  const BatchResult original = batch(plan, 0, 3);
  for (std::uint64_t k = 0; k < 3; ++k) {
    const std::uint64_t b = k + 2;  // where block k now sits
    BatchResult got;
    std::string why;
    ASSERT_TRUE(store.has(0xABC0 + k));
    ASSERT_TRUE(store.load(0xABC0 + k, b, got, why)) << why;
    EXPECT_EQ(got.first_block, b);
    EXPECT_EQ(got.block.first_wafer, later.first_wafer(b));
    EXPECT_EQ(got.block.n_wafers, later.end_wafer(b) - later.first_wafer(b));
    const std::uint64_t w0 = plan.first_wafer(k);
    EXPECT_EQ(got.block.values[0], original.block.values[w0 * 6]);
    EXPECT_EQ(got.block.moments[0].mean, original.block.moments[w0 * 2].mean);
  }
  // The key of a 3-wafer block asked for as the 1-wafer block 4: refused, not misread.
  BatchResult got;
  std::string why;
  EXPECT_FALSE(store.load(0xABC0, 4, got, why));
  EXPECT_NE(why.find("header does not match block 4"), std::string::npos) << why;
}

TEST_F(StoreTest, DamagedOrForeignEntriesAreRejected) {
  const std::vector<std::uint64_t> offsets = {0, 2, 4, 6, 8};
  const partition::BlockPlan plan(offsets, 2);
  ResultStore store(dir_.string(), plan, layout_);
  store.put(batch(plan, 0, 2));
  const auto entry = [&](std::uint64_t b) {
    return dir_ / ("entry-000000000000abc" + std::to_string(b) + ".wmb");
  };
  {  // one flipped payload byte
    std::fstream f(entry(0), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(120);
    f.put('\x7f');
  }
  BatchResult got;
  std::string why;
  ASSERT_TRUE(fs::exists(entry(0)));
  EXPECT_FALSE(store.load(0xABC0, 0, got, why));
  EXPECT_NE(why.find("checksum mismatch"), std::string::npos) << why;
  fs::resize_file(entry(1), 100);  // a whole header, half a payload
  EXPECT_FALSE(store.load(0xABC1, 1, got, why));
  EXPECT_NE(why.find("wrong size"), std::string::npos) << why;

  // Another layout (one more sensor) reading the same directory: a miss, not a misread.
  features::FeatureLayout wider = layout_;
  wider.n_sensors = 3;
  ResultStore other(dir_.string(), plan, wider);
  store.put(batch(plan, 1, 2));
  EXPECT_FALSE(other.load(0xABC1, 1, got, why));
  EXPECT_NE(why.find("header does not match"), std::string::npos) << why;

  // An entry of an older store (schema 1 or 2) under a matching name: a miss.
  store.put(batch(plan, 0, 1));
  ASSERT_TRUE(store.load(0xABC0, 0, got, why)) << why;
  {
    std::fstream f(entry(0), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(0);
    f.write("WMSTORE2", 8);
  }
  EXPECT_FALSE(store.load(0xABC0, 0, got, why));
  EXPECT_NE(why.find("header does not match"), std::string::npos) << why;
}

TEST_F(StoreTest, PruneKeepsExactlyTheRunsKeysAndTemporariesGo) {
  const std::vector<std::uint64_t> offsets = {0, 1, 2, 3, 4, 5, 6};
  const partition::BlockPlan plan(offsets, 2);
  ResultStore store(dir_.string(), plan, layout_);
  store.put(batch(plan, 0, 3));
  BatchResult stale = batch(plan, 2, 3);
  stale.keys[0] = 0xDEAD;  // an older version of block 2
  store.put(stale);
  std::ofstream(dir_ / "entry-000000000000abc1.wmb.tmp.999") << "partial";
  std::ofstream(dir_ / "block-00000000000000000001-000000000000abc1.wmb.tmp.999") << "partial";
  std::ofstream(dir_ / "block-00000000000000000001-000000000000abc1.wmb") << "schema 2";
  std::ofstream(dir_ / "notes.tmp.1") << "not the store's: kept";
  std::ofstream(dir_ / "entry-notes.wmb") << "not the store's: kept";
  EXPECT_EQ(store.remove_temporaries(), 2u);
  EXPECT_EQ(store.list(), (std::vector<std::uint64_t>{0xABC0, 0xABC1, 0xABC2, 0xDEAD}));
  // The run's keys, gathered from every rank (repeats allowed: a file given twice).
  EXPECT_EQ(store.prune({0xABC2, 0xABC0, 0xABC1, 0xABC0}), 2u);  // 0xDEAD and the schema-2 entry
  EXPECT_EQ(store.list(), (std::vector<std::uint64_t>{0xABC0, 0xABC1, 0xABC2}));
  EXPECT_FALSE(fs::exists(dir_ / "block-00000000000000000001-000000000000abc1.wmb"));
  // A run that lost block 1 and found a new one: exactly its keys remain.
  EXPECT_EQ(store.prune({0xABC0, 0xABC2, 0xBEEF}), 1u);
  EXPECT_EQ(store.list(), (std::vector<std::uint64_t>{0xABC0, 0xABC2}));
  EXPECT_EQ(store.prune({}), 2u);
  EXPECT_TRUE(store.list().empty());
  EXPECT_TRUE(fs::exists(dir_ / "notes.tmp.1"));
  EXPECT_TRUE(fs::exists(dir_ / "entry-notes.wmb"));
  EXPECT_TRUE(fs::exists(dir_ / kStoreMarker));
}

TEST(FaultInjection, ParsesAndRejects) {
  EXPECT_TRUE(FaultInjection::parse("kill:rank=1:after_units=2", 1).active());
  EXPECT_FALSE(FaultInjection::parse("kill:rank=1:after_units=2", 0).active());
  EXPECT_TRUE(FaultInjection::parse("delay:rank=all:ms=5", 3).active());
  EXPECT_TRUE(FaultInjection::parse("hang:rank=0,kill:rank=2", 2).active());
  EXPECT_THROW(FaultInjection::parse("explode:rank=1", 1), UsageError);
  EXPECT_THROW(FaultInjection::parse("kill:after_units=1", 1), UsageError);
  EXPECT_THROW(FaultInjection::parse("kill:rank=x", 1), UsageError);
  EXPECT_THROW(FaultInjection::parse("kill:rank=1:when=now", 1), UsageError);
  // Delays apply at every unit and return.
  FaultInjection::parse("delay:rank=0:ms=1", 0).at_unit_start(0);
}

}  // namespace
}  // namespace wafermill::job
