/// @file online_score.hpp
/// @brief `wafermill score`: one lot's wafers scored against a model without MPI, with per-wafer
/// latency, drift of the lot from the model's reference histograms, and an optional update of
/// the model's mergeable sums with the lot's good wafers (docs/MONITORING.md "score").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "wafermill/model/drift.hpp"
#include "wafermill/model/pca_model.hpp"

namespace wafermill::job {

/// @brief What `score` is asked to do.
struct ScoreConfig {
  std::string model;          ///< MODEL.h5 from `wafermill fit`
  std::string input;          ///< the lot: a trace file
  std::string select;         ///< its wafers, fit's clauses (e.g. "lot_id == 40"); "": all
  std::string output;         ///< "" none; *.csv a CSV, otherwise HDF5 (docs/FORMAT.md "Score")
  std::string report;         ///< "" none; a JSON report (latency, drift, verdict counts)
  bool update = false;        ///< fold the lot's unflagged wafers into the model
  std::string updated_model;  ///< where the updated model goes ("" = overwrite `model`)
  bool force = false;         ///< overwrite an existing output or report
  double drift_threshold = model::kDefaultPsiThreshold;
  std::uint32_t contributions = 5;
  std::uint32_t time_windows = 0;  ///< N > 0: the lot's traces read as N time windows (run's)
};

/// @brief Seconds: p50, p95, p99 and the largest of a set of latencies.
struct LatencyPercentiles {
  double p50 = 0.0, p95 = 0.0, p99 = 0.0, max = 0.0;
};

/// @brief What a lot's scoring found and how long it took.
struct ScoreOutcome {
  std::uint64_t wafers = 0;
  std::uint64_t flagged = 0, flagged_t2 = 0, flagged_spe = 0;
  std::uint64_t flagged_univariate = 0;  ///< over the univariate limit
  std::uint64_t unknown_group = 0;         ///< a grouped model: wafers of a group it does not know
  std::vector<std::uint64_t> wafer_index;  ///< the scored wafers' indices in the file
  std::vector<model::ExplainedVerdict> verdicts;  ///< one per scored wafer, file order
  model::DriftReport drift;
  double startup_s = 0.0;       ///< model, index, backend: before the first wafer
  std::vector<double> wafer_s;  ///< per wafer: read, features, score
  LatencyPercentiles per_wafer;
  double lot_s = 0.0;              ///< every wafer of the lot (sum of the loop, after start-up)
  std::uint64_t updated_with = 0;  ///< wafers folded into the model (with --update)
  double update_s = 0.0;           ///< --update: sums, decomposition, model file
  nlohmann::json report;           ///< the JSON report (also written when config.report is set)
};

/// @brief p50, p95, p99, max of `seconds` (numpy's linear interpolation).
LatencyPercentiles latency_percentiles(const std::vector<double>& seconds);

/// @brief Scores every wafer of config.input. @throws InputError naming the file, dataset or
/// model column for bad input; UsageError for bad options.
ScoreOutcome run_score(const ScoreConfig& config);

}  // namespace wafermill::job
