/// @file map_geometry.cpp
/// @brief Die-map descriptors in die pitches (docs/PICTURES.md "Geometry").
#include "wafermill/pictures/map_geometry.hpp"

#include <algorithm>
#include <cmath>

#include "wafermill/pictures/die_map.hpp"
#include "wafermill/pictures/picture_math.hpp"

namespace wafermill::pictures {
namespace {

constexpr std::uint8_t kFail = static_cast<std::uint8_t>(DieCell::fail);
/// A ring sector counts as covered when at least this share of its dies fail.
constexpr double kSectorCovered = 0.2;
/// Cluster coverage counts dies beyond this ρ only (a centre blob covers every angle).
constexpr double kCoverageMinRho = 0.5;

double ratio(double a, double b) { return b > 0 ? a / b : 0.0; }

}  // namespace

std::vector<std::string_view> geometry_names() {
  return {"wafer_pitches",    "ring_fail",         "band_fail",          "inner_fail",
          "radial_fail_0",    "radial_fail_1",     "radial_fail_2",      "radial_fail_3",
          "radial_fail_4",    "ring_sector_max",   "ring_sector_min",    "ring_coverage",
          "sector_fail_cv",   "line_peak",         "isolated_share",     "cluster_share",
          "cluster_area",     "cluster_coverage",  "cluster_edge",       "cluster_rho_mean",
          "cluster_rho_std",  "cluster_centroid_rho", "cluster_elongation", "cluster_thickness",
          "cluster_length"};
}

std::vector<double> geometry_values(const MapGeometry& g) {
  std::vector<double> v = {g.wafer_pitches, g.ring_fail, g.band_fail, g.inner_fail};
  v.insert(v.end(), g.radial_fail.begin(), g.radial_fail.end());
  v.insert(v.end(), {g.ring_sector_max, g.ring_sector_min, g.ring_coverage, g.sector_fail_cv,
                     g.line_peak, g.isolated_share, g.cluster_share, g.cluster_area,
                     g.cluster_coverage, g.cluster_edge, g.cluster_rho_mean, g.cluster_rho_std,
                     g.cluster_centroid_rho, g.cluster_elongation, g.cluster_thickness,
                     g.cluster_length});
  return v;
}

std::vector<std::uint32_t> edge_distance(const MapView& map) {
  const std::uint32_t rows = map.rows, cols = map.cols;
  std::vector<std::uint32_t> d(map.cells.size(), 0);
  const auto at = [&](std::int64_t r, std::int64_t c) -> std::uint32_t {
    if (r < 0 || c < 0 || r >= std::int64_t(rows) || c >= std::int64_t(cols)) return 0;
    return d[std::size_t(r) * cols + std::size_t(c)];
  };
  // Two-pass chessboard distance transform: a die is one more than its nearest
  // already-visited neighbour, the outside and no-die cells being 0.
  constexpr std::uint32_t kFar = 1u << 30;
  for (std::size_t i = 0; i < d.size(); ++i) d[i] = map.cells[i] != 0 ? kFar : 0;
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) {
      std::uint32_t& v = d[std::size_t(r) * cols + std::size_t(c)];
      if (v == 0) continue;
      v = std::min({v, at(r - 1, c - 1) + 1, at(r - 1, c) + 1, at(r - 1, c + 1) + 1, at(r, c - 1) + 1});
    }
  for (std::int64_t r = std::int64_t(rows) - 1; r >= 0; --r)
    for (std::int64_t c = std::int64_t(cols) - 1; c >= 0; --c) {
      std::uint32_t& v = d[std::size_t(r) * cols + std::size_t(c)];
      if (v == 0) continue;
      v = std::min({v, at(r + 1, c + 1) + 1, at(r + 1, c) + 1, at(r + 1, c - 1) + 1, at(r, c + 1) + 1});
    }
  return d;
}

MapGeometry map_geometry(const MapView& map) {
  MapGeometry g;
  const std::uint32_t rows = map.rows, cols = map.cols;
  const std::size_t n = map.cells.size();
  const std::vector<std::uint32_t> edge = edge_distance(map);
  std::uint64_t radius4 = 0;
  for (std::uint32_t r = 0; r < rows; ++r)
    for (std::uint32_t c = 0; c < cols; ++c)
      if (map.cells[std::size_t(r) * cols + c] != 0)
        radius4 = std::max(radius4, math::centre_dist4(r, c, rows, cols));
  const double radius = std::sqrt(math::dist_sq(radius4));
  std::vector<double> rho(n, 0.0);
  std::vector<std::uint8_t> sector(n, 0);

  // Zone, radial, sector and line tallies.
  std::array<double, 3> zone_dies{}, zone_fails{};
  std::array<double, kRadialBins> bin_dies{}, bin_fails{};
  std::array<double, kAngularSectors> ring_dies{}, ring_fails{};
  std::array<double, kEdgeSectors> sec_dies{}, sec_fails{};
  // Lines: rows, columns, diagonals r − c, anti-diagonals r + c.
  const std::size_t n_diag = std::size_t(rows) + cols;
  std::vector<double> line_dies(2 * n_diag + rows + cols, 0.0), line_fails(line_dies.size(), 0.0);
  double dies = 0, fails = 0;
  for (std::uint32_t r = 0; r < rows; ++r)
    for (std::uint32_t c = 0; c < cols; ++c) {
      const std::size_t i = std::size_t(r) * cols + c;
      if (map.cells[i] == 0) continue;
      const double fail = map.cells[i] == kFail ? 1.0 : 0.0;
      dies += 1;
      fails += fail;
      g.wafer_pitches = std::max(g.wafer_pitches, double(edge[i]));
      rho[i] = math::die_rho(math::dist_sq(math::centre_dist4(r, c, rows, cols)), radius);
      sector[i] = static_cast<std::uint8_t>(math::angle_sector(r, c, rows, cols, kAngularSectors));
      const int zone = edge[i] <= kRingPitches ? 0 : edge[i] <= kBandPitches ? 1 : 2;
      zone_dies[zone] += 1;
      zone_fails[zone] += fail;
      const int bin = std::min(kRadialBins - 1, static_cast<int>(rho[i] * kRadialBins));
      bin_dies[bin] += 1;
      bin_fails[bin] += fail;
      if (zone == 0) {
        ring_dies[sector[i]] += 1;
        ring_fails[sector[i]] += fail;
      }
      const int s8 = math::edge_sector(r, c, rows, cols);
      sec_dies[s8] += 1;
      sec_fails[s8] += fail;
      const std::size_t keys[4] = {r, rows + std::size_t(c), rows + cols + (std::size_t(r) + cols - c),
                                   rows + cols + n_diag + std::size_t(r) + c};
      for (const std::size_t k : keys) {
        line_dies[k] += 1;
        line_fails[k] += fail;
      }
    }
  if (dies == 0) return g;
  g.ring_fail = ratio(zone_fails[0], zone_dies[0]);
  g.band_fail = ratio(zone_fails[1], zone_dies[1]);
  g.inner_fail = ratio(zone_fails[2], zone_dies[2]);
  for (int b = 0; b < kRadialBins; ++b) g.radial_fail[b] = ratio(bin_fails[b], bin_dies[b]);
  double ring_sectors = 0, covered = 0;
  g.ring_sector_min = 1.0;
  for (int s = 0; s < kAngularSectors; ++s) {
    if (ring_dies[s] == 0) continue;
    const double f = ring_fails[s] / ring_dies[s];
    ring_sectors += 1;
    covered += f >= kSectorCovered ? 1 : 0;
    g.ring_sector_max = std::max(g.ring_sector_max, f);
    g.ring_sector_min = std::min(g.ring_sector_min, f);
  }
  if (ring_sectors == 0) g.ring_sector_min = 0;
  g.ring_coverage = ratio(covered, ring_sectors);
  double s1 = 0, s2 = 0, used = 0;
  for (int s = 0; s < kEdgeSectors; ++s) {
    if (sec_dies[s] == 0) continue;
    const double f = sec_fails[s] / sec_dies[s];
    s1 += f;
    s2 += f * f;
    used += 1;
  }
  if (used > 0 && s1 > 0) {
    const double mean = s1 / used;
    g.sector_fail_cv = std::sqrt(std::max(0.0, s2 / used - mean * mean)) / mean;
  }
  const double overall = fails / dies;
  for (std::size_t k = 0; k < line_dies.size(); ++k)
    if (line_dies[k] >= kLineMinDies)
      g.line_peak = std::max(g.line_peak, line_fails[k] / line_dies[k] - overall);
  if (fails == 0) return g;

  // Denoised mask: failing dies with at least kDenoiseNeighbours failing 8-neighbours.
  const auto failing = [&](std::int64_t r, std::int64_t c) {
    return r >= 0 && c >= 0 && r < std::int64_t(rows) && c < std::int64_t(cols) &&
           map.cells[std::size_t(r) * cols + std::size_t(c)] == kFail;
  };
  std::vector<std::uint8_t> kept(n, 0);
  double kept_count = 0;
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) {
      if (!failing(r, c)) continue;
      int around = 0;
      for (int dr = -1; dr <= 1; ++dr)
        for (int dc = -1; dc <= 1; ++dc) around += (dr != 0 || dc != 0) && failing(r + dr, c + dc);
      if (around >= kDenoiseNeighbours) {
        kept[std::size_t(r) * cols + std::size_t(c)] = 1;
        kept_count += 1;
      }
    }
  g.isolated_share = 1.0 - kept_count / fails;

  // The largest 8-connected cluster of the denoised mask (the first in scan order on ties).
  std::vector<std::uint32_t> label(n, 0), stack;
  std::uint32_t next = 0, best = 0;
  std::uint64_t best_size = 0;
  for (std::size_t start = 0; start < n; ++start) {
    if (kept[start] == 0 || label[start] != 0) continue;
    ++next;
    std::uint64_t size = 0;
    stack.assign(1, static_cast<std::uint32_t>(start));
    label[start] = next;
    while (!stack.empty()) {
      const std::uint32_t cell = stack.back();
      stack.pop_back();
      ++size;
      const std::int64_t r = cell / cols, c = cell % cols;
      for (int dr = -1; dr <= 1; ++dr)
        for (int dc = -1; dc <= 1; ++dc) {
          const std::int64_t rr = r + dr, cc = c + dc;
          if (rr < 0 || cc < 0 || rr >= std::int64_t(rows) || cc >= std::int64_t(cols)) continue;
          const std::size_t j = std::size_t(rr) * cols + std::size_t(cc);
          if (kept[j] != 0 && label[j] == 0) {
            label[j] = next;
            stack.push_back(static_cast<std::uint32_t>(j));
          }
        }
    }
    if (size > best_size) {
      best_size = size;
      best = next;
    }
  }
  if (best_size == 0) return g;
  double s_r = 0, s_c = 0, s_rr = 0, s_cc = 0, s_rc = 0, e_sum = 0, rho_sum = 0, rho_sq = 0;
  std::array<bool, kAngularSectors> seen{};
  for (std::uint32_t r = 0; r < rows; ++r)
    for (std::uint32_t c = 0; c < cols; ++c) {
      const std::size_t i = std::size_t(r) * cols + c;
      if (label[i] != best) continue;
      s_r += r;
      s_c += c;
      s_rr += double(r) * r;
      s_cc += double(c) * c;
      s_rc += double(r) * c;
      e_sum += edge[i];
      rho_sum += rho[i];
      rho_sq += rho[i] * rho[i];
      if (rho[i] > kCoverageMinRho) seen[sector[i]] = true;
    }
  const double size = double(best_size);
  g.cluster_share = size / fails;
  g.cluster_area = size / dies;
  g.cluster_coverage = double(std::count(seen.begin(), seen.end(), true)) / kAngularSectors;
  g.cluster_edge = e_sum / size;
  g.cluster_rho_mean = rho_sum / size;
  g.cluster_rho_std = std::sqrt(std::max(0.0, rho_sq / size - g.cluster_rho_mean * g.cluster_rho_mean));
  const math::ShapeMoments m = math::shape_from_sums(size, s_r, s_c, s_rr, s_cc, s_rc);
  if (radius > 0) {
    const double cr = 0.5 * (double(rows) - 1.0), cc = 0.5 * (double(cols) - 1.0);
    g.cluster_centroid_rho = std::sqrt((m.row_mean - cr) * (m.row_mean - cr) +
                                       (m.col_mean - cc) * (m.col_mean - cc)) / radius;
  }
  g.cluster_elongation = math::elongation(m.var_row, m.var_col, m.cov);
  const double half = 0.5 * (m.var_row + m.var_col);
  const double root = std::sqrt(0.25 * (m.var_row - m.var_col) * (m.var_row - m.var_col) + m.cov * m.cov);
  g.cluster_thickness = std::sqrt(12.0 * std::max(0.0, half - root));
  g.cluster_length = ratio(std::sqrt(12.0 * (half + root)), 2.0 * g.wafer_pitches);
  return g;
}

}  // namespace wafermill::pictures
