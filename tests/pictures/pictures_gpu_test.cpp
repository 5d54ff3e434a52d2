/// @file pictures_gpu_test.cpp
/// @brief The CUDA picture path against the CPU functions on the same inputs: maps of every
/// pattern and many shapes (shared-memory and global-memory blocks), fail counts per shape,
/// image statistics, golden sums (also through the raw device pointers), and scores of images
/// with planted blobs streamed in many batches over the two streams. Counts and floating
/// results must be equal bit for bit. Every test skips when no CUDA device is visible (CI has
/// nvcc but no GPU); pictures_gpu_emulation_test.cpp runs the kernels' logic on the host.
#include <gtest/gtest.h>

#include "picture_fixtures.hpp"
#include "wafermill/config.hpp"
#include "wafermill/pictures/gpu.hpp"

namespace wafermill::pictures {
namespace {

using testing::MapSet;

#define SKIP_WITHOUT_CUDA_DEVICE()                                                        \
  do {                                                                                    \
    if (!WAFERMILL_HAVE_CUDA) GTEST_SKIP() << "no CUDA device: this build has no nvcc";   \
    if (!gpu::available()) {                                                              \
      GTEST_SKIP() << "no CUDA device: cudaGetDeviceCount found none (no GPU or driver)"; \
    }                                                                                     \
  } while (0)

gpu::MapBatchResult on_gpu(const MapSet& s) {
  return gpu::map_features_batch(s.cells, s.offsets, s.rows, s.cols);
}

TEST(PicturesGpu, HandMadeMapsMatchCpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const MapSet s = testing::hand_made_maps();
  testing::expect_same_maps(testing::cpu_batch(s), on_gpu(s));
}

TEST(PicturesGpu, GeneratedMapsOfAllPatternsMatchCpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const MapSet& s = testing::generated_maps();
  testing::expect_same_maps(testing::cpu_batch(s), on_gpu(s));
}

TEST(PicturesGpu, RandomMapsOfManyShapesMatchCpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const MapSet s = testing::random_maps(3000, 29);
  testing::expect_same_maps(testing::cpu_batch(s), on_gpu(s));
}

TEST(PicturesGpu, MapsTooLargeForSharedMemoryTakeTheGlobalPath) {
  SKIP_WITHOUT_CUDA_DEVICE();
  // 9 bytes a cell: 400 × 420 needs 1.5 MB, beyond any GPU's shared memory per block.
  MapSet s = testing::random_maps(20, 31);
  std::mt19937 gen(7);
  for (int k = 0; k < 5; ++k) {
    std::uniform_real_distribution<double> u(0, 1);
    const double p = 0.1 + 0.2 * k;
    s.add(400, 420, testing::disc(400, 420, 205.0, [&](auto, auto, double) { return u(gen) < p; }));
  }
  testing::expect_same_maps(testing::cpu_batch(s), on_gpu(s));
}

TEST(PicturesGpu, FailCountsMergeIntoTheFleetMap) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const MapSet s = testing::random_maps(200, 3);
  const gpu::MapBatchResult gpu = on_gpu(s);
  // Two halves on the GPU, merged, equal the whole batch.
  const std::size_t half = 100;
  MapSet a, b;
  for (std::size_t m = 0; m < s.size(); ++m) {
    const auto v = s.view(m);
    (m < half ? a : b).add(v.rows, v.cols, {v.cells.begin(), v.cells.end()});
  }
  const gpu::MapBatchResult ga = on_gpu(a), gb = on_gpu(b);
  for (const FailCountMap& whole : gpu.fail_counts) {
    FailCountMap merged;
    merged.rows = whole.rows;
    merged.cols = whole.cols;
    for (const auto* part : {&ga, &gb})
      for (const FailCountMap& f : part->fail_counts)
        if (f.rows == whole.rows && f.cols == whole.cols) merged.merge(f);
    EXPECT_EQ(merged.wafers, whole.wafers);
    EXPECT_EQ(merged.fails, whole.fails);
  }
}

void images_match_cpu(std::uint32_t h, std::uint32_t w, std::uint32_t ch, std::size_t n,
                      std::uint32_t batch) {
  const auto images = testing::make_images(h, w, ch, n, 100 + ch + batch);
  const auto cpu = testing::cpu_images(images);
  gpu::ImageEngine engine(h, w, ch, -1, batch);
  ASSERT_EQ(engine.values_per_image(), images.values());
  std::vector<ChannelStats> stats;
  for (std::size_t first = 0; first < n; first += 7) {  // runs of 7 images
    const std::size_t k = std::min<std::size_t>(7, n - first);
    const auto part = engine.add_images(std::span<const std::uint16_t>(
        images.pixels.data() + first * images.values(), k * images.values()));
    stats.insert(stats.end(), part.begin(), part.end());
  }
  EXPECT_EQ(engine.images_summed(), n);
  EXPECT_NE(engine.device_sum(), nullptr);
  EXPECT_NE(engine.device_sum_sq(), nullptr);
  testing::expect_same_stats(cpu.stats, stats);
  const GoldenSums sums = engine.download_sums();
  testing::expect_same_sums(cpu.sums, sums);
  engine.set_golden(finalize_golden(sums));
  testing::expect_same_scores(cpu.scores, engine.score_images(images.pixels));
}

TEST(PicturesGpu, GreyImagesMatchCpuInManyBatches) {
  SKIP_WITHOUT_CUDA_DEVICE();
  images_match_cpu(48, 64, 1, 60, 4);  // 15 batches alternating over the two streams
}

TEST(PicturesGpu, RgbImagesMatchCpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  images_match_cpu(40, 56, 3, 45, 0);
  images_match_cpu(17, 29, 3, 33, 1);
}

TEST(PicturesGpu, LargeImagesMatchCpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  images_match_cpu(512, 640, 1, 30, 7);
}

TEST(PicturesGpu, Uint16ValuesMatchCpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const auto images = testing::make_images(31, 33, 3, 40, 77, 60000);
  const auto cpu = testing::cpu_images(images);
  gpu::ImageEngine engine(31, 33, 3, -1, 2);
  testing::expect_same_stats(cpu.stats, engine.add_images(images.pixels));
  testing::expect_same_sums(cpu.sums, engine.download_sums());
  engine.set_golden(cpu.golden);
  testing::expect_same_scores(cpu.scores, engine.score_images(images.pixels));
}

TEST(PicturesGpu, RefusesPartialImagesAndScoringWithoutGolden) {
  SKIP_WITHOUT_CUDA_DEVICE();
  gpu::ImageEngine engine(4, 5, 1);
  const std::vector<std::uint16_t> px(21, 1);
  EXPECT_THROW(engine.add_images(px), std::invalid_argument);
  EXPECT_THROW(engine.score_images(std::span<const std::uint16_t>(px).first(20)),
               std::invalid_argument);
  EXPECT_THROW(gpu::ImageEngine(4, 5, 2), std::invalid_argument);
}

}  // namespace
}  // namespace wafermill::pictures
