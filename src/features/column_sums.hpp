/// @file column_sums.hpp
/// @brief Running segment sums of many sensor columns at once, stored as structure of arrays
/// so that the CPU backend's inner loop over the columns of one row streams and vectorises.
///
/// Private to the CPU backend. accumulate_row() is add_sample() of segment.hpp rewritten
/// without branches (see its comment for why the result is the same to the bit): a column's
/// SegmentSums equal those of calling add_sample() on its samples in order, and so do the
/// features finalised from them. tests/features checks this with memcmp.
#pragma once

#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "wafermill/features/segment.hpp"

namespace wafermill::features::detail {

/// @brief Pointers to the per-column arrays of one group of segments (one per column).
struct ColumnGroup {
  double* count;
  double* invalid;
  double* shift;
  double* s1;
  double* s2;
  double* s3;
  double* s4;
  double* sp;
  double* spp;
  double* spd;
  double* min;
  double* max;
};

/// @brief Sums of `groups` × `n_columns` segments: group 0 is the whole wafer, group 1 + k
/// recipe step k. Every segment of a group shares its position counter, since all columns of
/// a row belong to the same step.
class ColumnSums {
 public:
  static constexpr std::size_t kArrays = 12;  // the arrays of ColumnGroup

  /// @brief Zeroes the sums for a new wafer; reallocates only when the shape grows.
  void reset(std::size_t groups, std::size_t n_columns) {
    groups_ = groups;
    n_columns_ = n_columns;
    data_.assign(groups * kArrays * n_columns, 0.0);
    positions_.assign(groups, 0.0);
    for (std::size_t g = 0; g < groups; ++g) {
      const ColumnGroup v = group(g);
      for (std::size_t c = 0; c < n_columns; ++c) {
        v.min[c] = HUGE_VAL;
        v.max[c] = -HUGE_VAL;
      }
    }
  }

  /// @brief The arrays of group g.
  ColumnGroup group(std::size_t g) {
    double* b = data_.data() + g * kArrays * n_columns_;
    const std::size_t n = n_columns_;
    return {b,         b + n,     b + 2 * n, b + 3 * n, b + 4 * n,  b + 5 * n,
            b + 6 * n, b + 7 * n, b + 8 * n, b + 9 * n, b + 10 * n, b + 11 * n};
  }

  /// @brief Position counter of group g: the samples each of its segments has seen.
  double& positions(std::size_t g) { return positions_[g]; }

  /// @brief The SegmentSums of column c in group g, as add_sample() would have left them.
  SegmentSums segment(std::size_t g, std::size_t c) {
    const ColumnGroup v = group(g);
    SegmentSums s;
    s.positions = positions_[g];
    s.count = v.count[c];
    s.invalid = v.invalid[c];
    s.shift = v.shift[c];
    s.s1 = v.s1[c];
    s.s2 = v.s2[c];
    s.s3 = v.s3[c];
    s.s4 = v.s4[c];
    s.sp = v.sp[c];
    s.spp = v.spp[c];
    s.spd = v.spd[c];
    s.min = v.min[c];
    s.max = v.max[c];
    return s;
  }

 private:
  std::size_t groups_ = 0;
  std::size_t n_columns_ = 0;
  std::vector<double> data_;  // [groups][kArrays][n_columns]
  std::vector<double> positions_;
};

/// @brief One row's samples made ready for accumulate_row(): every select on "is the sample
/// finite" happens here, in a loop of its own. (Selects on that one condition in the
/// accumulating loop get turned back into branches by GCC, which then will not vectorise it.)
class PreparedRow {
 public:
  /// @brief Reads row[0, n): value (0 when not finite), weight 1/0 (finite or not), and the
  /// candidates for min and max (+inf and -inf, which never win, when not finite).
  template <class T>
  void prepare(const T* row, std::size_t n) {
    if (value_.size() < n) {
      value_.resize(n);
      weight_.resize(n);
      low_.resize(n);
      high_.resize(n);
    }
    split(row, n, value_.data(), weight_.data(), low_.data(), high_.data());
    n_ = n;
  }

  std::size_t size() const { return n_; }
  const double* value() const { return value_.data(); }
  const double* weight() const { return weight_.data(); }
  const double* low() const { return low_.data(); }
  const double* high() const { return high_.data(); }

 private:
  // Parameters, not members, so that __restrict holds (see accumulate_columns).
  template <class T>
  static void split(const T* __restrict row, std::size_t n, double* __restrict value,
                    double* __restrict weight, double* __restrict low, double* __restrict high) {
    for (std::size_t c = 0; c < n; ++c) {
      const double x = static_cast<double>(row[c]);
      const bool finite = std::fabs(x) <= DBL_MAX;  // false for NaN and ±Inf
      value[c] = finite ? x : 0.0;
      weight[c] = finite ? 1.0 : 0.0;
      low[c] = finite ? x : HUGE_VAL;
      high[c] = finite ? x : -HUGE_VAL;
    }
  }

  std::size_t n_ = 0;
  std::vector<double> value_, weight_, low_, high_;
};

/// @brief The loop of accumulate_row(). Its arrays are parameters because GCC honours
/// __restrict on parameters only, and without it the loop is not vectorised.
inline void accumulate_columns(std::size_t n, double p, const double* __restrict value,
                               const double* __restrict weight, const double* __restrict low,
                               const double* __restrict high, double* __restrict count,
                               double* __restrict invalid, double* __restrict shift,
                               double* __restrict s1, double* __restrict s2,
                               double* __restrict s3, double* __restrict s4,
                               double* __restrict sp, double* __restrict spp,
                               double* __restrict spd, double* __restrict mn,
                               double* __restrict mx) {
  const double pp = p * p;
  for (std::size_t c = 0; c < n; ++c) {
    const double x = value[c];
    const double w = weight[c];
    const double k = count[c] == 0.0 ? x : shift[c];
    const double d = (x - k) * w;
    const double d2 = d * d;
    shift[c] = k;
    count[c] += w;
    invalid[c] += 1.0 - w;
    s1[c] += d;
    s2[c] += d2;
    s3[c] += d2 * d;
    s4[c] += d2 * d2;
    sp[c] += p * w;  // p >= 0: p·0 = +0
    spp[c] += pp * w;
    spd[c] += p * d;
    const double lo = low[c];
    const double hi = high[c];
    mn[c] = lo < mn[c] ? lo : mn[c];
    mx[c] = hi > mx[c] ? hi : mx[c];
  }
}

/// @brief add_sample(segment c, x[c]) for every column c of the prepared row, every segment
/// at position p. For a finite x this is add_sample's arithmetic, operation for operation:
/// K = x when count is 0, d = (x - K)·1, the same sums, x < min ? x : min. For a non-finite x
/// (value 0, weight 0): K is left as it was (or stays the initial +0 while count is 0),
/// d = (0 - K)·0 = ±0, and every sum gains ±0 or +0, which changes no bit of it (a sum that
/// starts at +0 never becomes -0 under round-to-nearest, and y + ±0 = y for any other y).
inline void accumulate_row(const PreparedRow& row, double p, const ColumnGroup& g) {
  accumulate_columns(row.size(), p, row.value(), row.weight(), row.low(), row.high(), g.count,
                     g.invalid, g.shift, g.s1, g.s2, g.s3, g.s4, g.sp, g.spp, g.spd, g.min,
                     g.max);
}

}  // namespace wafermill::features::detail
