/// @file map_plan.cpp
/// @brief Validation, chunking and grouping of a map batch; finishing of block counts.
#include "map_plan.hpp"

#include <map>
#include <stdexcept>
#include <string>
#include <utility>

#include "../map_tallies.hpp"

namespace wafermill::pictures::gpu::detail {

MapBatchPlan plan_map_batch(std::span<const std::uint8_t> cells,
                            std::span<const std::uint64_t> offsets,
                            std::span<const std::uint32_t> rows,
                            std::span<const std::uint32_t> cols, std::uint64_t chunk_cells) {
  const std::size_t n = rows.size();
  if (cols.size() != n || offsets.size() != n + 1)
    throw std::invalid_argument("map batch: need rows.size() == cols.size() == offsets.size() - 1");
  if (n >= kNoLabel) throw std::invalid_argument("map batch: too many maps in one batch");
  if (offsets[0] > cells.size() || offsets[n] > cells.size())
    throw std::invalid_argument("map batch: offsets beyond the cells");
  for (std::size_t m = 0; m < n; ++m) {
    const std::uint64_t want = std::uint64_t{rows[m]} * cols[m];
    if (rows[m] > (1U << 20) || cols[m] > (1U << 20) || want >= kNoLabel)
      throw std::invalid_argument("map batch: map " + std::to_string(m) + " is too large");
    if (offsets[m + 1] < offsets[m] || offsets[m + 1] - offsets[m] != want)
      throw std::invalid_argument("map batch: map " + std::to_string(m) +
                                  ": offsets differ from rows * cols");
  }
  for (std::uint64_t i = offsets[0]; i < offsets[n]; ++i)
    if (cells[i] > 2) throw std::invalid_argument("die map: cell value above 2");

  MapBatchPlan plan;
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::uint32_t> shape_of;
  std::size_t m = 0;
  while (m < n) {
    MapChunk chunk;
    chunk.first_map = static_cast<std::uint32_t>(m);
    chunk.cell_begin = offsets[m];
    std::map<std::uint32_t, std::size_t> group_of;  // shape -> index into chunk.groups
    do {
      const auto key = std::make_pair(rows[m], cols[m]);
      auto [it, fresh] = shape_of.try_emplace(key, static_cast<std::uint32_t>(plan.shapes.size()));
      if (fresh) plan.shapes.push_back({rows[m], cols[m], sector_table(rows[m], cols[m]), 0});
      ++plan.shapes[it->second].wafers;
      auto [g, new_group] = group_of.try_emplace(it->second, chunk.groups.size());
      if (new_group) chunk.groups.push_back({it->second, {}});
      chunk.groups[g->second].maps.push_back(static_cast<std::uint32_t>(m));
      ++m;
    } while (m < n && offsets[m + 1] - chunk.cell_begin <= chunk_cells);
    chunk.last_map = static_cast<std::uint32_t>(m);
    chunk.cell_end = offsets[m];
    plan.chunks.push_back(std::move(chunk));
  }
  return plan;
}

std::vector<std::uint8_t> sector_table(std::uint32_t rows, std::uint32_t cols) {
  std::vector<std::uint8_t> t(std::size_t{rows} * cols);
  for (std::uint32_t r = 0; r < rows; ++r)
    for (std::uint32_t c = 0; c < cols; ++c)
      t[std::size_t{r} * cols + c] = static_cast<std::uint8_t>(math::edge_sector(r, c, rows, cols));
  return t;
}

MapFeatures finish_map(const MapCounts& counts, const MapView& map) {
  pictures::detail::MapTallies t;
  t.die_count = counts.die_count;
  t.fail_count = counts.fail_count;
  t.radius4 = counts.radius4;
  for (int z = 0; z < 3; ++z) {
    t.zone_dies[z] = counts.zone_dies[z];
    t.zone_fails[z] = counts.zone_fails[z];
  }
  for (int s = 0; s < kEdgeSectors; ++s) {
    t.sector_dies[s] = counts.sector_dies[s];
    t.sector_fails[s] = counts.sector_fails[s];
  }
  ComponentSummary clusters;
  clusters.count = counts.clusters;
  if (counts.largest > 0)
    clusters.largest =
        shape_from_sums(counts.largest, double(counts.s_r), double(counts.s_c), double(counts.s_rr),
                        double(counts.s_cc), double(counts.s_rc));
  MapFeatures f = pictures::detail::finish_map_features(t, clusters, map.rows, map.cols);
  f.geometry = map_geometry(map);
  return f;
}

}  // namespace wafermill::pictures::gpu::detail
