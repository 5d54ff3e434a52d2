/// @file die_map.cpp
/// @brief Die-map features, the pattern rules and per-shape fail counts (docs/PICTURES.md).
#include "wafermill/pictures/die_map.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>

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
  return {"die_count",        "fail_count",        "yield",           "fail_centre",
          "fail_middle",      "fail_edge",         "edge_ring_ratio", "n_clusters",
          "largest_cluster",  "largest_elongation", "largest_rho",    "edge_sectors_failing"};
}

std::vector<double> to_values(const MapFeatures& f) {
  return {double(f.die_count),        double(f.fail_count),    f.yield,
          f.zone_fail[0],             f.zone_fail[1],          f.zone_fail[2],
          f.edge_ring_ratio,          double(f.n_clusters),    double(f.largest_cluster),
          f.largest_elongation,       f.largest_rho,           double(f.edge_sectors_failing)};
}

MapFeatures map_features(const MapView& map, std::vector<std::uint32_t>& scratch) {
  check_map(map);
  MapFeatures f;
  const double cr = 0.5 * (double(map.rows) - 1.0), cc = 0.5 * (double(map.cols) - 1.0);
  // Wafer radius: the largest squared distance of a die's centre from the map centre.
  double radius_sq = 0.0;
  for (std::uint32_t r = 0; r < map.rows; ++r) {
    for (std::uint32_t c = 0; c < map.cols; ++c) {
      const std::uint8_t v = map.cells[std::size_t(r) * map.cols + c];
      if (v > 2) throw std::invalid_argument("die map: cell value above 2");
      if (v == 0) continue;
      const double dr = r - cr, dc = c - cc;
      radius_sq = std::max(radius_sq, dr * dr + dc * dc);
    }
  }
  const double radius = std::sqrt(radius_sq);
  const auto rho_of = [&](double r, double c) {
    return radius > 0 ? std::hypot(r - cr, c - cc) / radius : 0.0;
  };

  std::array<std::uint64_t, 3> zone_dies{}, zone_fails{};
  std::array<std::uint64_t, kEdgeSectors> sector_dies{}, sector_fails{};
  std::vector<std::uint8_t> fail_mask(map.cells.size(), 0);
  for (std::uint32_t r = 0; r < map.rows; ++r) {
    for (std::uint32_t c = 0; c < map.cols; ++c) {
      const std::size_t i = std::size_t(r) * map.cols + c;
      const std::uint8_t v = map.cells[i];
      if (v == 0) continue;
      const bool fail = v == static_cast<std::uint8_t>(DieCell::fail);
      fail_mask[i] = fail ? 1 : 0;
      ++f.die_count;
      f.fail_count += fail;
      const double rho = rho_of(r, c);
      const int zone = rho <= kCentreMaxRho ? 0 : rho <= kMiddleMaxRho ? 1 : 2;
      ++zone_dies[zone];
      zone_fails[zone] += fail;
      if (zone == 2) {
        const double angle = std::atan2(r - cr, c - cc) + std::numbers::pi;  // [0, 2π]
        const int s = std::min(kEdgeSectors - 1,
                               static_cast<int>(angle / (2 * std::numbers::pi) * kEdgeSectors));
        ++sector_dies[s];
        sector_fails[s] += fail;
      }
    }
  }
  if (f.die_count > 0) f.yield = double(f.die_count - f.fail_count) / double(f.die_count);
  for (int z = 0; z < 3; ++z)
    f.zone_fail[z] = zone_dies[z] > 0 ? double(zone_fails[z]) / double(zone_dies[z]) : 0.0;
  if (f.fail_count > 0) f.edge_ring_ratio = double(zone_fails[2]) / double(f.fail_count);
  for (int s = 0; s < kEdgeSectors; ++s)
    if (sector_dies[s] > 0 && double(sector_fails[s]) >= kSectorFailing * double(sector_dies[s]))
      ++f.edge_sectors_failing;

  const ComponentSummary clusters = find_components(fail_mask, map.rows, map.cols, scratch);
  f.n_clusters = clusters.count;
  f.largest_cluster = clusters.largest.size;
  f.largest_elongation = clusters.largest.elongation();
  if (clusters.largest.size > 0)
    f.largest_rho = rho_of(clusters.largest.row_mean, clusters.largest.col_mean);
  return f;
}

std::string_view pattern_name(MapPattern p) {
  static constexpr std::string_view kNames[kMapPatterns] = {
      "none", "centre", "donut", "edge-local", "edge-ring", "local", "near-full", "random", "scratch"};
  const auto i = static_cast<std::size_t>(p);
  if (i >= kMapPatterns) throw std::out_of_range("pattern_name: no such pattern");
  return kNames[i];
}

MapPattern classify_pattern(const MapFeatures& f) {
  if (f.die_count == 0) return MapPattern::none;
  const double fail = double(f.fail_count) / double(f.die_count);
  const double centre = f.zone_fail[0], middle = f.zone_fail[1], edge = f.zone_fail[2];
  // Whole-wafer patterns first: they also make large clusters, so cluster rules come last.
  if (fail >= 0.7) return MapPattern::near_full;
  const double zmax = std::max({centre, middle, edge}), zmin = std::min({centre, middle, edge});
  if (fail >= 0.2 && zmax - zmin < 0.25) return MapPattern::random;
  if (edge >= 0.35 && f.edge_sectors_failing >= 6 && middle < 0.5 * edge)
    return MapPattern::edge_ring;
  if (centre >= 0.35 && middle < 0.5 * centre && edge < 0.5 * centre) return MapPattern::centre;
  if (middle >= 0.25 && centre < 0.5 * middle && edge < 0.5 * middle) return MapPattern::donut;
  // One dominant cluster: at least 5 dies (background failures at a few per cent rarely
  // join that many).
  if (f.largest_cluster >= 5) {
    if (f.largest_elongation >= 4.0) return MapPattern::scratch;
    if (f.largest_rho > 0.72) return MapPattern::edge_local;
    return MapPattern::local;
  }
  return MapPattern::none;
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

std::vector<double> FailCountMap::probability() const {
  std::vector<double> p(fails.size(), 0.0);
  if (wafers == 0) return p;
  for (std::size_t i = 0; i < fails.size(); ++i) p[i] = double(fails[i]) / double(wafers);
  return p;
}

}  // namespace wafermill::pictures
