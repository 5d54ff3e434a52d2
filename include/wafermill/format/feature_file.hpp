/// @file feature_file.hpp
/// @brief The output file (docs/FORMAT.md "Output"): written under a temporary name and
/// renamed into place only when complete, so the final name is never a partial file.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "wafermill/format/picture_results.hpp"
#include "wafermill/format/trace_index.hpp"

namespace wafermill::format {

/// @brief Shape of an output file.
struct FeatureFileLayout {
  std::uint64_t n_wafers = 0;
  std::vector<std::string> sensor_names;   ///< S entries
  std::vector<std::string> feature_names;  ///< F entries
  std::uint32_t n_steps = 0;               ///< K; 0: no /features/by_step
};

/// @brief Writes one output file. Rank 0 alone writes it (serial HDF5, 1.10 file format
/// with metadata checksums).
class FeatureFileWriter {
 public:
  /// @brief Creates `<final_path>.tmp.<pid>` beside the final name.
  /// @throws UsageError if final_path exists and !force, InputError if it cannot be created.
  FeatureFileWriter(std::string final_path, const FeatureFileLayout& layout, bool force);
  /// @brief Removes the temporary file unless commit() succeeded.
  ~FeatureFileWriter();
  FeatureFileWriter(const FeatureFileWriter&) = delete;
  FeatureFileWriter& operator=(const FeatureFileWriter&) = delete;

  /// @brief Writes /features/values rows [first_wafer, first_wafer + n): n*S*F doubles.
  void write_features(std::uint64_t first_wafer, std::uint64_t n, std::span<const double> values);
  /// @brief Writes /features/by_step rows: n*K*S*F doubles.
  void write_step_features(std::uint64_t first_wafer, std::uint64_t n,
                           std::span<const double> values);
  /// @brief Reads back /features/values rows (for the scoring pass).
  void read_features(std::uint64_t first_wafer, std::uint64_t n, std::span<double> out);
  /// @brief Copies every /wafers/* dataset of the input (bounded chunks) to /input/wafers/
  /// and, as before, to /wafers/ (score and flag renamed input_score, input_flag).
  void copy_wafer_fields(const TraceIndex& input);
  /// @brief Writes /wafers/score (double) and /wafers/flag (uint8) in full.
  void write_scores(std::span<const double> score, std::span<const std::uint8_t> flag);
  /// @brief Writes /summary/<name> as a double array of the given dims.
  void write_summary(const std::string& name, std::span<const double> values,
                     const std::vector<std::uint64_t>& dims);
  /// @brief Writes /summary/<name> as a uint64 array of the given dims.
  void write_summary_u64(const std::string& name, std::span<const std::uint64_t> values,
                         const std::vector<std::uint64_t>& dims);
  /// @brief Writes /map_results and /image_results (picture_results.hpp).
  void write_pictures(const PictureResults& results);
  /// @brief Sets a string attribute on the root group.
  void set_attribute(const std::string& name, const std::string& value);
  /// @brief Sets an integer attribute on the root group.
  void set_attribute(const std::string& name, std::int64_t value);
  /// @brief Flushes, closes, fsyncs and renames the file to its final name.
  void commit();

  /// @brief The temporary path being written.
  const std::string& temp_path() const { return temp_path_; }

 private:
  struct Handles;
  std::unique_ptr<Handles> h_;
  std::string final_path_;
  std::string temp_path_;
  FeatureFileLayout layout_;
  bool committed_ = false;
};

/// @brief Compares two output files' per-wafer results (/features/*, /wafers/score,
/// /wafers/flag), summaries and picture results (/map_results, /image_results) bit for bit.
/// @return nullopt when identical, else a description of the first difference.
std::optional<std::string> compare_feature_files(const std::string& a, const std::string& b);

}  // namespace wafermill::format
