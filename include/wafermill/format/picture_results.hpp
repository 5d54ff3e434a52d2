/// @file picture_results.hpp
/// @brief The picture part of the output file (docs/FORMAT.md "Output: maps and images"):
/// per-wafer map features and patterns, the fleet fail-count maps per shape, per-image
/// statistics and scores, and the golden image. Plain data gathered on rank 0, written by
/// rank 0 into the job's output (FeatureFileWriter::write_pictures) or, for an input with no
/// traces, into an output of its own (PictureFileWriter).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace wafermill::format {

/// @brief Results of the die maps of one input.
struct MapResults {
  std::uint64_t n_wafers = 0;
  std::vector<std::string> feature_names;  ///< F entries
  std::vector<double> features;            ///< n_wafers × F
  std::vector<std::uint8_t> pattern;       ///< n_wafers: the pictures::MapPattern code
  std::vector<std::string> pattern_names;  ///< name of each pattern code
  std::vector<std::uint8_t> flag;          ///< n_wafers: pattern != none
  /// @brief One product shape's fail counts per cell over its wafers.
  struct FailMap {
    std::uint32_t rows = 0, cols = 0;
    std::uint64_t wafers = 0;
    std::vector<std::uint64_t> fails;  ///< rows × cols
  };
  std::vector<FailMap> fail_maps;  ///< in (rows, cols) order
};

/// @brief Results of the inspection images of one input.
struct ImageResults {
  std::uint64_t n_images = 0;
  std::uint32_t height = 0, width = 0, channels = 1;
  std::vector<std::int64_t> wafer;  ///< n_images: /images/wafer of the input, copied
  std::vector<double> statistics;   ///< n_images × channels × 4: mean, std, min, max
  std::vector<std::uint64_t> scores;  ///< n_images × 3: beyond, blobs, largest_blob
  std::vector<std::uint8_t> flag;     ///< n_images
  std::uint64_t golden_images = 0;
  std::vector<double> golden_mean, golden_std;  ///< height × width × channels each
  double k_sigma = 0, std_floor = 0;
  std::uint64_t min_blob = 0;
};

/// @brief Everything the picture pass writes; either part may be absent.
struct PictureResults {
  std::optional<MapResults> maps;
  std::optional<ImageResults> images;
};

namespace h5 {
class Group;
}

/// @brief Writes /map_results and /image_results (those present) under `root`.
/// @throws std::invalid_argument when a vector's size disagrees with the counts; HdfError.
void write_picture_results(h5::Group& root, const PictureResults& results);

/// @brief An output file holding picture results only (an input without /traces): reserved
/// under a temporary name at construction, so an existing output without --force fails
/// before any work, and renamed into place by write_and_commit().
class PictureFileWriter {
 public:
  /// @throws UsageError if final_path exists and !force.
  PictureFileWriter(std::string final_path, bool force);
  ~PictureFileWriter();
  PictureFileWriter(const PictureFileWriter&) = delete;
  PictureFileWriter& operator=(const PictureFileWriter&) = delete;

  /// @brief The temporary path the file is written under.
  const std::string& temp_path() const;
  /// @brief Writes the file with `attributes` (string name/value pairs) and
  /// `int_attributes` (int64) on its root, copies the /wafers/* metadata of `input_path` to
  /// /input/wafers/ (input_wafers.hpp), and renames it into place.
  /// @throws InputError when it cannot be created or renamed, or the input's /wafers is not
  /// a group of 1-D numbers or strings.
  void write_and_commit(const PictureResults& results,
                        const std::vector<std::pair<std::string, std::string>>& attributes,
                        const std::vector<std::pair<std::string, std::int64_t>>& int_attributes,
                        const std::string& input_path);

 private:
  struct Output;
  std::unique_ptr<Output> out_;
};

}  // namespace wafermill::format
