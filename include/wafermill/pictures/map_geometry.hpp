/// @file map_geometry.hpp
/// @brief Die-map descriptors measured in dies rather than in fractions of the radius: each
/// die's distance from the wafer edge in die pitches, fixed-width ring and band zones, radial
/// and angular fail profiles, line projections and the shape of the largest denoised cluster
/// (a ring, a blob or a line). Formulas and widths: docs/PICTURES.md "Geometry".
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace wafermill::pictures {

struct MapView;

/// @brief Edge zone widths in die pitches, the same on a 25-row and a 200-row map: the ring is
/// the dies at most kRingPitches from the edge (a WM-811K edge ring is 1–3 dies wide), the band
/// the next ones up to kBandPitches.
inline constexpr int kRingPitches = 2;
inline constexpr int kBandPitches = 6;
/// @brief Radial profile bins: ρ in [0, 0.2), [0.2, 0.4), …, [0.8, ∞).
inline constexpr int kRadialBins = 5;
/// @brief Angular sectors of the ring profile and of the cluster coverage.
inline constexpr int kAngularSectors = 16;
/// @brief A failing die joins the denoised mask when at least this many of its 8 neighbours
/// fail: isolated (random) failures drop out, lines one die wide stay.
inline constexpr int kDenoiseNeighbours = 2;
/// @brief Lines of a projection with fewer dies than this are left out (their fail fraction
/// is mostly noise).
inline constexpr int kLineMinDies = 8;

/// @brief The descriptors of one map, appended to MapFeatures' first 12 columns.
struct MapGeometry {
  double wafer_pitches = 0;    ///< the largest edge distance of a die (the radius in pitches)
  double ring_fail = 0;        ///< fails / dies with edge distance ≤ kRingPitches
  double band_fail = 0;        ///< the same for kRingPitches < distance ≤ kBandPitches
  double inner_fail = 0;       ///< the same beyond kBandPitches
  std::array<double, kRadialBins> radial_fail{};  ///< fail fraction per ρ bin
  double ring_sector_max = 0;  ///< the largest fail fraction of a ring sector
  double ring_sector_min = 0;  ///< the smallest (sectors with ring dies only)
  double ring_coverage = 0;    ///< share of ring sectors whose fail fraction ≥ 0.2
  double sector_fail_cv = 0;   ///< coefficient of variation of the 8 whole-map sector fail fractions
  double line_peak = 0;        ///< max over rows, columns and diagonals of line fail fraction − overall
  double isolated_share = 0;   ///< share of fails not in the denoised mask
  double cluster_share = 0;    ///< dies of the largest denoised cluster (8-connected) / fails
  double cluster_area = 0;     ///< its dies / dies on the wafer
  double cluster_coverage = 0; ///< share of angular sectors holding one of its dies at ρ > 0.5
  double cluster_edge = 0;     ///< mean edge distance of its dies, in pitches
  double cluster_rho_mean = 0; ///< mean ρ of its dies
  double cluster_rho_std = 0;  ///< their ρ's standard deviation (a ring's band is narrow)
  double cluster_centroid_rho = 0;  ///< ρ of its centroid (a ring's is near 0: a hole)
  double cluster_elongation = 0;    ///< math::elongation of its cells
  double cluster_thickness = 0;     ///< sqrt(12 λmin), pitches across its line fit
  double cluster_length = 0;        ///< sqrt(12 λmax) / (2 · wafer_pitches)
};

/// @brief Column names of MapGeometry, in geometry_values() order.
std::vector<std::string_view> geometry_names();
/// @brief The descriptors as doubles, in geometry_names() order.
std::vector<double> geometry_values(const MapGeometry& g);

/// @brief Edge distance of every cell in die pitches (0 where there is no die; 1 for a die
/// touching a no-die cell or the map's border, 8-neighbourhood; chessboard distance beyond).
std::vector<std::uint32_t> edge_distance(const MapView& map);

/// @brief The descriptors of one map. Cells must be 0, 1 or 2 (map_features checks them).
MapGeometry map_geometry(const MapView& map);

}  // namespace wafermill::pictures
