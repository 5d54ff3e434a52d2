/// @file maps_images.hpp
/// @brief Synthetic die maps with planted WM-811K failure patterns and inspection images with
/// planted defects, deterministic by seed, with the truth recorded (docs/PICTURES.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "wafermill/generate/generator.hpp"

namespace wafermill::generate {

/// @brief What to generate besides (or instead of) traces.
struct PictureOptions {
  std::string output;              ///< file to write (temporary name, then renamed)
  bool force = false;              ///< overwrite an existing output
  std::optional<GeneratorOptions> traces;  ///< also write traces into the same file
  std::uint64_t n_maps = 0;        ///< wafers with a die map (0: no /maps)
  double pattern_fraction = 0.5;   ///< maps with a planted pattern, spread evenly over the 8
  std::uint64_t n_images = 0;      ///< inspection images (0: no /images)
  std::uint32_t image_height = 96;
  std::uint32_t image_width = 128;
  bool rgb = false;                ///< [n, h, w, 3] instead of [n, h, w]
  std::uint32_t image_bits = 8;    ///< 8: uint8 pixels; 16: uint16 (every level × 256)
  double defect_fraction = 0.1;    ///< images with 1-3 planted defect blobs
  std::uint64_t seed = 1;
};

/// @brief What was written.
struct PictureResult {
  std::uint64_t n_maps = 0, n_patterned = 0;
  std::uint64_t n_images = 0, n_defective = 0;
  std::uint64_t bytes = 0;  ///< file size
};

/// @brief Writes the file: /maps (three products of different map shapes), /images (uint8 or
/// uint16, chunked per image, /images/wafer = i mod n_maps, or i without maps), /truth/map_pattern
/// (uint8, pictures::MapPattern) and /truth/image_defects (uint8, blobs planted), plus the
/// traces when asked (generate_traces writes them first, into the same temporary file).
/// @throws UsageError for impossible options or an existing output without force; HdfError
/// if HDF5 fails; InputError if the final fsync or rename fails. Nothing is left behind
/// on failure.
PictureResult generate_pictures(const PictureOptions& options);

}  // namespace wafermill::generate
