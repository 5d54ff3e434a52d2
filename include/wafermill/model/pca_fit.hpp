/// @file pca_fit.hpp
/// @brief Fitting a PcaModel over reference wafers spread across ranks (docs/MONITORING.md):
/// every sum is exact (reduce/exact_sum.hpp), the decomposition runs once on rank 0 with one
/// BLAS thread and is broadcast, so the model is the same bits for any number of ranks.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <mpi.h>

#include "wafermill/model/pca_model.hpp"

namespace wafermill::model {

/// @brief The matrix the principal components come from (docs/MONITORING.md "Matrix").
enum class MatrixPath {
  automatic,   ///< the Gram matrix when the columns outnumber the reference wafers, else the
               ///< covariance; the other one when the first exceeds the memory budget
  covariance,  ///< J × J, exact sums of products reduced over the ranks
  gram,        ///< n × n, the wafers' space: the autoscaled rows gathered on rank 0
};

/// @brief Which model scores a wafer (`fit --scoring`, docs/MONITORING.md "fit").
enum class FoldScoring {
  automatic,  ///< the fold models when the model columns exceed half the reference wafers
              ///< (2J > n: where the whole reference's model keeps more noise components than
              ///< the fold models that set the limits), else the whole reference's model
  folds,      ///< the fold models: wafer w scored by fold model w mod k (cross-conformal)
  full,       ///< the whole reference's model (the only one `score --update` takes)
};

/// @brief How a model is fitted.
struct FitOptions {
  double false_alarm_rate = 0.01;  ///< A: the limits' out-of-sample false-alarm rate
  double variance_target = 0.9;    ///< components: smallest A with cumulative variance ≥ this
  std::uint32_t folds = 5;         ///< cross-validation folds for the limits
  std::uint64_t memory_budget_bytes = 256ULL << 20;  ///< bound of the exact sums per rank
  std::string group_by;     ///< the name of ReferenceRows::group's dataset (stored in the model)
  bool univariate = false;  ///< also a limit on every column's |z|, calibrated with T² and SPE
  MatrixPath matrix = MatrixPath::automatic;  ///< `fit --matrix`
  /// `fit --scoring`: whether the model keeps its k fold models, which then score wafer w with
  /// fold model w mod k (docs/MONITORING.md "fit")
  FoldScoring scoring = FoldScoring::automatic;
};

/// @brief The matrix path a fit of n reference wafers and J columns takes, and the memory each
/// path needs (bytes on the rank that needs most: every rank for the covariance's exact sums,
/// rank 0 for the Gram path's gathered rows, loadings, Gram matrix and its decomposition).
struct MatrixChoice {
  MatrixPath path = MatrixPath::covariance;
  std::uint64_t covariance_bytes = 0;
  std::uint64_t gram_bytes = 0;
};

/// @brief Picks the path by the rule of MatrixPath::automatic (or checks the one asked for)
/// against `budget` bytes. @throws InputError naming both needs when no allowed path fits.
MatrixChoice choose_matrix(std::uint64_t n, std::size_t J, MatrixPath asked, std::uint64_t budget);

/// @brief This rank's reference wafers: consecutive ordinals of the reference, in wafer order
/// (rank r holds the ordinals after those of ranks < r), and the candidate columns' names.
struct ReferenceRows {
  std::vector<std::string> column_sensor;   ///< C candidate columns
  std::vector<std::string> column_feature;  ///< C
  /// C recipe steps (-1: the whole wafer; k ≥ 0: step k of `/features/by_step`), or empty: every
  /// column a whole-wafer one.
  std::vector<std::int32_t> column_step;
  std::vector<double> values;       ///< m × C, this rank's rows
  std::uint64_t first_ordinal = 0;  ///< the reference ordinal of the first local row
  std::vector<std::string> group;   ///< m group keys (`fit --group-by`), or empty: no groups
  /// The /wafers/ dataset naming each reference wafer's lot (`fit --lot-by`), the same on every
  /// rank, or "": no histograms per lot.
  std::string lot_by;
  std::vector<std::string> lot;  ///< m lot keys when lot_by is set
  /// @brief m.
  std::size_t rows() const {
    return column_sensor.empty() ? 0 : values.size() / column_sensor.size();
  }
};

/// @brief Collective over comm (MPI_COMM_NULL: one process). Keeps the candidate columns that
/// are finite on at least half the reference, not constant and not a bitwise copy of an
/// earlier column of the same sensor (over the same step, or an earlier whole-wafer column);
/// fits the model on the whole reference and on each
/// training split of `folds`-fold cross-validation (wafer ordinal mod folds), and sets the
/// limits from the held-out wafers' T² and SPE. With `local.group` each training set's groups
/// are centred and scaled by that training set's own group statistics (a held-out wafer by its
/// group's statistics without its fold, the fleet's when its group is not in the training set),
/// so the limits stay out of sample; the final model stores the whole reference's. The matrix is
/// the covariance or the Gram matrix (choose_matrix); a Gram-path model has no mergeable sums
/// (sum_n 0: `score --update` refuses it). @throws InputError when the reference has fewer
/// than max(3, folds) wafers, no usable column, or needs more memory than the budget.
PcaModel fit_pca(const ReferenceRows& local, const FitOptions& options, MPI_Comm comm);

/// @brief The model of n wafers from their mergeable sums: with d = x − origin, sum_d = Σ d_j
/// and sum_dd = Σ d_i d_j (i ≤ j, upper triangle row-major). Sets centre, scale, components,
/// eigenvalues and explained variance (limits 1, no column names). `components` 0 picks them by
/// the variance rule, otherwise that many (at most the usable eigenvalues). Collective over
/// comm for the decomposition (MPI_COMM_NULL: one process).
PcaModel model_from_sums(std::uint64_t n, const std::vector<double>& origin,
                         const std::vector<double>& sum_d, const std::vector<double>& sum_dd,
                         double variance_target, std::uint32_t components, MPI_Comm comm);

/// @brief Folds k wafers (`rows`, k × J in model column order) into the model's mergeable sums
/// and reference histograms and recomputes centre, scale and components from the sums (same
/// number of components; the limits, calibrated by the fit, are kept). No MPI.
/// @throws InputError when the model has no sums (a v1 model, a Gram-path one: refit it) or
/// has fold models (PcaModel::fold_models: refit it).
void update_model(PcaModel& m, std::span<const double> rows);

}  // namespace wafermill::model
