/// @file components.hpp
/// @brief Connected components (4-connectivity) of a boolean grid: failing-die clusters of a
/// die map and defect blobs of an inspection image share this one routine.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace wafermill::pictures {

/// @brief Shape of the largest component: its size, centroid and coordinate covariance.
struct ComponentShape {
  std::uint64_t size = 0;  ///< cells
  double row_mean = 0.0, col_mean = 0.0;
  double var_row = 0.0, var_col = 0.0, cov = 0.0;  ///< population (co)variances of the cells
  /// @brief sqrt(λ_max / λ_min) of the covariance, λ_min floored at 1/12 (the variance of a
  /// unit cell), so a single cell or a straight line of width 1 stays finite. 0 when empty.
  double elongation() const;
};

/// @brief A component's shape from sums over its cells of r, c, r², c² and r·c (integers below
/// 2^53, exact in double): the CPU flood fill and the GPU's integer sums both end here.
ComponentShape shape_from_sums(std::uint64_t size, double s_r, double s_c, double s_rr, double s_cc,
                               double s_rc);

/// @brief What a component search found.
struct ComponentSummary {
  std::uint64_t count = 0;  ///< number of components
  ComponentShape largest;   ///< the largest; on ties the first in row-major scan order
};

/// @brief Components of the cells where mask[r * cols + c] != 0 (4-connectivity: a cell
/// touches its up, down, left and right neighbours). `scratch` is reused between calls to
/// avoid allocation. @throws std::invalid_argument if mask.size() != rows * cols.
ComponentSummary find_components(std::span<const std::uint8_t> mask, std::uint32_t rows,
                                 std::uint32_t cols, std::vector<std::uint32_t>& scratch);

}  // namespace wafermill::pictures
