// KeptRows (src/job/kept_rows.hpp): the scoring pass reads a rank's rows from memory while they
// fit the limit, and from the output file once they do not; the limit (worker.hpp
// budget_left_by_worker) is what the memory budget leaves beside the worker's buffers.
#include "kept_rows.hpp"
#include "scoring.hpp"
#include "worker.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

namespace wj = wafermill::job;

namespace {

std::vector<double> rows(std::uint64_t first, std::uint64_t n, std::size_t columns) {
  std::vector<double> v(n * columns);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(first * columns + i) + 0.5;
  return v;
}

std::vector<double> values_of(const wj::KeptRows::Run& r) {
  return std::vector<double>(r.values.begin(), r.values.end());
}

}  // namespace

TEST(KeptRows, HoldsEveryRunAsAddedWithinTheLimit) {
  constexpr std::size_t C = 3;
  // Exactly the limit: 10 rows of 3 doubles = 240 bytes.
  wj::KeptRows kept(C, 10 * C * sizeof(double));
  const auto a = rows(0, 4, C), b = rows(7, 6, C);
  kept.add(0, 4, a);
  kept.add(7, 6, b);
  ASSERT_TRUE(kept.complete());
  EXPECT_EQ(kept.bytes(), 10 * C * sizeof(double));
  EXPECT_EQ(kept.wafers(), 10u);
  ASSERT_EQ(kept.runs().size(), 2u);
  EXPECT_EQ(kept.runs()[0].first_wafer, 0u);
  EXPECT_EQ(kept.runs()[0].n, 4u);
  EXPECT_EQ(values_of(kept.runs()[0]), a);
  EXPECT_EQ(kept.runs()[1].first_wafer, 7u);
  EXPECT_EQ(kept.runs()[1].n, 6u);
  EXPECT_EQ(values_of(kept.runs()[1]), b);
}

TEST(KeptRows, KeepsTheLeadingRunsAndLeavesTheRestToTheFile) {
  constexpr std::size_t C = 2;
  wj::KeptRows kept(C, 5 * C * sizeof(double));
  const auto a = rows(0, 3, C);
  kept.add(0, 3, a);
  ASSERT_TRUE(kept.complete());
  kept.add(3, 3, rows(3, 3, C));  // 6 rows > 5: this run and the later ones from the file
  EXPECT_FALSE(kept.complete());
  ASSERT_EQ(kept.runs().size(), 1u);
  EXPECT_EQ(values_of(kept.runs()[0]), a);
  EXPECT_EQ(kept.wafers(), 3u);
  EXPECT_EQ(kept.bytes(), 3 * C * sizeof(double));
  kept.add(6, 1, rows(6, 1, C));  // would fit: still the file, or the kept rows would not lead
  EXPECT_FALSE(kept.complete());
  EXPECT_EQ(kept.runs().size(), 1u);
  EXPECT_EQ(kept.wafers(), 3u);
}

// Runs of 8 MiB into 32 MiB arenas: the fifth run opens a second arena, and every run still
// reads as added (the arenas never move their values).
TEST(KeptRows, RunsStayIntactAcrossArenas) {
  constexpr std::size_t C = 1024;
  constexpr std::uint64_t kRun = 1024;  // rows: 8 MiB
  wj::KeptRows kept(C, 6 * kRun * C * sizeof(double));
  std::vector<std::vector<double>> added;
  for (std::uint64_t k = 0; k < 6; ++k) {
    added.push_back(rows(k * kRun, kRun, C));
    kept.add(k * kRun, kRun, added.back());
  }
  ASSERT_TRUE(kept.complete());
  ASSERT_EQ(kept.runs().size(), 6u);
  for (std::size_t k = 0; k < 6; ++k) {
    EXPECT_EQ(kept.runs()[k].first_wafer, k * kRun);
    EXPECT_EQ(values_of(kept.runs()[k]), added[k]) << "run " << k;
  }
}

TEST(KeptRows, NoLimitNeverKeepsAndSizesAreChecked) {
  wj::KeptRows none(4, 0);
  EXPECT_FALSE(none.complete());
  none.add(0, 1, rows(0, 1, 4));
  EXPECT_TRUE(none.runs().empty());
  EXPECT_EQ(none.wafers(), 0u);
  wj::KeptRows kept(4, 1 << 20);
  EXPECT_THROW(kept.add(0, 2, rows(0, 1, 4)), std::invalid_argument);
  kept.add(5, 0, {});
  EXPECT_TRUE(kept.complete());
  EXPECT_TRUE(kept.runs().empty());
}

namespace {

// An index of `wafers` wafers of `rows` rows of 16 float32 sensors, one longer wafer of `longest`.
wafermill::format::TraceIndex index_of(std::uint64_t wafers, std::uint64_t rows,
                                       std::uint64_t longest) {
  wafermill::format::TraceIndex index;
  index.n_sensors = 16;
  index.value_type = wafermill::format::ValueType::float32;
  index.n_wafers = wafers;
  index.offsets.assign(1, 0);
  for (std::uint64_t w = 0; w < wafers; ++w)
    index.offsets.push_back(index.offsets.back() + (w == wafers / 2 ? longest : rows));
  return index;
}

}  // namespace

TEST(ScoringRowsBudget, TheBudgetLessSamplesOneBatchAndTheBackendsScratch) {
  wj::JobConfig config;
  config.memory_budget_bytes = 256ULL << 20;
  // 8 MiB chunks, an 8 MiB batch, 32 MiB of scratch: 208 MiB left (1 GB uniform-raw's 49 MB
  // of rows are kept at the default budget).
  EXPECT_EQ(wj::budget_left_by_worker(index_of(32000, 500, 500), config), 208ULL << 20);
  // A wafer of 4 Mi rows × 64 bytes (256 MiB) is read a column at a time within the read
  // budget (128 MiB): samples take the whole half, 88 MiB left.
  EXPECT_EQ(wj::budget_left_by_worker(index_of(100, 500, 4ULL << 20), config), 88ULL << 20);
  // A small budget: half samples, a quarter batch, an eighth scratch: an eighth left.
  config.memory_budget_bytes = 1ULL << 20;
  EXPECT_EQ(wj::budget_left_by_worker(index_of(400, 300, 300), config), 128ULL << 10);
}

TEST(ScoringRowsBudget, KeptAndReadRowsTakeAnEighthOfTheBudget) {
  // The default budget: 4 MiB read at a time, 28 MiB kept; a small one: a 32nd read.
  EXPECT_EQ(wj::scoring_chunk_bytes(256ULL << 20), 4ULL << 20);
  EXPECT_EQ(wj::scoring_kept_bytes(256ULL << 20), 28ULL << 20);
  EXPECT_EQ(wj::scoring_chunk_bytes(1ULL << 20), 32ULL << 10);
  EXPECT_EQ(wj::scoring_kept_bytes(1ULL << 20), 96ULL << 10);
  for (std::uint64_t mib : {1, 7, 64, 256, 4096})
    EXPECT_EQ(wj::scoring_chunk_bytes(mib << 20) + wj::scoring_kept_bytes(mib << 20),
              (mib << 20) / 8);
}
