/// @file chunk_advice_test.cpp
/// @brief chunking_warnings: which chunk shapes of /traces/values are warned about, and what
/// the warning says; the index carries the chunk shape to it.
#include <gtest/gtest.h>

#include "sample_files.hpp"
#include "wafermill/format/chunk_advice.hpp"
#include "wafermill/format/h5.hpp"
#include "wafermill/format/trace_index.hpp"

namespace wafermill::format {
namespace {

/// An index of `rows` x `sensors` float32 samples stored in chunks of chunk_rows x chunk_cols
/// (0 x 0: contiguous).
TraceIndex index_of(std::uint64_t rows, std::uint64_t sensors, std::uint64_t chunk_rows,
                    std::uint64_t chunk_cols, bool filtered = false) {
  TraceIndex t;
  t.path = "data.h5";
  t.n_samples = rows;
  t.n_sensors = sensors;
  t.n_wafers = 1;
  t.offsets = {0, rows};
  t.values_chunked = chunk_rows > 0;
  t.values_filtered = filtered;
  t.values_chunk_rows = chunk_rows;
  t.values_chunk_cols = chunk_cols;
  return t;
}

bool contains(const std::string& s, const std::string& needle) {
  return s.find(needle) != std::string::npos;
}

TEST(ChunkAdvice, OneRowChunksAreWarnedAboutWithShapeBytesAndFix) {
  const auto w = chunking_warnings(index_of(500000, 16, 1, 16));
  ASSERT_EQ(w.size(), 1u);
  EXPECT_TRUE(contains(w[0], "data.h5: /traces/values is stored in chunks of 1x16")) << w[0];
  EXPECT_TRUE(contains(w[0], "64 bytes per chunk, 500000 chunks")) << w[0];
  // 16 sensors x 4 bytes = 64 bytes a row: 16384 rows make 1 MiB.
  EXPECT_TRUE(contains(w[0], "h5repack -l /traces/values:CHUNK=16384x16 data.h5 OUT.h5")) << w[0];
  EXPECT_TRUE(contains(w[0], "1 MiB per chunk")) << w[0];
  EXPECT_TRUE(contains(w[0], "h5repack -l /traces/values:CONTI data.h5 OUT.h5")) << w[0];
}

TEST(ChunkAdvice, ContiguousAndLargeChunksAreNot) {
  EXPECT_TRUE(chunking_warnings(index_of(500000, 16, 0, 0)).empty());
  EXPECT_TRUE(chunking_warnings(index_of(500000, 16, 4096, 16)).empty());  // 256 KiB
  EXPECT_TRUE(chunking_warnings(index_of(500000, 16, 256, 16)).empty());   // 16 KiB
}

TEST(ChunkAdvice, ThresholdIsOnBytesPerChunk) {
  // 255 rows x 16 x 4 bytes is just under kSlowChunkBytes.
  EXPECT_EQ(chunking_warnings(index_of(500000, 16, 255, 16)).size(), 1u);
  // Wide rows: 4 rows of 1024 float32 sensors hold 16 KiB, enough.
  EXPECT_TRUE(chunking_warnings(index_of(500000, 1024, 4, 1024)).empty());
}

TEST(ChunkAdvice, ChunksAcrossTheRowsAreNamedAsSuch) {
  // One sensor column of 1024 rows: 4 KiB per chunk, 16 chunks for every row block.
  const auto w = chunking_warnings(index_of(500000, 16, 1024, 1));
  ASSERT_EQ(w.size(), 1u);
  EXPECT_TRUE(contains(w[0], "chunks of 1024x1 (4 KiB per chunk")) << w[0];
  EXPECT_TRUE(contains(w[0], "each chunk holds 1 of 16 sensor columns")) << w[0];
  EXPECT_TRUE(contains(w[0], "CHUNK=16384x16")) << w[0];
}

TEST(ChunkAdvice, CompressedDataIsNotToldToGoContiguous) {
  const auto w = chunking_warnings(index_of(500000, 16, 1, 16, true));
  ASSERT_EQ(w.size(), 1u);
  EXPECT_TRUE(contains(w[0], "CHUNK=16384x16")) << w[0];
  EXPECT_FALSE(contains(w[0], "CONTI")) << w[0];
}

TEST(ChunkAdvice, SmallDatasetsAreNot) {
  // 31 rows x 4 float32: 496 bytes in all, whatever the chunks.
  EXPECT_TRUE(chunking_warnings(index_of(31, 4, 1, 4)).empty());
  EXPECT_TRUE(chunking_warnings(index_of(0, 4, 1, 4)).empty());
}

TEST(ChunkAdvice, AnAbsurdIndexGetsNoAdviceAndNoOverflow) {
  EXPECT_TRUE(chunking_warnings(index_of(1ULL << 62, 1ULL << 40, 1, 1)).empty());
}

TEST(ChunkAdvice, SuggestionIsCappedByTheRows) {
  const ChunkShape s = suggest_chunk(index_of(2000, 4, 1, 4));
  EXPECT_EQ(s.rows, 2000u);
  EXPECT_EQ(s.cols, 4u);
  const ChunkShape f64 = suggest_chunk(index_of(1u << 30, 1, 1, 1));
  EXPECT_EQ(f64.rows, 262144u);  // 1 MiB of float32
}

TEST(ChunkAdvice, IndexReadsAndBroadcastsTheChunkShape) {
  const std::string path = testing::temp_path("chunk_shape.h5");
  {
    h5::File file = h5::File::create(path);
    h5::Group traces = file.create_group("traces");
    h5::DatasetOptions opt;
    opt.chunk = {1, 2};
    h5::Dataset values = traces.create_dataset("values", h5::Elem::f32, {6000, 3}, opt);
    values.write_all(std::span<const float>(std::vector<float>(6000 * 3, 1.0f)));
    const std::vector<std::int64_t> offsets{0, 6000};
    traces.create_dataset("offsets", h5::Elem::i64, {2}).write_all(
        std::span<const std::int64_t>(offsets));
  }
  const TraceIndex idx = read_trace_index(path);
  EXPECT_EQ(idx.values_chunk_rows, 1u);
  EXPECT_EQ(idx.values_chunk_cols, 2u);
  const TraceIndex copy = TraceIndex::deserialize(idx.serialize());
  EXPECT_EQ(copy.values_chunk_cols, 2u);
  const auto w = chunking_warnings(copy);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_TRUE(contains(w[0], "chunks of 1x2 (8 bytes per chunk, 12000 chunks")) << w[0];
  EXPECT_TRUE(contains(w[0], "each chunk holds 2 of 3 sensor columns")) << w[0];
}

}  // namespace
}  // namespace wafermill::format
