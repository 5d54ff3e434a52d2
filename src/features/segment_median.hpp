/// @file segment_median.hpp
/// @brief The median of a segment's finite samples (CPU backend, private).
#pragma once

#include <cstddef>

namespace wafermill::features::detail {

/// @brief Median of v[0, n), all finite: the middle value, or the mean of the two middle
/// values when n is even; NaN when n == 0. Reorders v (std::nth_element, O(n) on average).
double median_in_place(double* v, std::size_t n);

}  // namespace wafermill::features::detail
