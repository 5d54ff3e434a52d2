/// @file run_report.hpp
/// @brief The run report: what a run measured, in JSON (machine) and text (people).
/// Every figure is defined with its formula in docs/METRICS.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "wafermill/metrics/metrics.hpp"

namespace wafermill::report {

/// @brief One rank's share of a run.
struct RankFigures {
  int rank = 0;
  std::string host;
  std::uint64_t units = 0;    ///< work units processed
  std::uint64_t wafers = 0;
  std::uint64_t samples = 0;  ///< rows read
  std::uint64_t bytes = 0;    ///< bytes of /traces/values read
  double read_s = 0.0;        ///< in HDF5 reads
  double compute_s = 0.0;     ///< in the feature backend and block folds
  double reduce_s = 0.0;      ///< packing, sending and merging results (rank 0: writing them)
  double wait_s = 0.0;        ///< waiting for work or for other ranks
  std::uint64_t peak_rss_bytes = 0;
  /// @brief read + compute + reduce: the rank's busy time t_i.
  double busy_s() const { return read_s + compute_s + reduce_s; }
};

/// @brief The figures of one pipeline run (the parallel run or the sequential baseline).
struct RunFigures {
  int ranks = 1;
  std::string policy;
  std::string backend;
  std::string io;
  double wall_s = 0.0;       ///< T: first barrier to committed output, on rank 0
  double index_s = 0.0;      ///< reading and validating the index (rank 0)
  double scoring_s = 0.0;    ///< reductions, scoring pass and output commit (rank 0's clock)
  double serial_s = 0.0;     ///< rank 0's work no other rank overlaps: the output's O(columns) phase 2
  std::uint64_t wafers = 0;
  std::uint64_t samples = 0;
  std::uint64_t bytes = 0;
  std::uint64_t flagged = 0;
  std::uint64_t blocks_reused = 0;    ///< reduction blocks taken from the result store (--resume)
  std::uint64_t blocks_computed = 0;  ///< reduction blocks computed by this run
  std::uint64_t files = 1;            ///< input files (docs/FORMAT.md "Several input files")
  std::uint64_t files_reused = 0;     ///< input files whose every block came from the store
  /// Blocks whose keys a --resume took from the store's file records instead of reading the
  /// input to hash it (unchanged files: docs/RELIABILITY.md "Only new work").
  std::uint64_t blocks_unread = 0;
  /// Why the result store could not be written, when it could not (the run went on without
  /// it: its results are complete, later blocks are not kept for --resume).
  std::optional<std::string> store_failure;
  metrics::LatencySummary latency;  ///< per-wafer latency, seconds (percentiles from a
                                    ///< mergeable histogram: latency_sketch.hpp)
  std::uint64_t peak_rss_max_bytes = 0;
  std::uint64_t peak_rss_total_bytes = 0;
  metrics::LoadBalance balance;     ///< over the ranks' busy times
  std::optional<double> gpu_utilisation;  ///< E_GPU in percent (NVML, rank 0's node), null on CPU
  std::optional<double> kernel_busy_fraction;  ///< rank 0's device busy time (CUDA events) / T
  std::vector<RankFigures> per_rank;
  /// The picture pass's report section (docs/PICTURES.md), when the run had maps or images:
  /// the sequential baseline hands its picture timings and digests over in it.
  std::optional<nlohmann::json> pictures;

  /// @brief Wafers per second of wall time.
  double wafers_per_s() const { return wall_s > 0 ? wafers / wall_s : 0.0; }
  /// @brief MB (1e6 bytes) of input values per second of wall time.
  double mb_per_s() const { return wall_s > 0 ? bytes / 1e6 / wall_s : 0.0; }
};

/// @brief Where the pipeline's flags and histograms stand against the truth (KL, natural log).
struct Accuracy {
  /// Label-based check: P_true = (good, bad) share of /wafers/label, P_pipeline = (unflagged,
  /// flagged) share; absent without labels.
  std::optional<std::vector<double>> label_distribution;
  std::optional<std::vector<double>> parallel_flag_distribution;
  std::optional<std::vector<double>> sequential_flag_distribution;
  std::optional<double> kl_labels_parallel;
  std::optional<double> kl_labels_sequential;
  /// R = D_KL(seq) / D_KL(par); absent when either is missing or D_KL(par) is 0.
  std::optional<double> accuracy_ratio;
  /// Confusion of flags against labels (parallel run): tp = flagged bad, fp = flagged good...
  std::optional<std::uint64_t> tp, fp, tn, fn;
  /// Histogram check: D_KL(float64 sequential reference ‖ parallel) per (sensor, feature)
  /// histogram, summarised.
  std::optional<double> kl_histograms_max;
  std::optional<double> kl_histograms_mean;
  double smoothing_alpha = 0.5;
};

/// @brief The comparison of the parallel run with the sequential baseline.
struct Comparison {
  std::string baseline_source;  ///< "run", "repeat", "none" or the report file it came from
  /// Set when the baseline is not a separate run: a one-rank run with --baseline run is its
  /// own baseline (no child started), and this says so.
  std::optional<std::string> baseline_note;
  std::optional<metrics::Scaling> scaling;
  std::optional<double> memory_efficiency;  ///< E_memory = M_seq / M_par (peak RSS, total)
  std::optional<bool> outputs_identical;    ///< bitwise comparison of the two output files
  std::optional<std::string> first_difference;
  std::optional<double> score;              ///< combined score, renormalised weights
  std::vector<std::pair<std::string, metrics::ScoreTerm>> score_terms;
};

/// @brief Where and on what a run happened: what is needed to compare runs honestly.
struct Provenance {
  std::string version;
  std::string git_revision;
  std::string started_utc;
  std::string command_line;
  std::vector<std::string> hosts;  ///< distinct hosts of the ranks
  int ranks_per_node = 0;          ///< max ranks on one host
  unsigned cores = 0;              ///< hardware threads of rank 0's host
  std::string slurm_job_id;        ///< empty outside Slurm
  std::string input_path;
  std::uint64_t input_bytes = 0;
  std::string input_fingerprint;   ///< hash of size, mtime and the index (docs/METRICS.md)
  std::uint64_t n_wafers = 0, n_samples = 0, n_sensors = 0, n_steps = 0;
  /// Wafers of exactly one sample (UCI SECOM imported one row per wafer): their rms is |x|
  /// and std, skewness, kurtosis and slope are undefined (docs/METRICS.md).
  std::uint64_t n_wafers_one_sample = 0;
};

/// @brief An input file the run left out (`--skip-bad-files`), and the check's message.
struct SkippedFile {
  std::string path;
  std::string reason;
};

/// @brief The whole report.
struct RunReport {
  Provenance provenance;
  nlohmann::json config;  ///< the JobConfig of the run
  RunFigures parallel;
  std::optional<RunFigures> sequential;
  Comparison comparison;
  Accuracy accuracy;
  /// Maps and images (docs/PICTURES.md): throughput, latency, digests, accuracy; absent
  /// when the input has neither.
  std::optional<nlohmann::json> pictures;
  /// Things about the input that cost the run (e.g. a chunk shape that makes reading slow),
  /// each a sentence saying what and how to fix it; also printed to stderr once by rank 0.
  std::vector<std::string> warnings;
  /// Input files that failed validation and were skipped (`--skip-bad-files`), in input order.
  std::vector<SkippedFile> skipped_files;
  /// The model that scored the run (docs/MONITORING.md): its file, limits, expected false-alarm
  /// rate and the flags by reason; absent without --model.
  std::optional<nlohmann::json> monitoring;
};

/// @brief JSON of rank figures / run figures / a report, and back.
nlohmann::json to_json(const RankFigures& r);
nlohmann::json to_json(const RunFigures& r);
nlohmann::json to_json(const RunReport& r);
/// @throws InputError naming the missing key when the JSON is not a wafermill report.
RankFigures rank_figures_from_json(const nlohmann::json& j);
RunFigures run_figures_from_json(const nlohmann::json& j);
RunReport run_report_from_json(const nlohmann::json& j);

/// @brief Reads a report file. @throws InputError naming the file when unreadable or invalid.
RunReport read_report(const std::string& path);
/// @brief Writes a report file atomically (temp file + rename).
void write_report(const RunReport& r, const std::string& path);

/// @brief The short readable summary rank 0 prints.
std::string text_summary(const RunReport& r);

/// @brief One line naming the drifted columns of a report's monitoring.drift section
/// (model/drift.hpp drift_json), or saying that none drifted.
std::string drift_line(const nlohmann::json& drift);

}  // namespace wafermill::report
