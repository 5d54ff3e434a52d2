/// @file map_plan.hpp
/// @brief Host side of the batched die-map path, plain C++ (built with or without CUDA, so the
/// emulation and its tests run anywhere): validation, grouping by shape into launches, the
/// per-shape edge-sector tables, and the finishing of a block's integer counts into
/// MapFeatures with the CPU's own code.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "kernel_steps.hpp"
#include "wafermill/pictures/die_map.hpp"

namespace wafermill::pictures::gpu::detail {

/// @brief Cells uploaded per chunk of a batch (64 MiB): bounds the device memory of a batch.
inline constexpr std::uint64_t kMapChunkCells = 1ULL << 26;

/// @brief One map shape of a batch: its sector table (uploaded once) and its maps.
struct MapShape {
  std::uint32_t rows = 0, cols = 0;
  std::vector<std::uint8_t> sectors;  ///< math::edge_sector of each cell, row-major
  std::uint64_t wafers = 0;           ///< maps of this shape in the batch
};

/// @brief The maps of one shape within one chunk: one kernel launch.
struct MapGroup {
  std::uint32_t shape = 0;          ///< index into MapBatchPlan::shapes
  std::vector<std::uint32_t> maps;  ///< map indices of the batch, ascending
};

/// @brief Consecutive maps whose cells are uploaded together.
struct MapChunk {
  std::uint32_t first_map = 0, last_map = 0;  ///< [first, last)
  std::uint64_t cell_begin = 0, cell_end = 0;
  std::vector<MapGroup> groups;
};

struct MapBatchPlan {
  std::vector<MapShape> shapes;  ///< first-appearance order
  std::vector<MapChunk> chunks;
};

/// @brief Validates a batch (the contract of gpu::map_features_batch) and cuts it into chunks
/// of at most `chunk_cells` cells (a larger map is a chunk of its own), grouped by shape.
/// @throws std::invalid_argument as map_features_batch.
MapBatchPlan plan_map_batch(std::span<const std::uint8_t> cells,
                            std::span<const std::uint64_t> offsets,
                            std::span<const std::uint32_t> rows,
                            std::span<const std::uint32_t> cols, std::uint64_t chunk_cells);

/// @brief math::edge_sector of every cell of a rows × cols map (depends on the shape only).
std::vector<std::uint8_t> sector_table(std::uint32_t rows, std::uint32_t cols);

/// @brief The MapFeatures of a block's counts and the map's cells: detail::finish_map_features
/// and map_geometry (computed on the host from the cells), as map_features.
MapFeatures finish_map(const MapCounts& counts, const MapView& map);

}  // namespace wafermill::pictures::gpu::detail
