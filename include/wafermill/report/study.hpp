/// @file study.hpp
/// @brief The scaling study: run reports at several rank counts aggregated into series of
/// points (median with min–max over repetitions), speedup, efficiency, Karp–Flatt and an
/// Amdahl fit. Formulas: docs/STUDY.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "wafermill/report/run_report.hpp"

namespace wafermill::report {

/// @brief Strong scaling (one input for every P) or weak scaling (input grows with P).
enum class ScalingKind { strong, weak };

/// @brief "strong" / "weak".
std::string to_string(ScalingKind kind);
/// @brief Parses "strong" or "weak". @throws UsageError for any other word.
ScalingKind parse_scaling_kind(const std::string& word);

/// @brief Median with min and max of repeated measurements (n counts the finite values).
struct Spread {
  double median = 0.0;
  double min = 0.0;
  double max = 0.0;
  std::size_t n = 0;
};
/// @brief Median (mean of the middle two for an even count), min and max of the finite
/// values; NaN figures and n = 0 when none is finite.
Spread summarise(std::vector<double> values);

/// @brief One run report and the file it came from.
struct StudyRun {
  std::string source;
  RunReport report;
};

/// @brief Mean seconds per rank in each phase of a run; `other` = wall - (read + compute +
/// reduce + wait), floored at 0: index, scoring and output commit on rank 0.
struct PhaseBreakdown {
  Spread read, compute, reduce, wait, other;
};

/// @brief The runs of one series at one rank count.
struct StudyPoint {
  int ranks = 1;
  int nodes = 1;                  ///< most distinct hosts among its runs
  std::vector<std::size_t> runs;  ///< indices into Study::runs
  std::uint64_t wafers = 0;       ///< median input wafers (grows with P in weak scaling)
  Spread time_s;                  ///< wall time T(P)
  /// Strong: S = T_base / T(P) (scaled by P_base when the baseline is not P = 1);
  /// weak: scaled speedup P·E. Bars from T(P)'s max and min.
  std::optional<Spread> speedup;
  /// Strong: S / P; weak: T_base / T(P).
  std::optional<Spread> efficiency;
  /// e = (1/S − 1/P) / (1 − 1/P) from the median speedup, strong scaling with P > 1 only.
  std::optional<double> karp_flatt;
  PhaseBreakdown phases;
  Spread imbalance;  ///< λ = max/mean busy time over ranks
  Spread wafers_per_s;
  Spread mb_per_s;
};

/// @brief Least-squares fit of T(P) = T1 (f + (1 − f)/P) over a series' runs.
struct AmdahlFit {
  double serial_fraction = 0.0;        ///< f
  double serial_fraction_error = 0.0;  ///< standard error of f; NaN with fewer than 3 runs
  double t1_s = 0.0;                   ///< fitted single-rank time
  double residual_rms_s = 0.0;         ///< root mean square of T − T_fit
  std::size_t n_runs = 0;
};
/// @brief Fits Amdahl's law to (P_i, T_i) by linear least squares in x = 1/P:
/// T = a + b x, f = a / (a + b), T1 = a + b; the standard error of f propagates the
/// covariance σ² (XᵀX)⁻¹ of (a, b), σ² = SSR / (n − 2). nullopt when fewer than two distinct
/// P or a + b is not positive. @throws std::invalid_argument when the spans differ in size.
std::optional<AmdahlFit> fit_amdahl(const std::vector<int>& ranks,
                                    const std::vector<double>& times_s);

/// @brief Runs with the same policy, backend and I/O driver, by rank count.
struct StudySeries {
  std::string policy, backend, io;
  std::vector<StudyPoint> points;    ///< ascending P
  std::optional<double> baseline_s;  ///< T_base; absent when no baseline could be found
  int baseline_ranks = 1;            ///< P of the baseline runs (1, or the smallest P)
  std::string baseline_note;         ///< where T_base came from, in words
  std::optional<AmdahlFit> amdahl;   ///< strong scaling only
  /// @brief "policy/backend", plus "/io" when the study mixes I/O drivers.
  std::string label;
};

/// @brief One gated or reported figure of the comparison with a reference study.
struct MetricCheck {
  std::string metric;  ///< "dynamic/cpu P=4 time_s"
  std::optional<double> reference;
  std::optional<double> value;
  std::optional<double> lower,
      upper;  ///< tolerance fractions (lower ≤ 0 ≤ upper), absent = unbounded
  /// "pass", "regressed", "ungated" (no tolerance for it), "new" (not in the reference),
  /// "missing" (in the reference, not in this study).
  std::string status;
  /// @brief (value − reference) / reference, when both exist and reference ≠ 0.
  std::optional<double> change() const;
};

/// @brief The study compared with a reference study.
struct StudyComparison {
  std::string reference_source;
  std::vector<MetricCheck> checks;
  std::vector<std::string> notes;  ///< e.g. a different input fingerprint
  /// @brief The metrics whose status is "regressed".
  std::vector<std::string> regressed() const;
};

/// @brief One night's drift (a report of `run --model` with a monitoring.drift section,
/// docs/MONITORING.md "Drift"), for the night-over-night table and chart.
struct DriftNight {
  std::string source;  ///< the report file; nights are ordered by it
  std::string input;   ///< the night's input file
  std::uint64_t wafers = 0;
  bool assessed = true;
  double threshold = 0.0;     ///< the highest column PSI threshold (applied_psi_threshold)
  double threshold_lo = 0.0;  ///< the lowest column PSI threshold
  double noise_floor = 0.0;
  double inflation = 1.0;
  double false_alarm_rate = 0.0;
  std::vector<std::pair<std::string, double>> psi;  ///< every column ("sensor/feature", PSI)
  std::vector<std::string> drifted;                 ///< the drifted columns, largest PSI first
  /// @brief The sensors of the drifted columns, in the order they are first named.
  std::vector<std::string> drifted_sensors() const;
};

/// @brief The whole study.
struct Study {
  ScalingKind kind = ScalingKind::strong;
  std::vector<StudyRun> runs;
  std::vector<StudySeries> series;
  std::vector<DriftNight> drift;   ///< the runs with a drift section, by report file name
  std::vector<std::string> notes;  ///< warnings about the inputs (mixed inputs, no baseline...)
  std::optional<StudyComparison> comparison;
};

/// @brief Reads the reports named by paths; a directory contributes every *.json file in it
/// that is a wafermill report (other JSON files there are skipped), in name order.
/// @throws InputError for a missing path, a named file that is not a report, or no report at all.
std::vector<StudyRun> load_study_runs(const std::vector<std::string>& paths);

/// @brief Groups runs into series and points and computes the scaling figures. `kind`
/// nullopt chooses: strong when every series' runs share one input fingerprint, else weak.
/// @throws InputError when runs is empty.
Study build_study(std::vector<StudyRun> runs, std::optional<ScalingKind> kind);

}  // namespace wafermill::report
