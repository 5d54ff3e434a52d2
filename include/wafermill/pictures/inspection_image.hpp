/// @file inspection_image.hpp
/// @brief Inspection images: per-image channel statistics, the golden image (per-pixel mean
/// and standard deviation over a product's images) and the defect score of one image
/// against it. Formulas: docs/PICTURES.md.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "wafermill/pictures/components.hpp"

namespace wafermill::pictures {

/// @brief One image: height × width pixels of `channels` (1 or 3) interleaved values, held
/// as uint16 whatever the stored type (uint8 values convert exactly).
struct ImageView {
  std::span<const std::uint16_t> pixels;
  std::uint32_t height = 0, width = 0, channels = 1;
};

/// @brief Statistics of one channel of one image.
struct ChannelStats {
  double mean = 0.0;
  double std = 0.0;  ///< population standard deviation
  std::uint16_t min = 0, max = 0;
};

/// @brief Statistics of each channel, computed from exact integer sums.
/// @throws std::invalid_argument if pixels.size() != height * width * channels or channels is
/// not 1 or 3.
std::vector<ChannelStats> image_stats(const ImageView& image);

/// @brief Per-pixel Σx and Σx² over images of one shape, in double. Pixel values are integers
/// below 2^16, so every partial sum is an integer and exact while below 2^53: the reduction
/// gives the same bits in any order and over any number of ranks (kMaxGoldenImages bounds n).
struct GoldenSums {
  std::uint64_t images = 0;
  std::vector<double> sum, sum_sq;  ///< height * width * channels each

  /// @brief Zero sums for `values` pixel values per image.
  explicit GoldenSums(std::size_t values = 0) : sum(values, 0.0), sum_sq(values, 0.0) {}
  /// @brief Adds one image. @throws std::invalid_argument on a size mismatch.
  void add(std::span<const std::uint16_t> pixels);
};

/// @brief Images one golden image may average: n · 65535² < 2^53 keeps Σx² exact.
inline constexpr std::uint64_t kMaxGoldenImages = (1ULL << 53) / (65535ULL * 65535ULL);

/// @brief The golden image: per-pixel mean and population standard deviation.
struct GoldenImage {
  std::uint64_t images = 0;
  std::vector<double> mean, std;
};

/// @brief Mean Σx/n and std sqrt(n·Σx² − (Σx)²)/n, the numerator formed exactly in 128-bit
/// integers (no cancellation). @throws std::invalid_argument if sums.images == 0 or the sums
/// are not exact integers.
GoldenImage finalize_golden(const GoldenSums& sums);

/// @brief How an image is scored against the golden image.
struct DefectSettings {
  double k_sigma = 5.0;      ///< a value deviates when |x − mean| > k · max(std, std_floor)
  double std_floor = 2.0;    ///< grey levels: keeps constant pixels from flagging on ±1 noise
  std::uint64_t min_blob = 6;  ///< an image is flagged when its largest blob has this many pixels
};

/// @brief What scoring one image found.
struct ImageScore {
  std::uint64_t beyond = 0;  ///< pixels where any channel deviates
  std::uint64_t blobs = 0;   ///< 4-connected blobs of such pixels
  std::uint64_t largest_blob = 0;
  bool flagged = false;      ///< largest_blob ≥ min_blob
};

/// @brief Scores one image against `golden`. `mask` and `scratch` are reused buffers.
/// @throws std::invalid_argument on a size mismatch.
ImageScore score_image(const ImageView& image, const GoldenImage& golden,
                       const DefectSettings& settings, std::vector<std::uint8_t>& mask,
                       std::vector<std::uint32_t>& scratch);

}  // namespace wafermill::pictures
