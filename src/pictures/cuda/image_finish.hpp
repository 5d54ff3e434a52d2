/// @file image_finish.hpp
/// @brief Host side of the image path, plain C++: the statistics and scores of image_stats()
/// and score_image() formed from the kernels' integer results with the CPU's formulas.
#pragma once

#include <cstdint>

#include "kernel_steps.hpp"
#include "wafermill/pictures/inspection_image.hpp"

namespace wafermill::pictures::gpu::detail {

/// @brief image_stats()' ChannelStats from exact sums over `n` values of one channel.
inline ChannelStats finish_channel(const ChannelSums& s, std::uint64_t n) {
  ChannelStats out;
  if (n == 0) return out;
  const math::U128 sum = s.sum, sum_sq = s.sum_sq;
  out.mean = static_cast<double>(sum) / static_cast<double>(n);
  out.std = math::exact_std(n, sum, sum_sq);
  out.min = static_cast<std::uint16_t>(s.min);
  out.max = static_cast<std::uint16_t>(s.max);
  return out;
}

/// @brief score_image()'s ImageScore from the summary counts.
inline ImageScore finish_score(const ImageCounts& c, const DefectSettings& settings) {
  ImageScore s;
  s.beyond = c.beyond;
  s.blobs = c.blobs;
  s.largest_blob = c.largest;
  s.flagged = s.largest_blob >= settings.min_blob;
  return s;
}

/// @brief Images per batch: `requested`, or (0) as many as fit 64 MiB of uint16 values; at
/// most 4096 and fewer than 2^31 values per batch (32-bit element indices).
inline std::uint32_t batch_images_for(std::uint64_t values_per_image, std::uint32_t requested) {
  std::uint64_t n = requested > 0 ? requested : (std::uint64_t{64} << 20) / (2 * values_per_image);
  const std::uint64_t cap = ((1ULL << 31) - 1) / values_per_image;
  if (n > cap) n = cap;
  if (n > 4096) n = 4096;
  return static_cast<std::uint32_t>(n < 1 ? 1 : n);
}

}  // namespace wafermill::pictures::gpu::detail
