/// @file fleet.hpp
/// @brief Fleet-wide statistics built reproducibly: per-sensor moments from fixed wafer blocks
/// merged in block order, and per-(sensor, feature) statistics across wafers.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "wafermill/reduce/moments.hpp"

namespace wafermill::reduce {

/// @brief Folds per-wafer segment moments [n_wafers, n_sensors] into one Moments per sensor,
/// merging wafers in increasing order (a left fold). This is a block's partial.
/// @throws std::invalid_argument if per_wafer.size() is not a multiple of n_sensors.
std::vector<Moments> fold_wafers(std::span<const Moments> per_wafer, std::size_t n_sensors);

/// @brief Collects block partials in any order and merges them in block order.
class BlockReducer {
 public:
  /// @brief n_blocks blocks, each a vector of n_sensors Moments.
  BlockReducer(std::uint64_t n_blocks, std::size_t n_sensors);
  /// @brief Stores block b's partial (n_sensors entries). @throws std::logic_error if b was
  /// already set, is out of range, or the partial does not have n_sensors entries.
  void set_block(std::uint64_t b, std::span<const Moments> partial);
  /// @brief True when every block was set.
  bool complete() const;
  /// @brief Left fold of the blocks in block order, per sensor. @throws std::logic_error if
  /// not complete().
  std::vector<Moments> result() const;

 private:
  std::uint64_t n_blocks_;
  std::size_t n_sensors_;
  std::vector<Moments> partials_;  // [n_blocks, n_sensors]
  std::vector<char> set_;
  std::uint64_t n_set_ = 0;
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
/// over wafers whose value is finite, and a fixed-bin histogram. Two passes over the
/// feature array in wafer order: add() every wafer, then start_histograms(), then
/// add_to_histograms() every wafer again.
class FeatureColumnStats {
 public:
  /// @brief n_columns = S * F columns, `bins` histogram bins. @throws std::invalid_argument
  /// if bins == 0.
  FeatureColumnStats(std::size_t n_columns, std::size_t bins);
  /// @brief Pass 1: adds `n_wafers` rows of n_columns values, in wafer order; non-finite
  /// values are skipped. @throws std::invalid_argument if rows.size() != n_wafers *
  /// n_columns; std::logic_error after start_histograms().
  void add(std::span<const double> rows, std::uint64_t n_wafers);
  /// @brief Ends pass 1: fixes each histogram's range to the column's [min, max] ([0, 0] for
  /// a column without finite values). @throws std::logic_error if called twice.
  void start_histograms();
  /// @brief Pass 2: adds rows to the histograms. @throws std::invalid_argument on a size
  /// mismatch; std::logic_error before start_histograms().
  void add_to_histograms(std::span<const double> rows, std::uint64_t n_wafers);

  std::size_t n_columns() const { return moments_.size(); }
  /// @brief Mean, std, min, max, count of each column.
  const std::vector<Moments>& moments() const { return moments_; }
  /// @brief The histogram of column c.
  const Histogram& histogram(std::size_t c) const { return histograms_[c]; }
  /// @brief std (ddof 1) of column c, NaN below two finite values. @throws std::out_of_range.
  double stddev(std::size_t c) const;

 private:
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
