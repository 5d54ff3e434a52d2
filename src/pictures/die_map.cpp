/// @file die_map.cpp
/// @brief Die-map features, the pattern rules and per-shape fail counts (docs/PICTURES.md).
#include "wafermill/pictures/die_map.hpp"

#include <algorithm>
#include <cctype>
#include <string>
#include <cmath>
#include <stdexcept>

#include "map_tallies.hpp"
#include "wafermill/pictures/components.hpp"

namespace wafermill::pictures {
namespace {

/// An edge sector "fails" when at least this share of its dies fail (a ring covers all
/// sectors, an edge-local blob one to three).
constexpr double kSectorFailing = 0.3;

void check_map(const MapView& map) {
  if (map.cells.size() != static_cast<std::size_t>(map.rows) * map.cols)
    throw std::invalid_argument("die map: cells.size() != rows * cols");
}

}  // namespace

std::vector<std::string_view> map_feature_names() {
  std::vector<std::string_view> names = {
      "die_count",       "fail_count",         "yield",       "fail_centre",
      "fail_middle",     "fail_edge",          "edge_ring_ratio", "n_clusters",
      "largest_cluster", "largest_elongation", "largest_rho", "edge_sectors_failing"};
  for (const auto name : geometry_names()) names.push_back(name);
  return names;
}

std::vector<double> to_values(const MapFeatures& f) {
  std::vector<double> v = {double(f.die_count),   double(f.fail_count),    f.yield,
                           f.zone_fail[0],         f.zone_fail[1],          f.zone_fail[2],
                           f.edge_ring_ratio,      double(f.n_clusters),    double(f.largest_cluster),
                           f.largest_elongation,   f.largest_rho,           double(f.edge_sectors_failing)};
  for (const double x : geometry_values(f.geometry)) v.push_back(x);
  return v;
}

MapFeatures map_features(const MapView& map, std::vector<std::uint32_t>& scratch) {
  check_map(map);
  detail::MapTallies t;
  // Wafer radius: the largest distance of a die's centre from the map centre (exact 4·d²).
  for (std::uint32_t r = 0; r < map.rows; ++r) {
    for (std::uint32_t c = 0; c < map.cols; ++c) {
      const std::uint8_t v = map.cells[std::size_t(r) * map.cols + c];
      if (v > 2) throw std::invalid_argument("die map: cell value above 2");
      if (v == 0) continue;
      t.radius4 = std::max(t.radius4, math::centre_dist4(r, c, map.rows, map.cols));
    }
  }
  const double radius = std::sqrt(math::dist_sq(t.radius4));

  std::vector<std::uint8_t> fail_mask(map.cells.size(), 0);
  for (std::uint32_t r = 0; r < map.rows; ++r) {
    for (std::uint32_t c = 0; c < map.cols; ++c) {
      const std::size_t i = std::size_t(r) * map.cols + c;
      const std::uint8_t v = map.cells[i];
      if (v == 0) continue;
      const bool fail = v == static_cast<std::uint8_t>(DieCell::fail);
      fail_mask[i] = fail ? 1 : 0;
      ++t.die_count;
      t.fail_count += fail;
      const int zone = math::zone_of(math::dist_sq(math::centre_dist4(r, c, map.rows, map.cols)),
                                     radius);
      ++t.zone_dies[zone];
      t.zone_fails[zone] += fail;
      if (zone == 2) {
        const int s = math::edge_sector(r, c, map.rows, map.cols);
        ++t.sector_dies[s];
        t.sector_fails[s] += fail;
      }
    }
  }
  const ComponentSummary clusters = find_components(fail_mask, map.rows, map.cols, scratch);
  MapFeatures f = detail::finish_map_features(t, clusters, map.rows, map.cols);
  f.geometry = map_geometry(map);
  return f;
}

namespace detail {

MapFeatures finish_map_features(const MapTallies& t, const ComponentSummary& clusters,
                                std::uint32_t rows, std::uint32_t cols) {
  MapFeatures f;
  f.die_count = t.die_count;
  f.fail_count = t.fail_count;
  if (f.die_count > 0) f.yield = double(f.die_count - f.fail_count) / double(f.die_count);
  for (int z = 0; z < 3; ++z)
    f.zone_fail[z] = t.zone_dies[z] > 0 ? double(t.zone_fails[z]) / double(t.zone_dies[z]) : 0.0;
  if (f.fail_count > 0) f.edge_ring_ratio = double(t.zone_fails[2]) / double(f.fail_count);
  for (int s = 0; s < kEdgeSectors; ++s)
    if (t.sector_dies[s] > 0 &&
        double(t.sector_fails[s]) >= kSectorFailing * double(t.sector_dies[s]))
      ++f.edge_sectors_failing;
  f.n_clusters = clusters.count;
  f.largest_cluster = clusters.largest.size;
  f.largest_elongation = clusters.largest.elongation();
  const double radius = std::sqrt(math::dist_sq(t.radius4));
  if (clusters.largest.size > 0 && radius > 0) {
    const double cr = 0.5 * (double(rows) - 1.0), cc = 0.5 * (double(cols) - 1.0);
    f.largest_rho =
        std::hypot(clusters.largest.row_mean - cr, clusters.largest.col_mean - cc) / radius;
  }
  return f;
}

}  // namespace detail

std::string_view pattern_name(MapPattern p) {
  static constexpr std::string_view kNames[kMapPatterns] = {
      "none", "centre", "donut", "edge-local", "edge-ring", "local", "near-full", "random", "scratch"};
  const auto i = static_cast<std::size_t>(p);
  if (i >= kMapPatterns) throw std::out_of_range("pattern_name: no such pattern");
  return kNames[i];
}

std::optional<MapPattern> pattern_from_label(std::string_view label) {
  std::string lower(label);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // WM-811K's spellings of three patterns.
  if (lower == "center") return MapPattern::centre;
  if (lower == "edge-loc") return MapPattern::edge_local;
  if (lower == "loc") return MapPattern::local;
  for (int i = 0; i < kMapPatterns; ++i)
    if (lower == pattern_name(static_cast<MapPattern>(i))) return static_cast<MapPattern>(i);
  return std::nullopt;
}

void FailCountMap::add(const MapView& map) {
  check_map(map);
  if (map.rows != rows || map.cols != cols)
    throw std::invalid_argument("FailCountMap::add: map of another shape");
  fails.resize(std::size_t(rows) * cols, 0);
  for (std::size_t i = 0; i < map.cells.size(); ++i)
    fails[i] += map.cells[i] == static_cast<std::uint8_t>(DieCell::fail);
  ++wafers;
}

void FailCountMap::merge(const FailCountMap& other) {
  if (other.rows != rows || other.cols != cols)
    throw std::invalid_argument("FailCountMap::merge: counts of another shape");
  const std::size_t n = std::size_t(rows) * cols;
  if (other.fails.size() != n) throw std::invalid_argument("FailCountMap::merge: wrong size");
  fails.resize(n, 0);
  for (std::size_t i = 0; i < n; ++i) fails[i] += other.fails[i];
  wafers += other.wafers;
}

std::vector<double> FailCountMap::probability() const {
  std::vector<double> p(fails.size(), 0.0);
  if (wafers == 0) return p;
  for (std::size_t i = 0; i < fails.size(); ++i) p[i] = double(fails[i]) / double(wafers);
  return p;
}

}  // namespace wafermill::pictures
