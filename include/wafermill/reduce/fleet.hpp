/// @file fleet.hpp
/// @brief Fleet-wide statistics built reproducibly from rows spread over ranks: per-sensor
/// moments from per-wafer moments, and per-(sensor, feature) statistics across wafers, both
/// reduced through exact sums, so any number of ranks and any grouping of the wafers into
/// blocks or files gives the same bits.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include <mpi.h>

#include "wafermill/reduce/exact_sum.hpp"
#include "wafermill/reduce/moments.hpp"

namespace wafermill::reduce {

/// @brief The shift of one sensor: the median of the finite values in `samples` (the upper
/// median for an even count, so no arithmetic is done on the samples), 0 when none is finite.
/// Reorders `samples`.
double shift_of_samples(std::span<double> samples);

/// @brief Per-sensor moments of the whole fleet from per-wafer moments held by any number of
/// ranks: bitwise the same for every split of the wafers over ranks, every order, and every
/// grouping of the wafers into blocks or files. The state is O(sensors) exact sums
/// (exact_sum.hpp), whatever the number of wafers.
///
/// Why per wafer: a block's left fold of its wafers rounds differently when the same wafers are
/// grouped into other blocks (blocks restart at every input file), so sums of block partials
/// depend on where block boundaries fall. Here each wafer contributes on its own, so only the
/// set of wafers matters.
///
/// How: every rank holds the same shift c per sensor, fixed before any wafer is added (the
/// job's rank 0 takes the median of the first finite samples of the sensor, choose_fleet_shift
/// in src/job/fleet_shift.hpp, and broadcasts it). Each wafer adds its power sums about c,
/// Σ (x - c)^k for k = 1..4, from its central moments (Pébay 2008, eq. 2.1-2.4 with the second
/// set a single point at c: with d = mean_w - c, Σ(x-c) = n d, Σ(x-c)² = M2 + n d²,
/// Σ(x-c)³ = M3 + 3 d M2 + n d³, Σ(x-c)⁴ = M4 + 4 d M3 + 6 d² M2 + n d⁴), each of the four
/// evaluated in double from that wafer's moments alone (Horner in d) and then added exactly;
/// the counts are integers. result() sums them over the ranks exactly and derives
/// mean = c + S1/N and M2..M4 about the mean (binomial expansion), rounding only there. Cost:
/// four exact adds per wafer and sensor.
///
/// Why the shift keeps cancellation small: M2 = S2 - N a² with a = mean - c, and likewise for
/// M3, M4. When c lies within the data (a median of real samples of the sensor), |a| and every
/// wafer's |d| are of the order of the spread, not of the mean, so the subtracted terms are of
/// the size of the result and no digits are lost, however large the mean is against the spread
/// (1e6 + N(0, 1e-3) keeps ~9 digits of M2; unshifted sums would keep none). A sensor whose
/// level drifts far from its first samples loses log10((mean - c)² / variance) digits of M2.
/// When no chosen sample is finite (a sensor empty in the first wafers read) c = 0: the results
/// are still exact sums of the same per-wafer terms, so still block-invariant and reproducible,
/// only less accurate for a sensor whose mean dwarfs its spread.
class FleetMoments {
 public:
  /// @brief No sensors.
  FleetMoments() = default;
  /// @brief One sensor per entry of `shift` (c per sensor; non-finite entries are taken as 0).
  explicit FleetMoments(std::vector<double> shift);
  std::size_t n_sensors() const { return shift_.size(); }
  const std::vector<double>& shift() const { return shift_; }
  /// @brief Adds rows of per-wafer moments, [rows, n_sensors] (FeatureBlock::moments), in any
  /// order and any grouping. @throws std::invalid_argument if the size is not a whole number
  /// of rows.
  void add(std::span<const Moments> per_wafer);
  /// @brief Rows added so far.
  std::uint64_t wafers() const { return wafers_; }
  /// @brief The fleet's moments per sensor over every rank's wafers. Collective over comm
  /// (MPI_COMM_NULL: this process's wafers alone). Every rank must hold the same shift.
  std::vector<Moments> result(MPI_Comm comm) const;

 private:
  std::vector<double> shift_;
  std::vector<std::uint64_t> count_;  // samples per sensor
  std::vector<ExactSum> sums_;        // [n_sensors, 4]: Σ(x-c), Σ(x-c)², Σ(x-c)³, Σ(x-c)⁴
  std::vector<double> lo_, hi_;
  std::uint64_t wafers_ = 0;
  std::vector<double> terms_;  // add()'s scratch: one sensor's four terms per wafer
};

/// @brief Fixed-bin histogram on [lo, hi]; values outside are clamped into the end bins.
struct Histogram {
  double lo = 0.0;
  double hi = 0.0;
  std::vector<std::uint64_t> counts;
  /// @brief Bin of x (x finite): floor((x - lo) / (hi - lo) * bins), clamped to the end bins;
  /// bin 0 when hi <= lo (a degenerate range). @throws std::logic_error when there are no bins.
  std::size_t bin(double x) const;
  /// @brief Adds x when finite; NaN and ±inf are ignored.
  void add(double x);
};

/// @brief Statistics of each (sensor, feature) column across wafers: mean and std (ddof 1)
/// over wafers whose value is finite, and a fixed-bin histogram, mergeable over ranks. Each
/// rank adds its own rows (add()), then every rank calls start_histograms(comm), which sums
/// the exact column sums Σx and Σx² (products kept exact by fused multiply-add), counts and
/// min/max over the ranks; then add_to_histograms() with its rows again, then
/// reduce_histograms(comm) sums the integer counts. Mean and variance come from the exact
/// sums in double-double arithmetic (variance = (Σx² - (Σx)²/n) / (n - 1), ~106-bit
/// operands), so the result is the same bits for any split of the rows.
class FeatureColumnStats {
 public:
  /// @brief n_columns = S * F columns, `bins` histogram bins. @throws std::invalid_argument
  /// if bins == 0.
  FeatureColumnStats(std::size_t n_columns, std::size_t bins);
  /// @brief Pass 1: adds `n_wafers` rows of n_columns values, in any order; non-finite
  /// values are skipped. @throws std::invalid_argument if rows.size() != n_wafers *
  /// n_columns; std::logic_error after start_histograms().
  void add(std::span<const double> rows, std::uint64_t n_wafers);
  /// @brief Ends pass 1: sums the columns over `comm` (MPI_COMM_NULL: this process alone)
  /// and fixes each histogram's range to the column's [min, max] ([0, 0] for a column
  /// without finite values). Collective. @throws std::logic_error if called twice.
  void start_histograms(MPI_Comm comm = MPI_COMM_NULL);
  /// @brief Pass 2: adds rows to the histograms. @throws std::invalid_argument on a size
  /// mismatch; std::logic_error before start_histograms().
  void add_to_histograms(std::span<const double> rows, std::uint64_t n_wafers);
  /// @brief Sums the histogram counts over `comm`. Collective; a no-op on MPI_COMM_NULL.
  void reduce_histograms(MPI_Comm comm);

  std::size_t n_columns() const { return count_.size(); }
  /// @brief Count, mean, M2, min, max of each column (M3, M4 are 0: not kept). Valid after
  /// start_histograms(). @throws std::logic_error before.
  const std::vector<Moments>& moments() const;
  /// @brief The histogram of column c.
  const Histogram& histogram(std::size_t c) const { return histograms_[c]; }
  /// @brief std (ddof 1) of column c, NaN below two finite values. @throws std::out_of_range,
  /// std::logic_error before start_histograms().
  double stddev(std::size_t c) const;

 private:
  std::vector<std::uint64_t> count_;
  std::vector<ExactSum> sum_, sum_sq_;
  std::vector<double> min_, max_;
  std::vector<Moments> moments_;
  std::vector<Histogram> histograms_;
  std::size_t bins_;
  bool histograms_started_ = false;
};

/// @brief Anomaly score of one wafer: the largest |x - mean| / std over its finite feature
/// values, skipping columns whose std is NaN or zero (constant columns). 0 when none count.
/// @throws std::invalid_argument if wafer_row.size() != stats.n_columns().
double anomaly_score(std::span<const double> wafer_row, const FeatureColumnStats& stats);

}  // namespace wafermill::reduce
