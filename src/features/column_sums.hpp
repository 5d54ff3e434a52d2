/// @file column_sums.hpp
/// @brief Running segment sums of many sensor columns at once, stored as structure of arrays
/// so that strip_kernel.hpp can load and store the sums of adjacent columns as SIMD vectors.
/// Private to the CPU backend.
#pragma once

#include <cmath>
#include <cstddef>
#include <vector>

#include "wafermill/features/segment.hpp"

namespace wafermill::features::detail {

/// @brief Pointers to the per-column arrays of one group of segments (one per column).
struct ColumnGroup {
  double* count;
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
  static constexpr std::size_t kArrays = 11;  // the arrays of ColumnGroup
  /// Arrays are padded to a multiple of the widest strip, so a partial strip may store all
  /// its lanes.
  static constexpr std::size_t kMaxLanes = 8;  // the AVX-512 kernel's

  /// @brief Zeroes the sums for a new wafer; reallocates only when the shape grows.
  void reset(std::size_t groups, std::size_t n_columns) {
    stride_ = (n_columns + kMaxLanes - 1) / kMaxLanes * kMaxLanes;
    data_.assign(groups * kArrays * stride_, 0.0);
    positions_.assign(groups, 0.0);
    for (std::size_t g = 0; g < groups; ++g) {
      const ColumnGroup v = group(g);
      for (std::size_t c = 0; c < stride_; ++c) {
        v.min[c] = HUGE_VAL;
        v.max[c] = -HUGE_VAL;
      }
    }
  }

  /// @brief The arrays of group g.
  ColumnGroup group(std::size_t g) {
    double* b = data_.data() + g * kArrays * stride_;
    const std::size_t n = stride_;
    return {b,         b + n,     b + 2 * n, b + 3 * n, b + 4 * n, b + 5 * n,
            b + 6 * n, b + 7 * n, b + 8 * n, b + 9 * n, b + 10 * n};
  }

  /// @brief Position counter of group g: the samples each of its segments has seen.
  double& positions(std::size_t g) { return positions_[g]; }

  /// @brief The SegmentSums of column c in group g, as add_sample() would have left them
  /// (invalid = positions - count: both are exact integers in double).
  SegmentSums segment(std::size_t g, std::size_t c) {
    const ColumnGroup v = group(g);
    SegmentSums s;
    s.positions = positions_[g];
    s.count = v.count[c];
    s.invalid = s.positions - s.count;
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
  std::size_t stride_ = 0;
  std::vector<double> data_;  // [groups][kArrays][stride_]
  std::vector<double> positions_;
};

}  // namespace wafermill::features::detail
