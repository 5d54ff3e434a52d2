/// @file pictures_gpu_emulation_test.cpp
/// @brief The CUDA picture path without a GPU: its batch plan, and a host emulation of its
/// kernels (the same kernel_steps.hpp functions, plan and finishing code, one thread visiting
/// the elements forward, backward or scattered) against the CPU functions — counts and every
/// floating feature bit for bit. Runs everywhere; pictures_gpu_test.cpp runs the real kernels.
#include <gtest/gtest.h>

#include <set>

#include "emulation.hpp"
#include "map_plan.hpp"
#include "picture_fixtures.hpp"
#include "wafermill/config.hpp"
#include "wafermill/error.hpp"
#include "wafermill/pictures/picture_math.hpp"

namespace wafermill::pictures {
namespace {

using gpu::detail::ThreadOrder;
using testing::MapSet;

constexpr ThreadOrder kOrders[] = {ThreadOrder::forward, ThreadOrder::reverse,
                                   ThreadOrder::scattered};

gpu::MapBatchResult emulate(const MapSet& s, ThreadOrder order,
                            std::uint64_t chunk = gpu::detail::kMapChunkCells) {
  return gpu::detail::emulate_map_batch(s.cells, s.offsets, s.rows, s.cols, order, chunk);
}

TEST(PicturesGpuEmulation, HandMadeMapsMatchCpu) {
  const MapSet s = testing::hand_made_maps();
  const gpu::MapBatchResult cpu = testing::cpu_batch(s);
  // What the hand-made maps are known to hold, so the comparison is not vacuous.
  EXPECT_EQ(classify_pattern(cpu.features[0]), MapPattern::edge_ring);
  EXPECT_EQ(cpu.features[0].edge_sectors_failing, 8u);
  EXPECT_EQ(classify_pattern(cpu.features[1]), MapPattern::scratch);
  EXPECT_EQ(cpu.features[2].n_clusters, 2u);
  EXPECT_EQ(cpu.features[2].largest_cluster, 3u);
  EXPECT_EQ(cpu.features[3].die_count, 12u);
  EXPECT_EQ(cpu.features[10].n_clusters, 1u);
  EXPECT_EQ(cpu.features[10].largest_cluster, 14u);
  for (const ThreadOrder order : kOrders) {
    SCOPED_TRACE(static_cast<int>(order));
    testing::expect_same_maps(cpu, emulate(s, order));
  }
}

TEST(PicturesGpuEmulation, TieGoesToTheFirstClusterInRowMajorOrder) {
  const MapSet s = testing::hand_made_maps();
  const gpu::MapBatchResult cpu = testing::cpu_batch(s);
  const gpu::MapBatchResult emu = emulate(s, ThreadOrder::reverse);
  // Map 2: the horizontal triple (row 1) comes first; the vertical one (rows 3-5) is further
  // out, so ρ of the centroid tells which one was taken.
  EXPECT_EQ(emu.features[2].largest_rho, cpu.features[2].largest_rho);
  const double cr = 2.5, cc = 3.0;
  const double radius = std::sqrt(cr * cr + cc * cc);
  EXPECT_EQ(emu.features[2].largest_rho, std::hypot(1.0 - cr, 2.0 - cc) / radius);
}

TEST(PicturesGpuEmulation, RandomMapsOfManyShapesMatchCpu) {
  const MapSet s = testing::random_maps(400, 23);
  const gpu::MapBatchResult cpu = testing::cpu_batch(s);
  EXPECT_EQ(cpu.fail_counts.size(), 8u);
  for (const ThreadOrder order : kOrders) {
    SCOPED_TRACE(static_cast<int>(order));
    testing::expect_same_maps(cpu, emulate(s, order));
  }
  // Small chunks: many uploads, shapes split over chunks, fail counts summed across them.
  testing::expect_same_maps(cpu, emulate(s, ThreadOrder::scattered, 3000));
}

TEST(PicturesGpuEmulation, GeneratedMapsOfAllPatternsMatchCpu) {
  const MapSet& s = testing::generated_maps();
  const gpu::MapBatchResult cpu = testing::cpu_batch(s);
  std::set<int> planted(s.truth.begin(), s.truth.end()), found;
  for (const auto& f : cpu.features) found.insert(static_cast<int>(classify_pattern(f)));
  EXPECT_EQ(planted.size(), 9u);
  EXPECT_EQ(found.size(), 9u);
  EXPECT_EQ(cpu.fail_counts.size(), 3u);
  for (const ThreadOrder order : kOrders) {
    SCOPED_TRACE(static_cast<int>(order));
    testing::expect_same_maps(cpu, emulate(s, order, 20000));
  }
}

TEST(PicturesGpuEmulation, ImagesWithPlantedBlobsMatchCpu) {
  for (const std::uint32_t ch : {1U, 3U}) {
    // 60 images: a fleet large enough that one image's blob does not hide in the std it adds.
    const auto images = testing::make_images(23, 37, ch, 60, 5 + ch);
    const auto cpu = testing::cpu_images(images);
    std::uint64_t flagged = 0, blobs = 0;
    for (const auto& sc : cpu.scores) {
      flagged += sc.flagged;
      blobs += sc.blobs;
    }
    EXPECT_GE(flagged, 8u);  // of the 20 planted discs, those of radius ≥ 2 (13 pixels) flag
    EXPECT_GE(blobs, 20u * 4u);
    for (const ThreadOrder order : kOrders) {
      for (const std::uint32_t batch : {1U, 7U, 0U}) {
        SCOPED_TRACE(std::to_string(ch) + " channels, batch " + std::to_string(batch) + ", order " +
                     std::to_string(static_cast<int>(order)));
        gpu::detail::ImageEmulator emu(images.height, images.width, ch, order, batch);
        // Runs of 25 images, as a reader would hand them over.
        std::vector<ChannelStats> stats;
        for (std::size_t first = 0; first < images.n; first += 25) {
          const std::size_t k = std::min<std::size_t>(25, images.n - first);
          const auto part = emu.add_images(std::span<const std::uint16_t>(
              images.pixels.data() + first * images.values(), k * images.values()));
          stats.insert(stats.end(), part.begin(), part.end());
        }
        testing::expect_same_stats(cpu.stats, stats);
        const GoldenSums sums = emu.download_sums();
        testing::expect_same_sums(cpu.sums, sums);
        emu.set_golden(finalize_golden(sums));
        testing::expect_same_scores(cpu.scores, emu.score_images(images.pixels));
      }
    }
  }
}

TEST(PicturesGpuEmulation, PlannedBlobCountsAreExact) {
  // A flat fleet and one image with known blobs: 4-connectivity, no wrap across rows.
  const std::uint32_t h = 8, w = 10;
  std::vector<std::uint16_t> flat(h * w, 50);
  GoldenSums sums(h * w);
  for (int i = 0; i < 4; ++i) sums.add(flat);
  std::vector<std::uint16_t> im = flat;
  for (const std::uint32_t p : {9U, 10U, 22U, 33U, 44U, 45U, 46U, 56U, 79U}) im[p] = 200;
  // Blobs: {9}, {10} (row ends / starts), {22}, {33}, {44, 45, 46, 56}, {79}.
  gpu::detail::ImageEmulator emu(h, w, 1, ThreadOrder::scattered);
  emu.set_golden(finalize_golden(sums));
  const auto score = emu.score_images(im);
  ASSERT_EQ(score.size(), 1u);
  EXPECT_EQ(score[0].beyond, 9u);
  EXPECT_EQ(score[0].blobs, 6u);
  EXPECT_EQ(score[0].largest_blob, 4u);
  EXPECT_FALSE(score[0].flagged);
}

TEST(PicturesGpuPlan, ChunksCoverEveryMapOnceGroupedByShape) {
  const MapSet s = testing::random_maps(300, 4);
  const auto plan = gpu::detail::plan_map_batch(s.cells, s.offsets, s.rows, s.cols, 5000);
  std::vector<int> seen(s.size(), 0);
  std::uint32_t next = 0;
  std::uint64_t wafers = 0;
  for (const auto& chunk : plan.chunks) {
    EXPECT_EQ(chunk.first_map, next);
    EXPECT_GT(chunk.last_map, chunk.first_map);
    EXPECT_EQ(chunk.cell_begin, s.offsets[chunk.first_map]);
    EXPECT_EQ(chunk.cell_end, s.offsets[chunk.last_map]);
    if (chunk.last_map - chunk.first_map > 1) {
      EXPECT_LE(chunk.cell_end - chunk.cell_begin, 5000u);
    }
    next = chunk.last_map;
    for (const auto& g : chunk.groups) {
      const auto& shape = plan.shapes[g.shape];
      for (const auto m : g.maps) {
        ++seen[m];
        EXPECT_GE(m, chunk.first_map);
        EXPECT_LT(m, chunk.last_map);
        EXPECT_EQ(s.rows[m], shape.rows);
        EXPECT_EQ(s.cols[m], shape.cols);
      }
    }
  }
  EXPECT_EQ(next, s.size());
  for (const int k : seen) EXPECT_EQ(k, 1);
  for (const auto& shape : plan.shapes) {
    wafers += shape.wafers;
    for (std::uint32_t r = 0; r < shape.rows; ++r)
      for (std::uint32_t c = 0; c < shape.cols; ++c)
        ASSERT_EQ(shape.sectors[r * shape.cols + c],
                  math::edge_sector(r, c, shape.rows, shape.cols));
  }
  EXPECT_EQ(wafers, s.size());
}

TEST(PicturesGpuPlan, RefusesInconsistentBatches) {
  const std::vector<std::uint8_t> cells = {1, 2, 0, 1, 1, 3};
  const std::vector<std::uint32_t> two = {2, 1}, one = {1};
  const auto plan = [&](std::vector<std::uint64_t> off, std::vector<std::uint32_t> rows,
                        std::vector<std::uint32_t> cols) {
    return gpu::detail::plan_map_batch(cells, off, rows, cols, 1 << 20);
  };
  EXPECT_NO_THROW(plan({0, 4, 5}, {2, 1}, {2, 1}));
  EXPECT_THROW(plan({0, 4, 6}, {2, 1}, {2, 2}), std::invalid_argument);  // the 3
  EXPECT_THROW(plan({0, 4, 5}, {2, 1}, {2, 2}), std::invalid_argument);  // size != rows·cols
  EXPECT_THROW(plan({0, 4}, {2, 1}, {2, 1}), std::invalid_argument);     // offsets too short
  EXPECT_THROW(plan({0, 4, 9}, {2, 1}, {2, 5}), std::invalid_argument);  // beyond the cells
  EXPECT_THROW(plan({0, 4, 5}, {2, 1}, {2}), std::invalid_argument);
}

TEST(PicturesGpu, WithoutDeviceEveryCallIsAUsageError) {
  if (gpu::available()) GTEST_SKIP() << "a CUDA device is visible: pictures_gpu_test covers it";
  EXPECT_EQ(gpu::device_count(), 0);
  const MapSet s = testing::hand_made_maps();
  EXPECT_THROW(gpu::map_features_batch(s.cells, s.offsets, s.rows, s.cols), UsageError);
  EXPECT_THROW(gpu::ImageEngine(8, 8, 1), UsageError);
}

}  // namespace
}  // namespace wafermill::pictures
