/// @file emulation.hpp
/// @brief The picture kernels run serially on the host: the same kernel_steps.hpp functions,
/// the same plan and finishing code as the CUDA path, one emulated thread visiting the
/// elements in a chosen order (union-find must give the same components whatever the order).
/// tests/pictures compares it with the CPU functions on machines without a GPU.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "map_plan.hpp"
#include "wafermill/pictures/gpu.hpp"

namespace wafermill::pictures::gpu::detail {

/// @brief In which order the emulated thread visits the indices of a step.
enum class ThreadOrder { forward, reverse, scattered };

/// @brief The executor of kernel_steps.hpp's block functions for one host thread.
struct SerialExec {
  ThreadOrder order = ThreadOrder::forward;

  template <class F>
  void for_each(std::uint32_t n, F&& f) const {
    if (order == ThreadOrder::forward) {
      for (std::uint32_t i = 0; i < n; ++i) f(i);
    } else if (order == ThreadOrder::reverse) {
      for (std::uint32_t i = n; i-- > 0;) f(i);
    } else {
      // i ↦ (i · s + n/2) mod n with s odd and coprime to n: a fixed permutation far from
      // scan order.
      std::uint64_t s = 2 * (std::uint64_t{n} / 3) + 1;
      while (n > 1 && gcd(s, n) != 1) s += 2;
      for (std::uint64_t i = 0; i < n; ++i) f(static_cast<std::uint32_t>((i * s + n / 2) % n));
    }
  }
  void sync() const {}
  std::uint64_t sum(std::uint64_t x) const { return x; }
  std::uint64_t max(std::uint64_t x) const { return x; }
  std::uint64_t min(std::uint64_t x) const { return x; }
  bool leader() const { return true; }

 private:
  static std::uint64_t gcd(std::uint64_t a, std::uint64_t b) {
    while (b != 0) {
      const std::uint64_t t = a % b;
      a = b;
      b = t;
    }
    return a;
  }
};

/// @brief map_features_batch on the host (the global-memory path: one work buffer per map).
MapBatchResult emulate_map_batch(std::span<const std::uint8_t> cells,
                                 std::span<const std::uint64_t> offsets,
                                 std::span<const std::uint32_t> rows,
                                 std::span<const std::uint32_t> cols, ThreadOrder order,
                                 std::uint64_t chunk_cells = kMapChunkCells);

/// @brief ImageEngine on the host: the kernels' steps in the engine's order, batch by batch.
class ImageEmulator {
 public:
  ImageEmulator(std::uint32_t height, std::uint32_t width, std::uint32_t channels,
                ThreadOrder order, std::uint32_t batch_images = 0);
  std::size_t values_per_image() const { return values_; }
  std::vector<ChannelStats> add_images(std::span<const std::uint16_t> pixels);
  GoldenSums download_sums() const;
  void set_golden(const GoldenImage& golden, const DefectSettings& settings = {});
  std::vector<ImageScore> score_images(std::span<const std::uint16_t> pixels);

 private:
  std::uint32_t height_, width_, channels_;
  std::size_t positions_, values_;
  SerialExec ex_;
  std::uint32_t batch_;
  std::uint64_t images_ = 0;
  std::vector<double> sum_, sum_sq_, mean_, std_;
  DefectSettings settings_;
  bool golden_ = false;
};

}  // namespace wafermill::pictures::gpu::detail
