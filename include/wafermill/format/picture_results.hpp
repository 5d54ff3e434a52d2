/// @file picture_results.hpp
/// @brief The picture part of the output file (docs/FORMAT.md "Output: maps and images") that is
/// not per item: names, the fleet fail-count maps per shape and the golden image. The per-map
/// and per-image rows are written by the ranks that computed them
/// (FeatureFileWriter::write_map_rows, write_image_rows); this part, O(shapes) and O(pixels),
/// by rank 0 in the output's second phase (FeatureFileWriter::write_pictures).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wafermill::format {

/// @brief What the die maps of one input add to the output besides their rows.
struct MapResults {
  std::uint64_t n_wafers = 0;
  std::vector<std::string> feature_names;  ///< F entries
  std::vector<std::string> pattern_names;  ///< name of each pattern code
  /// @brief One product shape's fail counts per cell over its wafers.
  struct FailMap {
    std::uint32_t rows = 0, cols = 0;
    std::uint64_t wafers = 0;
    std::vector<std::uint64_t> fails;  ///< rows × cols
  };
  std::vector<FailMap> fail_maps;  ///< in (rows, cols) order
};

/// @brief What the inspection images of one input add to the output besides their rows.
struct ImageResults {
  std::uint64_t n_images = 0;
  std::uint32_t height = 0, width = 0, channels = 1;
  std::uint64_t golden_images = 0;
  std::vector<double> golden_mean, golden_std;  ///< height × width × channels each
  double k_sigma = 0, std_floor = 0;
  std::uint64_t min_blob = 0;
};

/// @brief Both parts; either may be absent.
struct PictureResults {
  std::optional<MapResults> maps;
  std::optional<ImageResults> images;
};

namespace h5 {
class Group;
}

/// @brief Adds the non-row part of /map_results and /image_results (those present) under
/// `root`, whose groups the rows phase created. @throws HdfError.
void write_picture_results(h5::Group& root, const PictureResults& results);

}  // namespace wafermill::format
