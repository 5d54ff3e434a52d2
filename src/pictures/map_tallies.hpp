/// @file map_tallies.hpp
/// @brief What one die map's cell loop counts, and the one function that turns those counts
/// and the clusters into MapFeatures: map_features() (CPU) and the GPU path (cuda/) both end
/// here, so the floating features are formed by the same code from the same exact values.
#pragma once

#include <array>
#include <cstdint>

#include "wafermill/pictures/components.hpp"
#include "wafermill/pictures/die_map.hpp"

namespace wafermill::pictures::detail {

/// @brief Integer tallies of one map's cell loop.
struct MapTallies {
  std::uint64_t die_count = 0, fail_count = 0;
  std::uint64_t radius4 = 0;  ///< the largest math::centre_dist4 of a die (4 R²)
  std::array<std::uint64_t, 3> zone_dies{}, zone_fails{};
  std::array<std::uint64_t, kEdgeSectors> sector_dies{}, sector_fails{};
};

/// @brief The features from the tallies and the failing-die clusters of a rows × cols map:
/// yield, zone fail fractions, edge ring ratio, failing edge sectors, cluster features and the
/// ρ of the largest cluster's centroid (hypot, on the host).
MapFeatures finish_map_features(const MapTallies& t, const ComponentSummary& clusters,
                                std::uint32_t rows, std::uint32_t cols);

}  // namespace wafermill::pictures::detail
