/// @file image_index.hpp
/// @brief The index of the inspection images of a file (docs/FORMAT.md "Maps and images"):
/// their shape and stored type, and which wafer each image shows.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace wafermill::format {

/// @brief Largest accepted height or width of an image.
inline constexpr std::uint64_t kMaxImageSide = 1U << 16;
/// @brief Largest accepted values (height · width · channels) of one image: 2^28, so one image
/// and the golden sums stay far below any rank's memory and MPI's int counts.
inline constexpr std::uint64_t kMaxImageValues = 1ULL << 28;

/// @brief Shape and type of /images/pixels, and /images/wafer.
struct ImageIndex {
  std::string path;
  std::uint64_t n_images = 0;
  std::uint32_t height = 0, width = 0;
  std::uint32_t channels = 1;         ///< 1 (grey, rank 3) or 3 (RGB, rank 4)
  std::uint32_t bytes_per_value = 1;  ///< 1 (uint8) or 2 (uint16)
  std::vector<std::int64_t> wafer;    ///< n_images wafer ids

  /// @brief Values of one image: height · width · channels.
  std::uint64_t values_per_image() const { return std::uint64_t(height) * width * channels; }
  /// @brief Stored bytes of one image.
  std::uint64_t image_bytes() const { return values_per_image() * bytes_per_value; }
  /// @brief Flat encoding for broadcasting (the path is not sent).
  std::vector<std::uint64_t> serialize() const;
  /// @brief Inverse of serialize(). @throws std::runtime_error on a malformed buffer.
  static ImageIndex deserialize(std::span<const std::uint64_t> words, std::string path);
};

/// @brief Reads and validates /images of `path`: /images/pixels uint8 or uint16
/// [n_images, height, width] or [n_images, height, width, 3] with 1 ≤ height, width ≤
/// kMaxImageSide and at most kMaxImageValues per image; /images/wafer integer [n_images]
/// with every id ≥ 0 and, when `n_map_wafers` is given, below it.
/// @throws InputError naming the file, dataset and index of the first problem.
ImageIndex read_image_index(const std::string& path, std::optional<std::uint64_t> n_map_wafers);

}  // namespace wafermill::format
