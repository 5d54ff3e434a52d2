/// @file picture_kernels.hpp
/// @brief Host entry of the picture kernels (picture_kernels.cu): each call enqueues one step
/// of the map or image path on a stream, asynchronously. The per-thread logic is
/// kernel_steps.hpp's.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "kernel_steps.hpp"

namespace wafermill::pictures::gpu::detail {

/// @brief One launch of the map kernel: maps of one shape, one block each.
struct MapLaunch {
  const std::uint8_t* cells = nullptr;     ///< device: the chunk's cells
  const std::uint64_t* offsets = nullptr;  ///< device: each map's first cell within `cells`
  std::uint32_t n_maps = 0;
  std::uint32_t rows = 0, cols = 0;
  const std::uint8_t* sectors = nullptr;  ///< device: the shape's edge-sector table
  unsigned long long* fleet = nullptr;    ///< device: the shape's fail counts (rows · cols)
  MapCounts* out = nullptr;               ///< device: one per map of the launch
  /// Global-memory path (map_block_bytes(rows·cols) above shared_capacity): `blocks` blocks
  /// loop over the maps, each with its slice of `work`.
  void* work = nullptr;
  std::uint32_t blocks = 0;
};

/// @brief Dynamic shared memory one map block may use on `device` (its opt-in maximum less
/// the kernel's static shared memory). Sets the kernel's attribute on first use.
/// @throws GpuError when a CUDA call fails.
std::size_t map_shared_capacity(int device);

/// @brief Enqueues the map kernel: the global path when a.work is set, else the shared path
/// (one block per map, map_block_bytes(rows·cols) ≤ map_shared_capacity() of dynamic shared
/// memory). @throws GpuError when the launch fails.
void enqueue_maps(const MapLaunch& a, cudaStream_t stream);

/// @brief One batch of images on the device.
struct ImageBatch {
  const std::uint16_t* pixels = nullptr;  ///< count · values_per_image values
  std::uint32_t count = 0;
  std::uint32_t height = 0, width = 0, channels = 1;
};

/// @brief Pass 1: per image and channel sums (out: count · channels) and the golden sums.
void enqueue_stats(const ImageBatch& b, ChannelSums* out, double* sum, double* sum_sq,
                   cudaStream_t stream);

/// @brief Pass 2: deviation mask, union-find labelling of each image (label, size: count ·
/// height · width each) and the per-image summary (out: count).
void enqueue_scores(const ImageBatch& b, const double* mean, const double* std, double k_sigma,
                    double std_floor, std::uint32_t* label, std::uint32_t* size, ImageCounts* out,
                    cudaStream_t stream);

}  // namespace wafermill::pictures::gpu::detail
