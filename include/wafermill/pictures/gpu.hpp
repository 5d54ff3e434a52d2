/// @file gpu.hpp
/// @brief The CUDA path of the picture features: die maps in batches (one thread block per
/// map) and inspection images streamed through an ImageEngine (two streams, pinned staging).
/// Results equal the CPU functions of die_map.hpp and inspection_image.hpp: counts exactly,
/// floating features bitwise (docs/PICTURES.md "CUDA"). The sources come from
/// src/pictures/cuda/ when the build has nvcc and from src/pictures/gpu_stub.cpp otherwise
/// (available() false, everything else throws UsageError), so callers need no #ifdef.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "wafermill/pictures/die_map.hpp"
#include "wafermill/pictures/inspection_image.hpp"

namespace wafermill::pictures::gpu {

/// @brief True when this build has CUDA and at least one device is visible.
bool available();

/// @brief CUDA devices visible to this process; 0 without CUDA (never throws).
int device_count();

/// @brief Features of a batch of maps and their fail counts per shape.
struct MapBatchResult {
  std::vector<MapFeatures> features;      ///< one per map, in input order
  std::vector<FailCountMap> fail_counts;  ///< one per distinct shape, in first-appearance order
};

/// @brief Features of maps [0, rows.size()): map m is cells[offsets[m], offsets[m+1]), a
/// rows[m] × cols[m] grid (offsets relative to `cells`). Each features[m] equals
/// map_features() of that map bit for bit; fail_counts hold per shape the sum of
/// FailCountMap::add over its maps (merge them into the fleet's with FailCountMap::merge).
/// `device`: CUDA device ordinal, −1 for the calling thread's current device.
/// @throws std::invalid_argument for inconsistent offsets, rows or cols, or a cell above 2;
/// UsageError when this build has no CUDA, or no device is visible for a non-empty batch;
/// GpuError when a CUDA call fails.
MapBatchResult map_features_batch(std::span<const std::uint8_t> cells,
                                  std::span<const std::uint64_t> offsets,
                                  std::span<const std::uint32_t> rows,
                                  std::span<const std::uint32_t> cols, int device = -1);

/// @brief Statistics, golden sums and scores of images of one shape on one device. Images are
/// passed in runs of any length (n · values_per_image() values); each run is cut into batches
/// that alternate between two streams, so the upload of batch k+1 overlaps the kernels of
/// batch k. Calls return when their results are on the host.
class ImageEngine {
 public:
  /// @brief An engine for height × width images of `channels` (1 or 3) values; `device` as
  /// for map_features_batch; `batch_images` per batch (0: as many as fit 64 MiB of pixels).
  /// @throws std::invalid_argument for a bad shape (an image of 0 or ≥ 2^32 − 1 pixels);
  /// UsageError without CUDA or a visible device; GpuError when a CUDA call fails.
  ImageEngine(std::uint32_t height, std::uint32_t width, std::uint32_t channels, int device = -1,
              std::uint32_t batch_images = 0);
  ~ImageEngine();
  ImageEngine(const ImageEngine&) = delete;
  ImageEngine& operator=(const ImageEngine&) = delete;
  ImageEngine(ImageEngine&&) noexcept;
  ImageEngine& operator=(ImageEngine&&) noexcept;

  /// @brief height · width · channels.
  std::size_t values_per_image() const;

  /// @brief Pass 1: per image and channel statistics (image_stats(), flattened [image][channel])
  /// of the run, whose images are also added to the device's golden sums.
  /// @throws std::invalid_argument unless pixels.size() is a multiple of values_per_image().
  std::vector<ChannelStats> add_images(std::span<const std::uint16_t> pixels);
  /// @brief Images added by add_images() on this engine.
  std::uint64_t images_summed() const;
  /// @brief The device's per-value Σx and Σx² (values_per_image() doubles each, exact
  /// integers), for an in-place NCCL all-reduce on the engine's device. Complete whenever no
  /// engine call is running.
  double* device_sum();
  double* device_sum_sq();
  /// @brief The device sums as GoldenSums (images = images_summed(); after an all-reduce the
  /// caller sets the fleet's count).
  GoldenSums download_sums() const;

  /// @brief Uploads the golden image and the scoring settings for pass 2.
  /// @throws std::invalid_argument for a golden image of another size.
  void set_golden(const GoldenImage& golden, const DefectSettings& settings = {});
  /// @brief Pass 2: score_image() of each image of the run against the golden image.
  /// @throws std::invalid_argument before set_golden() or for a partial image.
  std::vector<ImageScore> score_images(std::span<const std::uint16_t> pixels);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wafermill::pictures::gpu
