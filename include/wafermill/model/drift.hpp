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
inline constexpr double kDefaultPsiThreshold = 0.25;

/// @brief One column's distance from its reference.
struct ColumnDrift {
  std::size_t column = 0;  ///< model column
  double kl = 0.0;         ///< KL(tonight ‖ reference), smoothed
  double psi = 0.0;        ///< population stability index, smoothed
  bool drifted = false;  ///< psi above the threshold that applies (DriftReport::applied_threshold)
};

/// @brief Every model column's drift.
struct DriftReport {
  std::uint64_t wafers = 0;                 ///< wafers binned tonight
  double threshold = kDefaultPsiThreshold;  ///< asked for
  double applied_threshold = 0.0;  ///< max(threshold, 3 (B − 1)(1/n + 1/N)): above PSI's noise
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

/// @brief Compares tally counts to the model's reference histograms. A column is drifted when
/// its PSI exceeds max(threshold, 3 (B − 1)(1/n + 1/N)): (B − 1)(1/n + 1/N) is PSI's expected
/// value when nothing moved (n tonight's wafers, N the reference's, B bins), so small lots are
/// not flagged for their sampling noise.
DriftReport assess_drift(const PcaModel& m, std::span<const std::uint64_t> counts,
                         std::uint64_t wafers, double threshold);

/// @brief "sensor/feature" of model column j.
std::string column_name(const PcaModel& m, std::size_t j);

/// @brief The report's drift section: wafers, thresholds, every column's kl and psi and the
/// drifted columns by name (largest PSI first).
nlohmann::json drift_json(const PcaModel& m, const DriftReport& r);

}  // namespace wafermill::model
