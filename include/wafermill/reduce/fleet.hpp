/// @file fleet.hpp
/// @brief Fleet-wide statistics built reproducibly from rows spread over ranks: per-sensor
/// moments from fixed wafer blocks, and per-(sensor, feature) statistics across wafers, both
/// reduced through exact sums, so any number of ranks gives the same bits.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include <mpi.h>

#include "wafermill/reduce/exact_sum.hpp"
#include "wafermill/reduce/moments.hpp"

namespace wafermill::reduce {

/// @brief Folds per-wafer segment moments [n_wafers, n_sensors] into one Moments per sensor,
/// merging wafers in increasing order (a left fold). This is a block's partial.
/// @throws std::invalid_argument if per_wafer.size() is not a multiple of n_sensors.
std::vector<Moments> fold_wafers(std::span<const Moments> per_wafer, std::size_t n_sensors);

/// @brief Per-sensor moments of the whole fleet from block partials held by any number of
/// ranks, bitwise the same for every split of the blocks over ranks and every order: the
/// state that crosses ranks is O(sensors), exact sums (exact_sum.hpp), not O(blocks).
///
/// Two all-reductions: (1) the count and the exact Σ n_b·mean_b per sensor give a shift c
/// (the fleet mean, rounded); (2) each block's sums of (x - c)^k, k = 1..4, from its central
/// moments (Pébay 2008, eq. 2.1-2.4 with the second set a single point at c), are summed
/// exactly. The moments follow from the shifted power sums; shifting by c first keeps the
/// cancellation of M2..M4 small however large the mean is against the spread.
class FleetMoments {
 public:
  explicit FleetMoments(std::size_t n_sensors) : n_sensors_(n_sensors) {}
  /// @brief Keeps one block's partial (n_sensors entries, fold_wafers of its wafers).
  /// @throws std::invalid_argument on a size mismatch.
  void add_block(std::span<const Moments> partial);
  /// @brief Blocks added so far.
  std::uint64_t blocks() const { return n_sensors_ == 0 ? 0 : partials_.size() / n_sensors_; }
  /// @brief The fleet's moments per sensor over every rank's blocks. Collective over comm
  /// (MPI_COMM_NULL: this process's blocks alone).
  std::vector<Moments> result(MPI_Comm comm) const;

 private:
  std::size_t n_sensors_;
  std::vector<Moments> partials_;  // [blocks, n_sensors]
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
