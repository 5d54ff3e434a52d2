/// @file column_stats.cpp
/// @brief Per-(sensor, feature) column statistics across wafers, their histograms, and the
/// anomaly score of a wafer against them.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "wafermill/reduce/fleet.hpp"

namespace wafermill::reduce {

std::size_t Histogram::bin(double x) const {
  const std::size_t n_bins = counts.size();
  if (n_bins == 0) throw std::logic_error("Histogram::bin: the histogram has no bins");
  // A degenerate range (a constant column, or no finite value at all) puts everything in bin 0.
  if (!(hi > lo)) return 0;
  if (x <= lo) return 0;
  if (x >= hi) return n_bins - 1;
  // numpy.histogram's equal-width rule (numpy/lib/histograms.py): i = floor((x - lo) * n /
  // (hi - lo)), then moved by one where rounding put x on the wrong side of the edges
  // lo + k * ((hi - lo) / n) that numpy.linspace would give; x == hi falls in the last bin.
  // Where hi - lo overflows (values near ±DBL_MAX) both are halved, exact for normal numbers.
  const double scale = std::isfinite(hi - lo) ? 1.0 : 0.5;
  const double span = scale * hi - scale * lo;
  const double step = span / static_cast<double>(n_bins);
  const auto edge = [&](std::size_t k) { return k == n_bins ? scale * hi : scale * lo + static_cast<double>(k) * step; };
  const double xs = scale * x;
  std::size_t i = static_cast<std::size_t>(std::min(
      static_cast<double>(n_bins - 1), (xs - scale * lo) * (static_cast<double>(n_bins) / span)));
  if (i > 0 && xs < edge(i)) --i;
  if (i + 1 < n_bins && xs >= edge(i + 1)) ++i;
  return i;
}

void Histogram::add(double x) {
  if (!std::isfinite(x)) return;
  ++counts[bin(x)];
}

FeatureColumnStats::FeatureColumnStats(std::size_t n_columns, std::size_t bins)
    : moments_(n_columns), histograms_(n_columns), bins_(bins) {
  if (bins == 0) throw std::invalid_argument("FeatureColumnStats: a histogram needs at least one bin");
}

namespace {

void check_rows(std::span<const double> rows, std::uint64_t n_wafers, std::size_t n_columns,
                const char* who) {
  if (rows.size() != n_wafers * n_columns) {
    throw std::invalid_argument(std::string(who) + ": " + std::to_string(rows.size()) +
                                " values are not " + std::to_string(n_wafers) + " rows of " +
                                std::to_string(n_columns) + " columns");
  }
}

}  // namespace

void FeatureColumnStats::add(std::span<const double> rows, std::uint64_t n_wafers) {
  if (histograms_started_) throw std::logic_error("FeatureColumnStats::add after start_histograms()");
  const std::size_t n_cols = n_columns();
  check_rows(rows, n_wafers, n_cols, "FeatureColumnStats::add");
  // Merging single samples in wafer order is Welford's update extended to M3/M4 (Pébay 2008);
  // the order is the file's, so the result does not depend on the rank count.
  for (std::uint64_t w = 0; w < n_wafers; ++w) {
    const double* row = rows.data() + w * n_cols;
    for (std::size_t c = 0; c < n_cols; ++c) {
      if (std::isfinite(row[c])) moments_[c] = merge(moments_[c], single(row[c]));
    }
  }
}

void FeatureColumnStats::start_histograms() {
  if (histograms_started_) throw std::logic_error("FeatureColumnStats::start_histograms called twice");
  for (std::size_t c = 0; c < n_columns(); ++c) {
    Histogram& h = histograms_[c];
    const Moments& m = moments_[c];
    h.lo = m.n > 0.0 ? m.min : 0.0;
    h.hi = m.n > 0.0 ? m.max : 0.0;
    h.counts.assign(bins_, 0);
  }
  histograms_started_ = true;
}

void FeatureColumnStats::add_to_histograms(std::span<const double> rows, std::uint64_t n_wafers) {
  if (!histograms_started_) {
    throw std::logic_error("FeatureColumnStats::add_to_histograms before start_histograms()");
  }
  const std::size_t n_cols = n_columns();
  check_rows(rows, n_wafers, n_cols, "FeatureColumnStats::add_to_histograms");
  for (std::uint64_t w = 0; w < n_wafers; ++w) {
    const double* row = rows.data() + w * n_cols;
    for (std::size_t c = 0; c < n_cols; ++c) histograms_[c].add(row[c]);
  }
}

double FeatureColumnStats::stddev(std::size_t c) const {
  return std::sqrt(sample_variance(moments_.at(c)));
}

double anomaly_score(std::span<const double> wafer_row, const FeatureColumnStats& stats) {
  if (wafer_row.size() != stats.n_columns()) {
    throw std::invalid_argument("anomaly_score: the row has " + std::to_string(wafer_row.size()) +
                                " values, the statistics " + std::to_string(stats.n_columns()) +
                                " columns");
  }
  // z-score max-norm: max_c |x_c - mean_c| / std_c over columns that can tell anything.
  double score = 0.0;
  for (std::size_t c = 0; c < wafer_row.size(); ++c) {
    const double x = wafer_row[c];
    if (!std::isfinite(x)) continue;
    const double sd = stats.stddev(c);
    if (!(sd > 0.0) || !std::isfinite(sd)) continue;  // NaN (under two values) or constant
    score = std::max(score, std::abs(x - stats.moments()[c].mean) / sd);
  }
  return score;
}

}  // namespace wafermill::reduce
