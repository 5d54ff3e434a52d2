/// @file fit.hpp
/// @brief `wafermill fit`: a model of good wafers from reference wafers (docs/MONITORING.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <mpi.h>

#include "wafermill/model/pca_fit.hpp"

namespace wafermill::job {

/// @brief What `fit` is asked to do.
struct FitConfig {
  std::string input;   ///< a trace file (features computed as `run` does) or a run's output
  std::string output;  ///< the model file
  bool force = false;
  std::string features;  ///< comma list of feature names; "": all but count and invalid_count
  std::string select;    ///< which wafers are the reference, e.g. "label == 0 and index % 2 == 0"
  std::string group_by;  ///< a /wafers/ dataset: each group centred and scaled apart; "": none
  /// `--lot-by`: the /wafers/ dataset naming each wafer's lot, whose reference histograms per lot
  /// judge drift over a few lots (docs/MONITORING.md "Drift"); "auto": lot_id where the input
  /// has it; "none": no histograms per lot.
  std::string lot_by = "auto";
  /// `--by-step` (docs/MONITORING.md "Steps"): "auto" (the default) models each feature over
  /// every recipe step (`/features/by_step`) in place of the whole wafer when the input has two
  /// steps or more, over the whole wafer otherwise; "both" takes the whole-wafer and the by-step
  /// columns; "none" the whole-wafer columns only.
  std::string by_step = "auto";
  /// N > 0 (`--time-windows N`): a trace input that records no recipe steps is read as N time
  /// windows per wafer, as `run --time-windows N` reads it.
  std::uint32_t time_windows = 0;
  model::FitOptions options;
  bool quiet = false;
};

/// @brief One clause of a selection: `FIELD [% M] OP VALUE`, FIELD a /wafers/ dataset or `index`.
struct SelectClause {
  std::string field;
  std::uint64_t modulus = 0;  ///< 0: none
  std::string op;             ///< == != < <= > >=
  double value = 0.0;
};

/// @brief Parses "CLAUSE [and CLAUSE]..." ("&&" also joins). "" selects every wafer.
/// @throws UsageError naming the clause that cannot be read.
std::vector<SelectClause> parse_select(const std::string& text);
/// @brief Whether a value passes a clause.
bool passes(const SelectClause& c, double value);

/// @brief Whether `path` is a run's output (it has /features/values) rather than a trace file.
/// @throws InputError when it is not an HDF5 file.
bool is_feature_file(const std::string& path);
/// @brief The time windows a run's output was computed over (its attribute time_windows), 0 for
/// recipe steps (or none). @throws InputError for a value outside [0, kMaxSteps].
std::uint32_t feature_file_time_windows(const std::string& path);

/// @brief Collective over comm: fits and writes the model (rank 0, temporary name then rename).
/// Rank 0 returns the model (the others an empty one). @throws CollectiveInputError on bad input.
model::PcaModel run_fit(const FitConfig& config, MPI_Comm comm);

}  // namespace wafermill::job
