/// @file die_map.hpp
/// @brief Features of one die map (WM-811K cell convention) and the trained classifier that
/// names its failure pattern. Zones, descriptors and the classifier: docs/PICTURES.md.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <optional>
#include <string_view>
#include <vector>

#include "wafermill/pictures/map_geometry.hpp"
#include "wafermill/pictures/picture_math.hpp"

namespace wafermill::pictures {

/// @brief Cell values of /maps/cells (WM-811K): no die, a passing die, a failing die.
enum class DieCell : std::uint8_t { none = 0, pass = 1, fail = 2 };

/// @brief One wafer's map: rows × cols cells, row-major.
struct MapView {
  std::span<const std::uint8_t> cells;
  std::uint32_t rows = 0;
  std::uint32_t cols = 0;
};

/// @brief Radial zones by ρ = distance from the map centre / wafer radius (the largest
/// distance of any die's centre): centre ρ ≤ 0.35, middle 0.35 < ρ ≤ 0.75, edge ρ > 0.75
/// (kCentreMaxRho, kMiddleMaxRho and kEdgeSectors live in picture_math.hpp).
enum class Zone : std::uint8_t { centre = 0, middle = 1, edge = 2 };

/// @brief Per-map features (docs/PICTURES.md gives each formula).
struct MapFeatures {
  std::uint64_t die_count = 0;
  std::uint64_t fail_count = 0;
  double yield = 0.0;                       ///< passing dies / dies (0 without dies)
  std::array<double, 3> zone_fail{};        ///< fails / dies in each Zone (0 for an empty zone)
  double edge_ring_ratio = 0.0;             ///< fails in the edge zone / all fails (0 without fails)
  std::uint64_t n_clusters = 0;             ///< 4-connected clusters of failing dies
  std::uint64_t largest_cluster = 0;        ///< dies in the largest cluster
  double largest_elongation = 0.0;          ///< ComponentShape::elongation of the largest
  double largest_rho = 0.0;                 ///< ρ of the largest cluster's centroid
  std::uint32_t edge_sectors_failing = 0;   ///< edge sectors with fail fraction ≥ 0.3
  MapGeometry geometry;                     ///< descriptors in die pitches (columns 13 on)
};

/// @brief Names of the MapFeatures fields as written to outputs, in to_values() order: the
/// 12 first columns, then geometry_names().
std::vector<std::string_view> map_feature_names();
/// @brief The features as doubles, in map_feature_names() order.
std::vector<double> to_values(const MapFeatures& f);

/// @brief Computes the features of one map. Cells must be 0, 1 or 2 (format/ validates).
/// @throws std::invalid_argument if cells.size() != rows * cols or a cell is above 2.
MapFeatures map_features(const MapView& map, std::vector<std::uint32_t>& scratch);

/// @brief Failure patterns of WM-811K (its label order), as the generator plants them.
enum class MapPattern : std::uint8_t {
  none = 0,
  centre = 1,
  donut = 2,
  edge_local = 3,
  edge_ring = 4,
  local = 5,
  near_full = 6,
  random = 7,
  scratch = 8
};
inline constexpr int kMapPatterns = 9;

/// @brief "none", "centre", "donut", "edge-local", "edge-ring", "local", "near-full",
/// "random", "scratch". @throws std::out_of_range for a value above 8.
std::string_view pattern_name(MapPattern p);

/// @brief The pattern a label names: a pattern_name, or a WM-811K failure type ("Center",
/// "Donut", "Edge-Loc", "Edge-Ring", "Loc", "Near-full", "Random", "Scratch", "none"), case
/// ignored; nullopt for anything else (an unlabelled or unknown map).
std::optional<MapPattern> pattern_from_label(std::string_view label);

/// @brief Names the pattern of a map from its features: the gradient-boosted trees of
/// map_model_params.hpp (trained by tools/map_model, docs/PICTURES.md "Classifier"); a map
/// without dies is none.
MapPattern classify_pattern(const MapFeatures& f);

/// @brief The classifier's score of each pattern for a row of to_values() (the largest names
/// the pattern; ties go to the lower pattern). @throws std::invalid_argument on a row of
/// another length.
std::array<double, kMapPatterns> pattern_scores(std::span<const double> features);

/// @brief The feature names the shipped model was trained on (equal to map_feature_names()).
std::vector<std::string_view> model_feature_names();

/// @brief Fail counts per cell over the wafers of one map shape (the fleet's fail-probability
/// map is counts / wafers). Integer sums: exact and order-independent.
struct FailCountMap {
  std::uint32_t rows = 0, cols = 0;
  std::uint64_t wafers = 0;
  std::vector<std::uint64_t> fails;  ///< rows * cols counts

  /// @brief Adds one map of this shape. @throws std::invalid_argument on another shape.
  void add(const MapView& map);
  /// @brief Adds the counts and wafers of another sum of this shape (a rank's, a GPU batch's).
  /// @throws std::invalid_argument on another shape or a fails vector of the wrong size.
  void merge(const FailCountMap& other);
  /// @brief fails[i] / wafers (0 when no wafers).
  std::vector<double> probability() const;
};

}  // namespace wafermill::pictures
