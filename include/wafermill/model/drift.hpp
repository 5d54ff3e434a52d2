/// @file drift.hpp
/// @brief Drift of tonight's (or a lot's) feature distributions from the model's reference
/// histograms, per model column: smoothed KL and PSI (docs/MONITORING.md "Drift").
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "wafermill/model/pca_model.hpp"

namespace wafermill::model {

/// @brief Additive smoothing of both histograms (half a count per bin, Jeffreys).
inline constexpr double kDriftSmoothing = 0.5;
/// @brief The default PSI threshold: 0.25, the usual "major shift" of credit scoring practice.
/// A floor of practical size under the statistical threshold below.
inline constexpr double kDefaultPsiThreshold = 0.25;
/// @brief The drift alarm's false-alarm rate per assessment (a night or a lot): the chance that
/// a clean night names any column, Bonferroni over the model's columns.
inline constexpr double kDriftFalseAlarmRate = 0.01;
/// @brief Fewest wafers for which drift is assessed (columns named): 20 lots of 25. The chi-square
/// reference assumes independent wafers; a lot's 25 share its offsets, so a few lots differ from
/// the reference by their own lot-to-lot variation (measured on generated clean nights: 2 lots
/// name a column in 31 % of assessments, 10 lots in 7.5-15 %, 20 lots in 0-5 %, 40 lots in
/// 0-10 %; docs/MONITORING.md "Drift"). Fewer: kl, psi and the noise floor are reported, and
/// columns are named only by the lot rule (assess_drift) where the model keeps its lots.
inline constexpr std::uint64_t kMinDriftWafers = 500;
/// @brief Resamples of the reference's lots for drift over a few lots (assess_drift): at most
/// kLotResamples, fewer where their PSIs (J per draw, float) would take more than kLotPsiBytes,
/// at least kMinLotResamples.
inline constexpr std::size_t kLotResamples = 2000;
inline constexpr std::size_t kMinLotResamples = 500;
inline constexpr std::size_t kLotPsiBytes = 64ULL << 20;
/// @brief Fewest distinct sets of the tonight's number of lots the reference must offer (its L
/// lots choose m) for drift over a few lots to be assessed: the (1 − α) quantile of the
/// resampled statistic needs many more sets than 1/α.
inline constexpr double kMinLotSets = 200.0;

/// @brief Fewest columns from which an inflation factor (genomic control) is estimated: the
/// median of 5 stands when 2 of them drifted.
inline constexpr std::size_t kMinInflationColumns = 5;

/// @brief One column's distance from its reference.
struct ColumnDrift {
  std::size_t column = 0;  ///< model column
  double kl = 0.0;         ///< KL(tonight ‖ reference), smoothed
  double psi = 0.0;        ///< population stability index, smoothed
  double threshold = 0.0;  ///< max(floor, λ_j (1/n + 1/N) χ²_{B−1}(1 − α/J)): this column's
  bool drifted = false;    ///< psi above threshold (and the report assessed)
};

/// @brief Every model column's drift (docs/MONITORING.md "Drift": the alarm rule).
struct DriftReport {
  std::uint64_t wafers = 0;                        ///< wafers binned tonight
  double threshold = kDefaultPsiThreshold;         ///< asked for (the PSI floor)
  double false_alarm_rate = kDriftFalseAlarmRate;  ///< α per assessment, all columns together
  bool assessed = false;       ///< wafers ≥ kMinDriftWafers: columns may be named
  double noise_floor = 0.0;    ///< PSI's expected value when nothing moved: (B − 1)(1/n + 1/N)
  double chi2_quantile = 0.0;  ///< χ²_{B−1} quantile 1 − α/J
  double inflation = 1.0;      ///< λ over all columns: max(1, median_j X_j / median χ²_{B−1})
  std::vector<double> column_inflation;  ///< λ_j: its feature's λ, or the overall λ
  double statistical_threshold = 0.0;    ///< max_j λ_j (1/n + 1/N) χ²_{B−1}(1 − α/J)
  double applied_threshold = 0.0;        ///< max(threshold, statistical_threshold): the highest
  /// "chi2" (the rule above, from kMinDriftWafers wafers), "lots" (fewer wafers, judged against
  /// the reference's own lots), or "none" (not assessed)
  std::string rule = "none";
  std::uint64_t lots = 0;            ///< tonight's lots (0: not known)
  std::uint64_t reference_lots = 0;  ///< the model's reference lots (0: none kept)
  double lot_quantile = 0.0;         ///< "lots": the (1 − α) quantile q of the resampled max-T
  std::size_t lot_resamples = 0;     ///< "lots": the draws it came from
  std::vector<ColumnDrift> columns;
  /// @brief The drifted columns, largest PSI first.
  std::vector<ColumnDrift> drifted() const;
};

/// @brief Integer counts of wafers in each column's reference bins; mergeable by summing.
class DriftTally {
 public:
  /// @brief An empty tally for `m`. @throws InputError when the model has no reference
  /// histograms (format v1: refit it).
  explicit DriftTally(const PcaModel& m);
  /// @brief Bins one wafer's J values (model column order); a non-finite value is not counted.
  void add(std::span<const double> x);
  /// @brief J × kReferenceBins counts (sum them over ranks to merge).
  std::vector<std::uint64_t>& counts() { return counts_; }
  /// @brief Wafers added (sum over ranks to merge).
  std::uint64_t& wafers() { return wafers_; }

 private:
  const PcaModel& model_;
  std::vector<std::uint64_t> counts_;
  std::uint64_t wafers_ = 0;
};

/// @brief Compares tally counts to the model's reference histograms. When nothing moved and the
/// wafers are independent, X = PSI / (1/n + 1/N) is about χ² with B − 1 degrees of freedom (PSI
/// is to second order the two-sample Pearson χ² scaled by 1/n + 1/N; n tonight's wafers, N the
/// reference's, B bins). Wafers of a lot or a tool share offsets, which inflates X, location
/// features (mean, median, rms) far more than spread or shape: column j's inflation λ_j is the
/// median X over the columns of its feature (all sensors' "mean") divided by χ²'s median
/// (genomic control, Devlin & Roeder 1999), at least 1; with fewer than kMinInflationColumns
/// columns of the feature, the median over all columns; with fewer columns in all, 1. Column j
/// is drifted when PSI > max(threshold, λ_j (1/n + 1/N) χ²_{B−1}(1 − α/J)),
/// α = kDriftFalseAlarmRate: a clean night names any of the J columns with probability at most
/// α (Bonferroni).
///
/// With fewer than kMinDriftWafers wafers the χ² reference does not hold (a few lots differ from
/// the reference by their own lot offsets). Tonight's `lots` lots are then judged against the
/// reference's own lots where the model keeps histograms per lot (`fit --lot-by`) and the L
/// reference lots offer at least kMinLotSets sets of `lots` (L choose lots): kLotResamples
/// times (fewer for very many columns), `lots` reference lots drawn without replacement (a fixed seed: the same verdict
/// every time) are compared with the other reference lots, PSI_j per column; s_j is column j's
/// median over the draws, T = max_j PSI_j / s_j each draw's statistic and q its (1 − α)
/// quantile (max-T, Westfall & Young 1993: the columns' dependence is kept). Column j is
/// drifted when tonight's PSI_j > max(threshold, q s_j): a clean set of lots exchangeable with
/// the reference's names any column with probability about α. Otherwise nothing is named
/// (assessed false).
DriftReport assess_drift(const PcaModel& m, std::span<const std::uint64_t> counts,
                         std::uint64_t wafers, double threshold, std::uint64_t lots = 0);

/// @brief "sensor/feature" of model column j; "sensor/feature (step k)" for a column over step k.
std::string column_name(const PcaModel& m, std::size_t j);

/// @brief The report's drift section: wafers, thresholds, every column's kl and psi and the
/// drifted columns by name (largest PSI first).
nlohmann::json drift_json(const PcaModel& m, const DriftReport& r);

}  // namespace wafermill::model
