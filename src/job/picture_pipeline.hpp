// The picture pass of `wafermill run`: die maps and inspection images through the same
// partition policies and coordinator idea as the traces (docs/PICTURES.md). Private to job/.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include <mpi.h>
#include <nlohmann/json.hpp>

#include "wafermill/format/feature_file.hpp"
#include "wafermill/format/picture_results.hpp"
#include "wafermill/job/job_config.hpp"
#include "wafermill/report/run_report.hpp"

namespace wafermill::job {

class StopRequest;

/// This rank's rows of the picture pass, in the order it computed them. It writes them into
/// the output itself (the rows phase of format::FeatureFileWriter): no rank gathers another's.
struct PictureRows {
  std::vector<std::uint64_t> map_item;      ///< the map of each row
  std::vector<double> map_features;         ///< per row: pictures::map_feature_names()
  std::vector<std::uint8_t> map_pattern, map_flag;
  std::vector<std::uint64_t> image_item;    ///< the image of each row
  std::vector<std::int64_t> image_wafer;    ///< the input's /images/wafer of each row
  std::vector<double> image_statistics;     ///< per row: channels × (mean, std, min, max)
  std::vector<std::uint64_t> image_scores;  ///< per row: beyond, blobs, largest_blob
  std::vector<std::uint8_t> image_flag;
};

/// What the picture pass did.
struct PictureOutcome {
  /// False when the input holds maps or images but no /traces: the trace pass must not run,
  /// and `report` is the whole run's report.
  bool has_traces = true;
  /// Rank 0: the report's "pictures" section (absent when the file has no maps or images).
  std::optional<nlohmann::json> json;
  /// Rank 0: what is not per item (names, fail-count maps, golden image) for the output.
  std::shared_ptr<const format::PictureResults> results;
  /// Rank 0, when !has_traces: provenance, configuration and the pictures section.
  report::RunReport report;
  /// Every rank: the items of the input (absent: no maps / no images) and this rank's rows,
  /// written by the trace pass into its output (already written when !has_traces).
  std::optional<std::uint64_t> n_maps, n_images;
  std::uint32_t image_channels = 1;
  PictureRows rows;
  /// Adds the picture rows' shapes to an output's layout.
  void add_to(format::FeatureFileLayout& layout) const;
  /// This rank's rows into `writer` (its rows phase), as runs of consecutive items.
  void write_rows(format::FeatureFileWriter& writer) const;
};

/// Runs the picture pass collectively on `comm` (MPI_COMM_NULL: one process, the sequential
/// baseline). Bad input found by rank 0 is broadcast and thrown on every rank as
/// CollectiveInputError (exit code 2). An input without traces gets its output file here.
/// `stop` (SIGUSR1, --time-limit) is asked before each unit: a stop leaves the pass with
/// StoppedEarly on every rank, finished blocks kept in the result store.
PictureOutcome run_pictures(const JobConfig& config, MPI_Comm comm, const StopRequest& stop);

/// Adds to each kind ("maps", "images") of a parallel run's pictures section the sequential
/// baseline's wall time, the speedup, the efficiency and whether every digest agrees.
void compare_pictures(nlohmann::json& parallel, const nlohmann::json& sequential);

}  // namespace wafermill::job
