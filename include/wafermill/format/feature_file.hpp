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

#include <mpi.h>

#include "wafermill/format/picture_results.hpp"
#include "wafermill/format/trace_index.hpp"

namespace wafermill::format {

/// @brief Shape of an output file.
struct FeatureFileLayout {
  std::uint64_t n_wafers = 0;
  std::vector<std::string> sensor_names;   ///< S entries
  std::vector<std::string> feature_names;  ///< F entries
  std::uint32_t n_steps = 0;               ///< K; 0: no /features/by_step
  /// N > 0: a model scores the run (docs/MONITORING.md): /wafers/t2, /wafers/spe,
  /// /wafers/reason and the top N contributions /wafers/contrib_column, /wafers/contrib_share.
  std::uint32_t contributions = 0;
  /// False for an input that holds maps or images only: no /features, /wafers rows, /summary.
  bool traces = true;
  /// The picture rows (docs/FORMAT.md "Output: maps and images"), written like the trace rows
  /// by the ranks that computed them; an absent kind has no group.
  std::optional<std::uint64_t> n_maps;    ///< /map_results rows
  std::uint32_t map_features = 0;         ///< columns of /map_results/features
  std::optional<std::uint64_t> n_images;  ///< /image_results rows
  std::uint32_t image_channels = 1;       ///< of /image_results/statistics
};

/// @brief One chunk of a model's verdicts, rows [first, first + n): n entries each, N per row
/// for the contributions (column index s*F + f of /features/values, S*F + (k*S + s)*F + f of
/// /features/by_step, -1 when none).
struct VerdictRows {
  std::span<const double> t2, spe;
  std::span<const std::uint8_t> reason;
  std::span<const std::int32_t> contrib_column;
  std::span<const double> contrib_share;
};

/// @brief Writes one output file, in two phases (docs/FORMAT.md "Output", docs/SCALING.md):
///
/// 1. Rows (collective over `comm`, MPI-IO): every rank writes the per-wafer rows it computed
///    (/features/values, /features/by_step, /wafers/score, /wafers/flag) as independent
///    hyperslab writes into contiguous datasets created together, and may read them back.
///    No rank handles another's rows, so rank 0's share does not grow with the wafers.
/// 2. The rest (rank 0 alone, after finish_rows()): the file is reopened with the serial
///    driver for what is O(columns) or not per wafer — names, /summary, attributes, picture
///    results — and the input's /wafers copy (variable-length strings cannot be written in
///    parallel by HDF5 1.10); then commit() renames it into place.
/// With MPI_COMM_NULL (the sequential baseline) the one process does both with the serial
/// driver. The file is 1.10 format (metadata checksums) throughout.
class FeatureFileWriter {
 public:
  /// @brief Collective: rank 0 reserves `<final_path>.tmp.<pid>` beside the final name, every
  /// rank creates it together. @throws UsageError if final_path exists and !force (on rank 0;
  /// the caller broadcasts), InputError if it cannot be created.
  FeatureFileWriter(std::string final_path, const FeatureFileLayout& layout, bool force,
                    MPI_Comm comm = MPI_COMM_NULL);
  /// @brief Removes the temporary file (rank 0) unless commit() succeeded.
  ~FeatureFileWriter();
  FeatureFileWriter(const FeatureFileWriter&) = delete;
  FeatureFileWriter& operator=(const FeatureFileWriter&) = delete;

  // ---- phase 1, any rank, its own rows -----------------------------------------------
  /// @brief Writes /features/values rows [first_wafer, first_wafer + n): n*S*F doubles.
  void write_features(std::uint64_t first_wafer, std::uint64_t n, std::span<const double> values);
  /// @brief Writes /features/by_step rows: n*K*S*F doubles.
  void write_step_features(std::uint64_t first_wafer, std::uint64_t n,
                           std::span<const double> values);
  /// @brief Reads back /features/values rows this rank wrote (the scoring pass).
  void read_features(std::uint64_t first_wafer, std::uint64_t n, std::span<double> out);
  /// @brief Reads back /features/by_step rows this rank wrote (n*K*S*F doubles; a model's
  /// by-step columns).
  void read_step_features(std::uint64_t first_wafer, std::uint64_t n, std::span<double> out);
  /// @brief Writes /wafers/score (double) and /wafers/flag (uint8) rows [first, first + n).
  void write_scores(std::uint64_t first_wafer, std::span<const double> score,
                    std::span<const std::uint8_t> flag);
  /// @brief Writes the model's rows (layout.contributions > 0) [first_wafer, first_wafer + n).
  void write_verdicts(std::uint64_t first_wafer, const VerdictRows& rows);
  /// @brief Writes /map_results rows [first, first + n): n*map_features features, n pattern
  /// codes and n flags.
  void write_map_rows(std::uint64_t first, std::span<const double> features,
                      std::span<const std::uint8_t> pattern, std::span<const std::uint8_t> flag);
  /// @brief Writes /image_results rows [first, first + n): the input's wafer of each image,
  /// n*channels*4 statistics, n*3 scores and n flags.
  void write_image_rows(std::uint64_t first, std::span<const std::int64_t> wafer,
                        std::span<const double> statistics, std::span<const std::uint64_t> scores,
                        std::span<const std::uint8_t> flag);
  /// @brief Collective: ends phase 1 (every rank's rows are in the file).
  void finish_rows();

  // ---- phase 2, rank 0 only, after finish_rows() ------------------------------------
  /// @brief Copies every /wafers/* dataset of the input (bounded chunks). Several files:
  /// `carried[k]`, where not empty, holds file k's values (WaferFieldValues::encode, read by
  /// the input checks), so that file is not opened again.
  void copy_wafer_fields(const TraceIndex& input, const std::vector<std::string>& carried = {});
  /// @brief Copies the /wafers/* metadata of an input without traces to /input/wafers/
  /// (input_wafers.hpp).
  void copy_input_wafers(const std::string& input_path);
  /// @brief Writes /summary/<name> as a double array of the given dims.
  void write_summary(const std::string& name, std::span<const double> values,
                     const std::vector<std::uint64_t>& dims);
  /// @brief Writes /summary/<name> as a uint64 array of the given dims.
  void write_summary_u64(const std::string& name, std::span<const std::uint64_t> values,
                         const std::vector<std::uint64_t>& dims);
  /// @brief Writes what is not per item of /map_results and /image_results
  /// (picture_results.hpp): names, the fleet fail-count maps, the golden image.
  void write_pictures(const PictureResults& results);
  /// @brief Sets a string attribute on the root group.
  void set_attribute(const std::string& name, const std::string& value);
  /// @brief Sets an integer attribute on the root group.
  void set_attribute(const std::string& name, std::int64_t value);
  /// @brief Flushes, closes, fsyncs and renames the file to its final name.
  void commit();

  /// @brief The temporary path being written (the same on every rank).
  const std::string& temp_path() const { return temp_path_; }

 private:
  struct Handles;
  void phase2_only(const char* what) const;
  std::unique_ptr<Handles> h_;
  std::string final_path_;
  std::string temp_path_;
  FeatureFileLayout layout_;
  MPI_Comm comm_;
  int rank_ = 0;
  bool rows_open_ = true;
  bool committed_ = false;
};

/// @brief Compares two output files' per-wafer results (/features/*, /wafers/score,
/// /wafers/flag), summaries and picture results (/map_results, /image_results) bit for bit.
/// @return nullopt when identical, else a description of the first difference.
std::optional<std::string> compare_feature_files(const std::string& a, const std::string& b);

}  // namespace wafermill::format
