// The scoring pass, on every rank over its own rows (docs/SCALING.md): the fleet's sensor
// moments and the per-(sensor, feature) column statistics are reduced over the ranks (exact
// sums: the same bits for any number of ranks, policy or budget); then each rank reads its
// rows back in bounded chunks, bins them into the column histograms, scores and flags them
// and writes its own /wafers/score and /wafers/flag rows; the integer histogram counts and
// the flag and label counts are summed over the ranks. Rank 0 then writes the summary, which
// is O(columns). Private to job/.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <mpi.h>

#include "collector.hpp"
#include "wafermill/format/feature_file.hpp"
#include "wafermill/format/trace_index.hpp"
#include "wafermill/job/job_config.hpp"
#include "wafermill/model/drift.hpp"
#include "wafermill/model/fleet_limits.hpp"
#include "wafermill/model/pca_model.hpp"
#include "wafermill/reduce/fleet.hpp"

namespace wafermill::job {

/// Flags against the input's /wafers/label (good 0 / bad 1), over every rank's wafers.
struct LabelCounts {
  std::uint64_t tp = 0, fp = 0, tn = 0, fn = 0;
};

/// @brief A model of good wafers bound to a run's output layout: columns[j] is the position of
/// the model's column j in a row of S*F whole-wafer values (/features/values) followed by
/// K*S*F by-step values (/features/by_step): s*F + f, or S*F + (k*S + s)*F + f for step k — the
/// numbering of /wafers/contrib_column (docs/FORMAT.md).
struct BoundModel {
  std::string path;
  model::PcaModel model;
  std::vector<std::size_t> columns;
  /// Whether some column is a by-step one (the scoring pass then reads /features/by_step).
  bool by_step = false;
};

/// @brief Reads `path` and binds it to the run's sensors, features and `n_steps` recipe steps
/// (`time_windows` > 0: the run's steps are that many time windows, TraceIndex::time_windows).
/// @throws InputError naming the model file and the (sensor, feature, step) the run does not
/// compute, or the steps when the model's by-step columns were fit over other steps (recipe
/// steps against time windows, or another number of windows).
BoundModel bind_model(const std::string& path, const std::vector<std::string>& sensor_names,
                      const std::vector<std::string>& feature_names, std::uint32_t n_steps,
                      std::uint32_t time_windows = 0);
/// @brief Binds a model already read from `path` (named in errors).
BoundModel bind_model(const std::string& path, model::PcaModel model,
                      const std::vector<std::string>& sensor_names,
                      const std::vector<std::string>& feature_names, std::uint32_t n_steps,
                      std::uint32_t time_windows = 0);

/// The group keys (model::read_group_keys) of the job's wafers [first, first + n), from the
/// input file(s) that hold them.
std::vector<std::string> read_group_keys(const format::TraceIndex& index, const std::string& name,
                                         std::uint64_t first, std::uint64_t n);

struct ScoringResult {
  std::uint64_t flagged = 0;
  std::uint64_t flagged_t2 = 0, flagged_spe = 0;  // with a model: wafers over each limit
  std::uint64_t flagged_univariate = 0;           // with a model that has a univariate limit
  std::uint64_t unknown_group = 0;  // with a grouped model: wafers scaled by the fleet's statistics
  std::optional<LabelCounts> labels;            // without /wafers/label: none
  std::optional<model::DriftReport> drift;      // with a model that has reference histograms
  std::optional<model::FleetFitSummary> fleet;  // without a model: the run's own fit
};

/// Bytes of feature rows the scoring pass reads from the output file at a time: a 32nd of the
/// memory budget, at most 4 MiB (a buffer that stays in cache and is faulted in once).
inline std::uint64_t scoring_chunk_bytes(std::uint64_t memory_budget_bytes) {
  return std::min<std::uint64_t>(memory_budget_bytes / 32, 4ULL << 20);
}

/// Bytes of rows a rank may keep in memory for the scoring pass (KeptRows): an eighth of the
/// memory budget less the read chunk, so that the pass's rows, kept and read, take no more
/// than an eighth.
inline std::uint64_t scoring_kept_bytes(std::uint64_t memory_budget_bytes) {
  return memory_budget_bytes / 8 - scoring_chunk_bytes(memory_budget_bytes);
}

/// Collective over comm (MPI_COMM_NULL: one process). Every rank scores the rows `local`
/// wrote; rank 0 writes /summary afterwards with write_summary() (after finish_rows()).
/// `scoring_s` gets this rank's time in the pass.
class ScoringPass {
 public:
  ScoringPass(const format::TraceIndex& index, const JobConfig& config, Collector& local,
              format::FeatureFileWriter& writer, MPI_Comm comm, const BoundModel* model = nullptr);
  /// Reduces, scores this rank's rows, writes them, reduces the counts.
  ScoringResult run();
  /// Rank 0, phase 2 of the writer: /summary/* (sensor and column statistics, histograms).
  void write_summary(format::FeatureFileWriter& writer) const;

 private:
  const format::TraceIndex& index_;
  const JobConfig& config_;
  Collector& local_;
  format::FeatureFileWriter& writer_;
  MPI_Comm comm_;
  const BoundModel* model_;
  // Without a model (docs/MONITORING.md "Without a model"): the fit on the fleet, refitted
  // without what it flags until the flags settle; fills `scores`/`flags` for this rank's rows in
  // the order of wafer_ranges().
  model::FleetFitSummary fit_fleet(std::vector<double>& scores, std::vector<std::uint8_t>& flags);
  // After fit_fleet's last round: the calibrated limit (model/fleet_calibration.hpp) over the
  // wafers `left_out` does not mark, into `s`, and the scores and flags divided by it.
  void calibrate_limit(model::FleetFitSummary& s, std::vector<double>& scores,
                       std::vector<std::uint8_t>& flags,
                       const std::vector<std::uint8_t>& left_out) const;
  // The old rule (--threshold T > 0): max |z| against the whole fleet, every column.
  model::FleetFitSummary max_z(std::vector<double>& scores, std::vector<std::uint8_t>& flags);
  // Calls f(first wafer, wafers, rows) for this rank's rows in chunks within the budget; with
  // `steps` (not null) it also reads each chunk's /features/by_step rows into *steps.
  template <class F>
  void for_each_chunk(F&& f, std::vector<double>* steps = nullptr);
  void score_with_model(std::uint64_t first, std::span<const double> rows,
                        std::span<const double> steps, std::uint64_t m, std::size_t columns,
                        std::vector<double>& scores, std::vector<std::uint8_t>& flags,
                        ScoringResult& result);
  std::vector<double> read_buffer_;  // for_each_chunk's rows read from the output file
  std::vector<double> t2_, spe_, contrib_share_;
  std::vector<std::uint8_t> reason_;
  std::vector<std::int32_t> contrib_column_;
  std::vector<reduce::Moments> fleet_;
  std::optional<model::DriftTally> drift_;
};

}  // namespace wafermill::job
