/// @file picture_math.hpp
/// @brief The per-element formulas of die maps and inspection images, shared by the CPU code
/// (die_map.cpp, components.cpp, inspection_image.cpp) and the CUDA kernels (src/pictures/cuda),
/// so the two cannot drift. Functions marked WAFERMILL_HD compile for host and device; they use
/// only IEEE operations that round the same on both (+ − × ÷, sqrt, comparisons), built
/// without FMA contraction (-ffp-contract=off, nvcc --fmad=false). edge_sector() uses atan2,
/// which CUDA does not round like glibc: it is host-only, and the GPU path looks sectors up in
/// a per-shape table computed with it (docs/PICTURES.md "CUDA").
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>

#include "wafermill/hd.hpp"

namespace wafermill::pictures {

/// @brief Radial zone boundaries of a die map: centre ρ ≤ 0.35, middle ρ ≤ 0.75, edge beyond.
inline constexpr double kCentreMaxRho = 0.35;
inline constexpr double kMiddleMaxRho = 0.75;
/// @brief Angular sectors of the edge zone, for telling a whole ring from a local arc.
inline constexpr int kEdgeSectors = 8;

namespace math {

/// @brief 4 · d², d the distance of cell (r, c) from the map centre ((rows−1)/2, (cols−1)/2):
/// (2r − rows + 1)² + (2c − cols + 1)², an exact integer (sides ≤ 2^20).
WAFERMILL_HD inline std::uint64_t centre_dist4(std::uint32_t r, std::uint32_t c, std::uint32_t rows,
                                               std::uint32_t cols) {
  const std::int64_t dr = 2 * std::int64_t{r} - std::int64_t{rows} + 1;
  const std::int64_t dc = 2 * std::int64_t{c} - std::int64_t{cols} + 1;
  return static_cast<std::uint64_t>(dr * dr + dc * dc);
}

/// @brief d² from centre_dist4: exact (a multiple of 1/4 below 2^53), equal to the double
/// (r − cr)² + (c − cc)².
WAFERMILL_HD inline double dist_sq(std::uint64_t dist4) {
  return static_cast<double>(dist4) * 0.25;
}

/// @brief ρ of a die centre: sqrt(d²) / R (0 when R = 0). sqrt and ÷ are correctly rounded on
/// host and device alike (glibc's hypot is not: it differs from sqrt of the exact d² in the
/// last bit for 0.6 % of half-integer pairs, hence sqrt here).
WAFERMILL_HD inline double die_rho(double d_sq, double radius) {
  return radius > 0 ? ::sqrt(d_sq) / radius : 0.0;
}

/// @brief Zone of a die (0 centre, 1 middle, 2 edge) from its d² and the wafer radius R.
WAFERMILL_HD inline int zone_of(double d_sq, double radius) {
  const double rho = die_rho(d_sq, radius);
  return rho <= kCentreMaxRho ? 0 : rho <= kMiddleMaxRho ? 1 : 2;
}

/// @brief Angular sector 0..n−1 of cell (r, c): the angle atan2(r − cr, c − cc) + π in n-ths
/// of a turn (2π itself folds into sector n − 1). Host only: atan2 differs between glibc and
/// CUDA.
inline int angle_sector(std::uint32_t r, std::uint32_t c, std::uint32_t rows, std::uint32_t cols,
                        int n) {
  const double cr = 0.5 * (double(rows) - 1.0), cc = 0.5 * (double(cols) - 1.0);
  const double angle = std::atan2(r - cr, c - cc) + std::numbers::pi;  // [0, 2π]
  const int s = static_cast<int>(angle / (2 * std::numbers::pi) * n);
  return s < n - 1 ? s : n - 1;
}

/// @brief Edge sector 0..7 of cell (r, c): angle_sector with kEdgeSectors sectors.
inline int edge_sector(std::uint32_t r, std::uint32_t c, std::uint32_t rows, std::uint32_t cols) {
  return angle_sector(r, c, rows, cols, kEdgeSectors);
}

/// @brief Shape of a set of cells from exact sums of its coordinates (integers below 2^53,
/// so the double sums of the CPU flood fill and the integer sums of the GPU convert to the
/// same values): the centroid and the population (co)variances.
struct ShapeMoments {
  double row_mean = 0, col_mean = 0, var_row = 0, var_col = 0, cov = 0;
};
WAFERMILL_HD inline ShapeMoments shape_from_sums(double size, double s_r, double s_c, double s_rr,
                                                 double s_cc, double s_rc) {
  ShapeMoments m;
  m.row_mean = s_r / size;
  m.col_mean = s_c / size;
  m.var_row = s_rr / size - m.row_mean * m.row_mean;
  m.var_col = s_cc / size - m.col_mean * m.col_mean;
  m.cov = s_rc / size - m.row_mean * m.col_mean;
  return m;
}

/// @brief sqrt(λmax / λmin) of [[var_row, cov], [cov, var_col]], both eigenvalues floored at
/// 1/12 (the variance of a unit cell) so that a single cell or a straight line stays finite.
WAFERMILL_HD inline double elongation(double var_row, double var_col, double cov) {
  // Eigenvalues: m ± sqrt(d² + cov²), m the mean of the diagonal and d half its difference.
  const double m = 0.5 * (var_row + var_col);
  const double d = 0.5 * (var_row - var_col);
  const double root = ::sqrt(d * d + cov * cov);
  constexpr double kCellVariance = 1.0 / 12.0;
  const double hi = m + root < kCellVariance ? kCellVariance : m + root;
  const double lo = m - root < kCellVariance ? kCellVariance : m - root;
  return ::sqrt(hi / lo);
}

/// @brief The leaf value of one decision tree for the feature row x: from node `root`, go to
/// `left` when x[feature] <= threshold, else to `right`, until a node whose feature is −1. The
/// map classifier's trees (map_model_params.hpp) are walked by this one function.
WAFERMILL_HD inline double tree_leaf(const double* x, std::int32_t root, const std::int16_t* feature,
                                     const double* threshold, const std::int32_t* left,
                                     const std::int32_t* right, const double* value) {
  std::int32_t k = root;
  while (feature[k] >= 0) k = x[feature[k]] <= threshold[k] ? left[k] : right[k];
  return value[k];
}

/// @brief Whether value x deviates from the golden image: |x − mean| > k · max(std, floor).
WAFERMILL_HD inline bool value_deviates(double x, double mean, double std, double k_sigma,
                                        double std_floor) {
  const double scale = std < std_floor ? std_floor : std;  // std::max(std, std_floor)
  return ::fabs(x - mean) > k_sigma * scale;
}

// 128-bit integers (a GCC/Clang extension, also in nvcc) hold n·Σx² exactly.
__extension__ using U128 = unsigned __int128;

/// @brief Population std sqrt(n·Σx² − (Σx)²) / n from exact integer sums (each below 2^64 for
/// one image of at most 2^32 values of 16 bits, or a golden pixel within kMaxGoldenImages),
/// formed in 128 bits so the subtraction loses nothing; 0 when n = 0. Host only (the GPU path
/// returns its integer sums and finishes here).
inline double exact_std(std::uint64_t n, U128 sum, U128 sum_sq) {
  if (n == 0) return 0.0;
  const U128 num = static_cast<U128>(n) * sum_sq - sum * sum;
  return std::sqrt(static_cast<double>(num)) / static_cast<double>(n);
}

}  // namespace math
}  // namespace wafermill::pictures
