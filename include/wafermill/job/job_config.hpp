/// @file job_config.hpp
/// @brief Everything a run decides, as one plain value: filled by the CLI from options and
/// INI files, written into the output file and the report.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "wafermill/features/backend.hpp"
#include "wafermill/features/feature_set.hpp"
#include "wafermill/format/trace_reader.hpp"
#include "wafermill/pictures/inspection_image.hpp"

namespace wafermill::job {

/// @brief Weights of the combined score w1/T + w2/D_KL + w3·E_memory + w4·E_GPU.
struct ScoreWeights {
  double time = 0.25;
  double kl = 0.25;
  double memory = 0.25;
  double gpu = 0.25;
};

/// @brief The configuration of one `wafermill run`.
struct JobConfig {
  /// The input as given (one file, or the specifications of several: files, directories,
  /// globs, @manifests), for messages and the report.
  std::string input;
  /// The trace files, in order, after expansion (docs/FORMAT.md "Several input files"); wafers
  /// are numbered globally in this order. One entry for a single file.
  std::vector<std::string> inputs;
  /// With several inputs: a file that fails validation is listed in the report and skipped
  /// instead of ending the job with exit code 2.
  bool skip_bad_files = false;
  std::string output;
  std::string report;            ///< JSON report path; empty: no file, summary only
  bool force = false;            ///< overwrite an existing output
  std::string policy = "dynamic";
  format::IoDriver io = format::IoDriver::posix;
  features::BackendOptions backend;
  features::FeatureSet features = features::FeatureSet::all();
  std::uint64_t memory_budget_bytes = 256ULL << 20;  ///< per rank, for sample buffers
  std::uint64_t block_size = 32;    ///< wafers per reduction block (fixed, rank-independent)
  double dynamic_factor = 2.0;      ///< dynamic policy: unit = remaining / (factor · P)
  std::size_t histogram_bins = 32;
  /// N > 0 (`--time-windows N`): inputs that record no recipe steps are read as N time windows
  /// per wafer (format::use_time_windows): per-window features and by-step models.
  std::uint32_t time_windows = 0;
  /// Without a model: 0 (default) flags by the run's own fit at `false_alarm_rate`
  /// (docs/MONITORING.md "Without a model"); > 0 the old rule, max |z| over every column > this.
  double threshold = 0.0;
  double false_alarm_rate = 0.01;   ///< without a model: the per-wafer false-alarm rate A
  /// Without a model (docs/MONITORING.md "Calibrated limits"): "parametric" (default) the
  /// Student t limits alone; "reference" or "fleet" raise the limit to the split-conformal
  /// (1 − A) quantile of the scores of the refit's reference wafers or of every wafer, when higher.
  std::string fleet_limit = "parametric";
  /// A model of good wafers from `wafermill fit` (docs/MONITORING.md); "": the run fits one on its own fleet.
  std::string model;
  std::uint32_t contributions = 5;  ///< with a model: top contributions kept per wafer
  double drift_threshold = 0.25;    ///< with a model: PSI above which a column has drifted
  pictures::DefectSettings defects;  ///< how inspection images are scored (docs/PICTURES.md)
  ScoreWeights weights;
  double kl_smoothing = 0.5;        ///< additive smoothing of KL histograms (docs/METRICS.md)
  std::string baseline = "run";     ///< "run", "none" or a report file of a single-rank run
  double progress_interval_s = 10.0;  ///< plain progress lines at most this often (no TTY)
  bool quiet = false;               ///< no progress, no summary
  /// Reuse the blocks the result store holds for this input and configuration
  /// (docs/RELIABILITY.md); without it the store is written but not read.
  bool resume = false;
  /// With resume: read and hash every input again instead of trusting the store's records of
  /// unchanged files (their stamps: docs/RELIABILITY.md "Only new work").
  bool rehash = false;
  std::string store;                ///< result store directory; "": `<output>.wmstore`; "none"
  double time_limit_s = 0.0;        ///< stop cleanly after this many seconds (0: none); exit 3
  double rank_timeout_s = 600.0;    ///< abort when a rank shows no progress this long (0: never)
  std::string command_line;         ///< as typed, for the report

  /// @brief The trace files of the run: `inputs`, or `input` alone when `inputs` is empty
  /// (a configuration built by hand).
  std::vector<std::string> input_files() const {
    return inputs.empty() ? std::vector<std::string>{input} : inputs;
  }
  /// @brief The result store's directory, or "" when there is none.
  std::string store_path() const;
  /// @brief The configuration as JSON (written into the output and the report).
  nlohmann::json to_json() const;
  /// @brief Inverse of to_json(). @throws InputError on a malformed object.
  static JobConfig from_json(const nlohmann::json& j);
  /// @brief Checks values. @throws UsageError naming the option.
  void validate() const;
};

}  // namespace wafermill::job
