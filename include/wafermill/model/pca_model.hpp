/// @file pca_model.hpp
/// @brief A model of good wafers (docs/MONITORING.md): principal components of the autoscaled
/// feature vector, with Hotelling's T² and the squared prediction error (SPE, Q) against
/// limits calibrated out of sample (Wise & Gallagher 1996; Nomikos & MacGregor 1995).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace wafermill::model {

/// @brief Why a wafer was flagged (bit set): 1 T² above its limit, 2 SPE above its limit,
/// 4 a column's |z| above the univariate limit (`fit --univariate`).
enum Reason : std::uint8_t {
  kReasonNone = 0,
  kReasonT2 = 1,
  kReasonSpe = 2,
  kReasonUnivariate = 4
};

/// @brief Bins of each column's reference histogram. Ten: with lots of 25 wafers more bins leave
/// most of them empty and PSI's noise floor, (bins − 1)/n, grows (docs/MONITORING.md "Drift").
inline constexpr std::size_t kReferenceBins = 10;

/// @brief A fitted PCA monitoring model. Columns are (sensor, feature) pairs named by string so
/// that a model fits any output whose layout holds them, each over the whole wafer or over one
/// recipe step (`/features/by_step`, docs/MONITORING.md "Steps").
struct PcaModel {
  std::vector<std::string> column_sensor;   ///< J sensor names
  std::vector<std::string> column_feature;  ///< J feature names
  /// J recipe steps: k ≥ 0 the feature over step k (`/features/by_step`), -1 over the whole
  /// wafer (`/features/values`). Empty: every column is a whole-wafer one (older models).
  std::vector<std::int32_t> column_step;
  std::vector<double> centre;       ///< J: column means of the reference
  std::vector<double> scale;        ///< J: column standard deviations (1 where 0)
  std::uint32_t n_components = 0;   ///< A
  std::vector<double> loadings;     ///< J×A, row-major (column j, component a)
  std::vector<double> eigenvalues;  ///< A: variance of each score
  std::vector<double> explained;    ///< A: cumulative fraction of the total variance
  double t2_limit = 0.0;            ///< flag when T² > t2_limit
  double spe_limit = 0.0;           ///< flag when SPE > spe_limit
  /// flag when some column's |z| = |x − centre|/scale exceeds it; 0: no univariate limit
  double univariate_limit = 0.0;
  double false_alarm_rate = 0.01;          ///< A asked for
  double heldout_false_alarm_rate = 0.0;   ///< fraction of held-out reference wafers flagged
  double insample_false_alarm_rate = 0.0;  ///< the final model on its own reference wafers
  double variance_target = 0.9;            ///< the component rule's cumulative variance
  std::uint64_t n_reference = 0;           ///< reference wafers
  std::uint32_t folds = 0;                 ///< cross-validation folds of the limits
  std::string method;                      ///< how the matrix was formed (docs/MONITORING.md)
  /// N > 0: the by-step columns' steps are N time windows of each wafer (`--time-windows N`,
  /// attribute time_windows); 0: the input's recipe steps.
  std::uint32_t time_windows = 0;
  std::string warning;                     ///< a limit the reference is too small for, or ""
  // Mergeable sums of the reference (docs/MONITORING.md "score"): with d = x - origin
  // (a non-finite x counts as d = 0), sum_d = Σ d_j and sum_dd = Σ d_i d_j (i ≤ j, upper
  // triangle row-major) over sum_n wafers: exact sums, rounded to double once by the fit and
  // once by each update.
  std::vector<double> origin;  ///< J: the shift of the sums (the fit's column means)
  std::uint64_t sum_n = 0;     ///< wafers in the sums
  std::vector<double> sum_d;   ///< J
  std::vector<double> sum_dd;  ///< J(J+1)/2
  // Reference histograms per column (drift, docs/MONITORING.md "Drift"): kReferenceBins equal
  // bins over [hist_lo, hist_hi]; a value outside counts in the edge bin, a non-finite one not.
  std::vector<double> hist_lo;             ///< J
  std::vector<double> hist_hi;             ///< J
  std::vector<std::uint64_t> hist_counts;  ///< J × kReferenceBins
  // The same histograms per reference lot (`fit --lot-by NAME`, docs/MONITORING.md "Drift": the
  // lot-to-lot spread that a few lots' drift is judged against). Empty: no lots known. An
  // update (`score --update`) appends its wafers as one more lot.
  std::string lot_by;                     ///< the /wafers/ dataset naming the lot, or ""
  std::vector<std::string> lot_names;     ///< L, sorted as text (a number as %.17g)
  std::vector<std::uint64_t> lot_wafers;  ///< L reference wafers per lot
  std::vector<std::uint64_t> lot_counts;  ///< L × J × kReferenceBins
  // Per-group autoscaling (`fit --group-by NAME`, docs/MONITORING.md "Groups"): a wafer of group
  // g enters the model as (x − group_centre[g]) / group_scale[g]; a wafer of a group the model
  // does not know as (x − fleet_centre) / fleet_scale. centre/scale above (and the sums and
  // histograms) are then those of the group-scaled values. Empty group_by: no groups.
  std::string group_by;                    ///< the /wafers/ dataset naming the group, or ""
  std::vector<std::string> group_names;    ///< G, sorted as text (a number as %.17g)
  std::vector<std::uint64_t> group_count;  ///< G reference wafers
  std::vector<double> group_centre;        ///< G × J
  std::vector<double> group_scale;         ///< G × J
  std::vector<double> fleet_centre;        ///< J: the raw reference's means
  std::vector<double> fleet_scale;         ///< J: the raw reference's standard deviations
  // Fold models (format v5, docs/MONITORING.md "fit"): the `folds` cross-validation models whose
  // held-out scores set the limits. `run --model` and `score` score the wafer of index w in
  // their input with fold_models[w mod folds] (cross-conformal: an unseen wafer is scored as a
  // held-out one was). Each holds its training set's centre, scale, n_components, loadings and
  // eigenvalues (grouped: its group_centre, group_scale, fleet_centre, fleet_scale), and this
  // model's limits, group_by and group_names; nothing else. Empty (`fit --scoring full`, models
  // of formats v1–v4): every wafer is scored by this model, the one of the whole reference.
  std::vector<PcaModel> fold_models;

  /// @brief Whether wafers are scored by the fold models.
  bool fold_scored() const { return !fold_models.empty(); }
  /// @brief The model that scores the wafer of index `index` in the scored input: fold model
  /// (index mod folds), or this one for a model without fold models.
  const PcaModel& scorer(std::uint64_t index) const {
    return fold_models.empty() ? *this : fold_models[index % fold_models.size()];
  }

  /// @brief Whether the model scales each group apart.
  bool grouped() const { return !group_by.empty(); }
  /// @brief The index of group `key`, or group_names.size() when the model does not know it.
  std::size_t group_of(const std::string& key) const;
  /// @brief x (J raw values) scaled in place by group g's statistics (g ≥ G: the fleet's).
  /// Non-finite values stay non-finite. Does nothing for a model without groups.
  void scale_to_group(std::size_t g, std::span<double> x) const;

  /// @brief Whether the model carries the mergeable sums (models of format v1 do not).
  bool has_sums() const { return sum_n > 0 && sum_d.size() == n_columns(); }
  /// @brief Whether the model carries reference histograms (models of format v1 do not).
  bool has_histograms() const { return hist_lo.size() == n_columns() && !hist_lo.empty(); }

  /// @brief Whether the model carries reference histograms per lot.
  bool has_lot_histograms() const { return !lot_wafers.empty(); }

  /// @brief J.
  std::size_t n_columns() const { return centre.size(); }
  /// @brief Column j's recipe step, -1 for a whole-wafer column.
  std::int32_t step_of(std::size_t j) const { return column_step.empty() ? -1 : column_step[j]; }
  /// @brief Whether some column is over one recipe step (format v4).
  bool has_step_columns() const;
};

/// @brief T², SPE and the verdict of one wafer.
struct WaferVerdict {
  double t2 = 0.0;
  double spe = 0.0;
  double zmax = 0.0;   ///< the largest |z| over the columns
  double score = 0.0;  ///< max(T²/T²_lim, SPE/SPE_lim, zmax/univariate_lim): > 1 is flagged
  std::uint8_t reason = kReasonNone;
};

/// @brief Scores one wafer's model columns `x` (J values, in model column order). A non-finite
/// value is imputed by the column centre (it contributes nothing). `contributions`, when not
/// null, receives J per-column contributions to the statistic that is further above its limit
/// (SPE: e_j², summing to SPE; T²: z_j Σ_a p_ja t_a/λ_a, summing to T²).
WaferVerdict score_wafer(const PcaModel& m, std::span<const double> x,
                         std::vector<double>* contributions = nullptr);

/// @brief A wafer's verdict and, when flagged, the columns that explain it.
struct ExplainedVerdict {
  WaferVerdict verdict;
  std::vector<std::size_t> top_columns;  ///< model columns, largest |contribution| first
  std::vector<double> top_shares;        ///< their shares of the statistic further above its limit
};

/// @brief Scores one wafer (as score_wafer) and, when it is flagged, names the `top` columns
/// with the largest |contribution| (ties by column index, so the order is deterministic).
ExplainedVerdict explain_wafer(const PcaModel& m, std::span<const double> x, std::size_t top);

/// @brief Index of the bin of `x` in column j's reference histogram (edge bins take values
/// outside the range); kReferenceBins for a non-finite x.
std::size_t reference_bin(const PcaModel& m, std::size_t j, double x);

/// @brief The conformal (1-a) quantile of `values`: the ⌈(1-a)(n+1)⌉-th smallest, so that a new
/// exchangeable value exceeds it with probability ≤ a. When (1-a)(n+1) > n it returns the largest
/// value and sets `too_few` (the sample is too small for a).
double conformal_quantile(std::vector<double> values, double a, bool* too_few = nullptr);

/// @brief The group keys of wafers [first, first + n) of `path`'s /wafers/`name`: strings as
/// stored, numbers as %.17g text. @throws InputError naming the file and dataset when it is
/// missing, not 1-D of `n_wafers`, or neither numbers nor strings.
std::vector<std::string> read_group_keys(const std::string& path, const std::string& name,
                                         std::uint64_t n_wafers, std::uint64_t first,
                                         std::uint64_t n);

/// @brief Copies the model's limits, group_by and group_names into each of its fold models (what
/// they score with besides their own components and scaling).
void share_with_folds(PcaModel& m);

/// @brief Writes the model to an HDF5 file (docs/FORMAT.md "Model"): format v5 with fold models
/// (`/fold_models/F/`, groups and `/column_step` as in v3 and v4); without them format v2, v3
/// with groups, v4 when some column is over one recipe step (with `/column_step`).
/// @throws HdfError
void write_model(const PcaModel& m, const std::string& path);
/// @brief Reads a model file. @throws InputError naming the file and dataset when malformed.
PcaModel read_model(const std::string& path);

}  // namespace wafermill::model
