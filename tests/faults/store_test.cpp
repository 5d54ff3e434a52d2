// The result store and the content hashes behind its keys (src/job/content_hash.hpp,
// result_store.hpp), and the parser of the test-only fault injection.
#include <gtest/gtest.h>

#include <unistd.h>
#include <algorithm>
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

// The pack files in the store directory, sorted.
std::vector<fs::path> packs(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("pack-", 0) == 0 && name.size() == 25 && name.ends_with(".wmb"))
      out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// A pack's table as written (result_store.hpp): per entry its key, offset and length.
struct TableRow {
  std::uint64_t key, offset, length;
};
std::vector<TableRow> table_of(const fs::path& pack) {
  std::ifstream f(pack, std::ios::binary);
  std::uint64_t head[4] = {};
  f.read(reinterpret_cast<char*>(head), sizeof head);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(head), 8), "WMPACK04");
  std::vector<TableRow> rows(head[1]);
  f.read(reinterpret_cast<char*>(rows.data()), std::streamsize(rows.size() * sizeof(TableRow)));
  return rows;
}

// Issue 18 item 6: one file per batch, not one per block.
TEST_F(StoreTest, ManyBlocksOfOneBatchLandInOnePack) {
  std::vector<std::uint64_t> offsets;
  for (std::uint64_t w = 0; w <= 100; ++w) offsets.push_back(3 * w);  // 100 wafers
  const partition::BlockPlan plan(offsets, 4);                        // 25 blocks of 4
  ResultStore store(dir_.string(), plan, layout_);
  const BatchResult first = batch(plan, 0, 20), second = batch(plan, 20, 25);
  store.put(first);
  ASSERT_EQ(packs(dir_).size(), 1u);
  const std::vector<TableRow> rows = table_of(packs(dir_)[0]);
  ASSERT_EQ(rows.size(), 20u);
  for (std::uint64_t b = 0; b < 20; ++b) EXPECT_EQ(rows[b].key, 0xABC0 + b);
  EXPECT_EQ(fs::file_size(packs(dir_)[0]), rows.back().offset + rows.back().length);
  store.put(second);
  EXPECT_EQ(packs(dir_).size(), 2u);
  // Besides the packs, only the marker: no entry files, no temporaries.
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir_)) files += e.is_regular_file() ? 1 : 0;
  EXPECT_EQ(files, 3u);
  // Every block back, bit for bit, through a fresh store (the tables read from disk).
  ResultStore again(dir_.string(), plan, layout_);
  std::vector<std::uint64_t> all(25);
  std::iota(all.begin(), all.end(), 0xABC0);
  EXPECT_EQ(again.list(), all);
  EXPECT_TRUE(again.rejected_packs().empty());
  const std::size_t sf = 2 * 3;
  for (std::uint64_t b = 0; b < 25; ++b) {
    const BatchResult& src = b < 20 ? first : second;
    const std::uint64_t w0 = plan.first_wafer(b), n = plan.end_wafer(b) - w0;
    const std::uint64_t at = w0 - src.block.first_wafer;
    BatchResult got;
    std::string why;
    ASSERT_TRUE(again.load(0xABC0 + b, b, got, why)) << why;
    ASSERT_EQ(got.block.values.size(), n * sf);
    EXPECT_EQ(std::memcmp(got.block.values.data(), src.block.values.data() + at * sf,
                          n * sf * sizeof(double)),
              0);
    EXPECT_EQ(std::memcmp(got.block.by_step.data(), src.block.by_step.data() + at * sf * 2,
                          n * sf * 2 * sizeof(double)),
              0);
    EXPECT_EQ(std::memcmp(got.block.moments.data(), src.block.moments.data() + at * 2,
                          n * 2 * sizeof(reduce::Moments)),
              0);
    EXPECT_EQ(got.latency_s, std::vector<double>(n, 0.25));
  }
  // A key given twice within a batch (a file given twice) is stored once.
  BatchResult twice = batch(plan, 0, 2);
  twice.keys[1] = twice.keys[0] = 0x7777;
  store.put(twice);
  EXPECT_EQ(packs(dir_).size(), 3u);
  bool found = false;
  for (const auto& p : packs(dir_))
    if (table_of(p).size() == 1 && table_of(p)[0].key == 0x7777) found = true;
  EXPECT_TRUE(found);
}

TEST_F(StoreTest, DamagedOrForeignEntriesAreRejected) {
  const std::vector<std::uint64_t> offsets = {0, 2, 4, 6, 8, 10, 12};
  const partition::BlockPlan plan(offsets, 2);  // 3 blocks of 2
  ResultStore store(dir_.string(), plan, layout_);
  store.put(batch(plan, 0, 3));
  ASSERT_EQ(packs(dir_).size(), 1u);
  const fs::path pack = packs(dir_)[0];
  const std::vector<TableRow> rows = table_of(pack);
  ASSERT_EQ(rows.size(), 3u);
  const auto poke = [&](std::uint64_t at, const char* bytes, std::size_t n) {
    std::fstream f(pack, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(std::streamoff(at));
    f.write(bytes, std::streamsize(n));
  };
  BatchResult got;
  std::string why;
  // One flipped payload byte of entry 0: that entry alone is refused.
  poke(rows[0].offset + 11 * 8 + 5, "\x7f", 1);
  EXPECT_FALSE(store.load(0xABC0, 0, got, why));
  EXPECT_NE(why.find("checksum mismatch"), std::string::npos) << why;
  EXPECT_NE(why.find(pack.filename().string()), std::string::npos) << why;
  EXPECT_TRUE(store.load(0xABC1, 1, got, why)) << why;
  // An entry of an older store (schema 3's magic) inside a pack: a miss.
  poke(rows[1].offset, "WMSTORE3", 8);
  EXPECT_FALSE(store.load(0xABC1, 1, got, why));
  EXPECT_NE(why.find("header does not match"), std::string::npos) << why;
  // Truncated within the last entry: the entries before it still load, the last is refused.
  poke(rows[1].offset, "WMSTORE4", 8);
  fs::resize_file(pack, rows[2].offset + rows[2].length - 8);
  {
    ResultStore fresh(dir_.string(), plan, layout_);
    EXPECT_EQ(fresh.list(), (std::vector<std::uint64_t>{0xABC0, 0xABC1, 0xABC2}));
    EXPECT_TRUE(fresh.load(0xABC1, 1, got, why)) << why;
    EXPECT_FALSE(fresh.load(0xABC2, 2, got, why));
    EXPECT_NE(why.find("truncated"), std::string::npos) << why;
  }

  // Another layout (one more sensor) reading the same directory: a miss, not a misread.
  features::FeatureLayout wider = layout_;
  wider.n_sensors = 3;
  ResultStore other(dir_.string(), plan, wider);
  EXPECT_FALSE(other.load(0xABC1, 1, got, why));
  EXPECT_NE(why.find("header does not match"), std::string::npos) << why;

  // A second copy of block 0 in another pack: the damaged copy is passed over for the good one.
  store.put(batch(plan, 0, 1));
  {
    ResultStore fresh(dir_.string(), plan, layout_);
    EXPECT_TRUE(fresh.load(0xABC0, 0, got, why)) << why;
  }

  // A damaged table, or a pack cut inside it, or a foreign file under a pack's name: the pack
  // gives no entries, and says why.
  poke(4 * 8 + 8, "\x01", 1);  // entry 0's offset in the table
  {
    ResultStore fresh(dir_.string(), plan, layout_);
    EXPECT_EQ(fresh.list(), (std::vector<std::uint64_t>{0xABC0}));  // from the second pack
    ASSERT_EQ(fresh.rejected_packs().size(), 1u);
    EXPECT_NE(fresh.rejected_packs()[0].find("table checksum mismatch"), std::string::npos)
        << fresh.rejected_packs()[0];
    EXPECT_FALSE(fresh.load(0xABC1, 1, got, why));
  }
  fs::resize_file(pack, 4 * 8 + 10);
  {
    ResultStore fresh(dir_.string(), plan, layout_);
    ASSERT_EQ(fresh.rejected_packs().size(), 1u);
    EXPECT_NE(fresh.rejected_packs()[0].find("truncated table"), std::string::npos);
  }
  std::ofstream(pack, std::ios::trunc) << "WMSTORE3 and then some bytes of another program";
  {
    ResultStore fresh(dir_.string(), plan, layout_);
    ASSERT_EQ(fresh.rejected_packs().size(), 1u);
    EXPECT_NE(fresh.rejected_packs()[0].find("magic"), std::string::npos);
    EXPECT_EQ(fresh.list(), (std::vector<std::uint64_t>{0xABC0}));
  }
}

TEST_F(StoreTest, PruneKeepsExactlyTheRunsKeysAndTemporariesGo) {
  const std::vector<std::uint64_t> offsets = {0, 1, 2, 3, 4, 5, 6};
  const partition::BlockPlan plan(offsets, 2);
  ResultStore store(dir_.string(), plan, layout_);
  const BatchResult all = batch(plan, 0, 3);
  store.put(all);
  BatchResult stale = batch(plan, 2, 3);
  stale.keys[0] = 0xDEAD;  // an older version of block 2
  store.put(stale);
  ASSERT_EQ(packs(dir_).size(), 2u);
  // What a writer killed mid-pack leaves: a part of a pack under its temporary name.
  {
    const fs::path whole = packs(dir_)[0];
    const fs::path part = whole.string() + ".tmp.17";
    fs::copy_file(whole, part);
    fs::resize_file(part, fs::file_size(whole) / 2);
  }
  std::ofstream(dir_ / "entry-000000000000abc1.wmb.tmp.999") << "partial";
  std::ofstream(dir_ / "block-00000000000000000001-000000000000abc1.wmb.tmp.999") << "partial";
  std::ofstream(dir_ / "block-00000000000000000001-000000000000abc1.wmb") << "schema 2";
  std::ofstream(dir_ / "entry-000000000000abc1.wmb") << "schema 3";
  std::ofstream(dir_ / "notes.tmp.1") << "not the store's: kept";
  std::ofstream(dir_ / "entry-notes.wmb") << "not the store's: kept";
  std::ofstream(dir_ / "pack-notes.wmb") << "not the store's: kept";
  EXPECT_EQ(ResultStore(dir_.string(), plan, layout_).list(),
            (std::vector<std::uint64_t>{0xABC0, 0xABC1, 0xABC2, 0xDEAD}));
  EXPECT_EQ(store.remove_temporaries(), 3u);
  EXPECT_EQ(packs(dir_).size(), 2u);
  EXPECT_EQ(store.list(), (std::vector<std::uint64_t>{0xABC0, 0xABC1, 0xABC2, 0xDEAD}));
  // The run's keys, gathered from every rank (repeats allowed: a file given twice): the pack of
  // 0xDEAD and the entries of schemas 2 and 3 go.
  EXPECT_EQ(store.prune({0xABC2, 0xABC0, 0xABC1, 0xABC0}), 3u);
  EXPECT_EQ(store.list(), (std::vector<std::uint64_t>{0xABC0, 0xABC1, 0xABC2}));
  EXPECT_EQ(packs(dir_).size(), 1u);
  EXPECT_FALSE(fs::exists(dir_ / "block-00000000000000000001-000000000000abc1.wmb"));
  EXPECT_FALSE(fs::exists(dir_ / "entry-000000000000abc1.wmb"));
  // A run that lost block 1 and found a new one: two of three entries live, the pack stays.
  const fs::path kept = packs(dir_)[0];
  EXPECT_EQ(store.prune({0xABC0, 0xABC2, 0xBEEF}), 0u);
  EXPECT_EQ(packs(dir_), std::vector<fs::path>{kept});
  // One of three live: rewritten into a pack of that entry alone, loaded bit for bit.
  EXPECT_EQ(store.prune({0xABC2}), 2u);
  ASSERT_EQ(packs(dir_).size(), 1u);
  EXPECT_NE(packs(dir_)[0], kept);
  EXPECT_EQ(table_of(packs(dir_)[0]).size(), 1u);
  EXPECT_EQ(store.list(), (std::vector<std::uint64_t>{0xABC2}));
  BatchResult got;
  std::string why;
  ASSERT_TRUE(store.load(0xABC2, 2, got, why)) << why;
  EXPECT_EQ(std::memcmp(got.block.values.data(), all.block.values.data() + 4 * 6, 2 * 6 * 8), 0);
  EXPECT_EQ(std::memcmp(got.block.moments.data(), all.block.moments.data() + 4 * 2,
                        2 * 2 * sizeof(reduce::Moments)),
            0);
  EXPECT_EQ(store.prune({}), 1u);
  EXPECT_TRUE(store.list().empty());
  EXPECT_TRUE(packs(dir_).empty());
  EXPECT_TRUE(fs::exists(dir_ / "notes.tmp.1"));
  EXPECT_TRUE(fs::exists(dir_ / "entry-notes.wmb"));
  EXPECT_TRUE(fs::exists(dir_ / "pack-notes.wmb"));
  EXPECT_TRUE(fs::exists(dir_ / kStoreMarker));
}

// Several copies of a key (a crash between a prune's rewrite and its removal of the old pack, or
// two batches of the same content): a key counts as live in the newest pack only, and
// after a prune every pack holds at least half live entries, so the dead weight never exceeds
// the live.
TEST_F(StoreTest, PruneLeavesEveryPackAtLeastHalfLive) {
  std::vector<std::uint64_t> offsets;
  for (std::uint64_t w = 0; w <= 40; ++w) offsets.push_back(w);
  const partition::BlockPlan plan(offsets, 4);  // 10 blocks
  ResultStore store(dir_.string(), plan, layout_);
  store.put(batch(plan, 0, 10));
  store.put(batch(plan, 0, 2));  // a second copy of blocks 0-1
  store.put(batch(plan, 2, 4));  // and of blocks 2-3
  ASSERT_EQ(packs(dir_).size(), 3u);
  const auto at_least_half_live = [&](const std::vector<std::uint64_t>& keep) {
    std::vector<std::uint64_t> seen;
    std::size_t stored = 0;
    std::vector<std::pair<fs::file_time_type, fs::path>> by_age;  // newest first, then by name
    for (const auto& p : packs(dir_)) by_age.emplace_back(fs::last_write_time(p), p);
    std::stable_sort(by_age.begin(), by_age.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    for (const auto& [t, p] : by_age) {
      std::size_t live = 0;
      const std::vector<TableRow> rows = table_of(p);
      for (const TableRow& r : rows) {
        if (std::find(keep.begin(), keep.end(), r.key) == keep.end()) continue;
        if (std::find(seen.begin(), seen.end(), r.key) != seen.end()) continue;
        seen.push_back(r.key);
        ++live;
      }
      stored += rows.size();
      EXPECT_GE(2 * live, rows.size()) << p;
    }
    EXPECT_EQ(seen.size(), keep.size());  // every kept key still held
    EXPECT_LE(stored, 2 * keep.size());
  };
  std::vector<std::uint64_t> keep(10);
  std::iota(keep.begin(), keep.end(), 0xABC0);
  store.prune(keep);
  at_least_half_live(keep);
  EXPECT_EQ(store.list(), keep);
  for (const std::size_t n : {4, 3, 1}) {
    keep.resize(n);
    store.prune(keep);
    at_least_half_live(keep);
    const std::vector<std::uint64_t> listed = store.list();  // dead entries of live packs too
    EXPECT_TRUE(std::includes(listed.begin(), listed.end(), keep.begin(), keep.end()));
    for (std::uint64_t b = 0; b < n; ++b) {
      BatchResult got;
      std::string why;
      EXPECT_TRUE(store.load(0xABC0 + b, b, got, why)) << why;
    }
  }
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
