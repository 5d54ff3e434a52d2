/// @file feature_block.cpp
/// @brief FeatureBlock: sizing and indexing of the per-wafer result arrays.
#include <cassert>
#include <cmath>

#include "wafermill/features/backend.hpp"
#include "wafermill/huge_pages.hpp"

namespace wafermill::features {

void FeatureBlock::reset(std::uint64_t first, std::uint64_t n, const FeatureLayout& l) {
  first_wafer = first;
  n_wafers = n;
  layout = l;
  const std::size_t f = l.features.size();
  // NaN, not stale values, in entries a backend leaves unwritten (sensors outside every chunk);
  // compute_seconds starts at 0 because extract() adds to it, once per column chunk.
  // Sized once per batch size and reused; first touched in 2 MiB pages where offered.
  reserve_huge(values, n * l.n_sensors * f, Populate::yes);
  reserve_huge(by_step, n * l.n_steps * l.n_sensors * f, Populate::yes);
  reserve_huge(moments, n * l.n_sensors, Populate::yes);
  values.assign(n * l.n_sensors * f, NAN);
  by_step.assign(n * l.n_steps * l.n_sensors * f, NAN);
  moments.assign(n * l.n_sensors, reduce::Moments{});
  compute_seconds.assign(n, 0.0);
}

double* FeatureBlock::at(std::uint64_t wafer, std::size_t sensor) {
  assert(wafer >= first_wafer && wafer - first_wafer < n_wafers && sensor < layout.n_sensors);
  const std::size_t f = layout.features.size();
  return values.data() + ((wafer - first_wafer) * layout.n_sensors + sensor) * f;
}

double* FeatureBlock::at_step(std::uint64_t wafer, std::size_t step, std::size_t sensor) {
  assert(wafer >= first_wafer && wafer - first_wafer < n_wafers && step < layout.n_steps &&
         sensor < layout.n_sensors);
  const std::size_t f = layout.features.size();
  const std::size_t s = layout.n_sensors;
  return by_step.data() + (((wafer - first_wafer) * layout.n_steps + step) * s + sensor) * f;
}

}  // namespace wafermill::features
