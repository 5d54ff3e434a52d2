/// @file gpu_maps.cpp
/// @brief map_features_batch(): the batch is validated and grouped by shape on the host
/// (map_plan), uploaded chunk by chunk, one kernel launch per shape and chunk with one block
/// per map, and the blocks' integer counts finished into MapFeatures by the CPU's own code.
#include <algorithm>

#include "cuda_raii.hpp"
#include "map_plan.hpp"
#include "picture_kernels.hpp"
#include "wafermill/pictures/gpu.hpp"

namespace wafermill::pictures::gpu {

using namespace detail;

namespace {
/// Global work memory of the blocks of one launch of the global-memory path (maps too large
/// for shared memory): bounds the blocks that run such maps at once.
constexpr std::size_t kGlobalWorkBytes = std::size_t{512} << 20;
}  // namespace

MapBatchResult map_features_batch(std::span<const std::uint8_t> cells,
                                  std::span<const std::uint64_t> offsets,
                                  std::span<const std::uint32_t> rows,
                                  std::span<const std::uint32_t> cols, int device) {
  const MapBatchPlan plan = plan_map_batch(cells, offsets, rows, cols, kMapChunkCells);
  MapBatchResult out;
  out.features.resize(rows.size());
  if (rows.empty()) return out;

  require_device();
  const DeviceScope scope(device);
  int current = 0, sms = 0;
  WAFERMILL_CUDA_CHECK(cudaGetDevice(&current));
  WAFERMILL_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, current));
  const std::size_t shared_capacity = map_shared_capacity(current);
  const Stream stream;

  // Per shape: its sector table and its fail counts, for the whole batch.
  std::vector<DeviceBuffer> sectors(plan.shapes.size()), fleet(plan.shapes.size());
  for (std::size_t s = 0; s < plan.shapes.size(); ++s) {
    const std::size_t n = plan.shapes[s].sectors.size();
    sectors[s].reserve(std::max<std::size_t>(n, 1));
    fleet[s].reserve(std::max<std::size_t>(n, 1) * sizeof(unsigned long long));
    WAFERMILL_CUDA_CHECK(cudaMemcpyAsync(sectors[s].get(), plan.shapes[s].sectors.data(), n,
                                         cudaMemcpyHostToDevice, stream.get()));
    WAFERMILL_CUDA_CHECK(
        cudaMemsetAsync(fleet[s].get(), 0, n * sizeof(unsigned long long), stream.get()));
  }

  DeviceBuffer d_cells, d_offsets, d_counts, d_work;
  std::vector<std::uint64_t> chunk_offsets;
  std::vector<MapCounts> counts;
  for (const MapChunk& chunk : plan.chunks) {
    const std::size_t bytes = chunk.cell_end - chunk.cell_begin;
    d_cells.reserve(std::max<std::size_t>(bytes, 1));
    WAFERMILL_CUDA_CHECK(cudaMemcpyAsync(d_cells.get(), cells.data() + chunk.cell_begin, bytes,
                                         cudaMemcpyHostToDevice, stream.get()));
    // The chunk's maps group after group: offsets relative to the chunk, counts in that order.
    chunk_offsets.clear();
    for (const MapGroup& g : chunk.groups)
      for (const std::uint32_t m : g.maps) chunk_offsets.push_back(offsets[m] - chunk.cell_begin);
    d_offsets.reserve(chunk_offsets.size() * sizeof(std::uint64_t));
    d_counts.reserve(chunk_offsets.size() * sizeof(MapCounts));
    WAFERMILL_CUDA_CHECK(cudaMemcpyAsync(d_offsets.get(), chunk_offsets.data(),
                                         chunk_offsets.size() * sizeof(std::uint64_t),
                                         cudaMemcpyHostToDevice, stream.get()));
    std::size_t at = 0;
    for (const MapGroup& g : chunk.groups) {
      const MapShape& shape = plan.shapes[g.shape];
      MapLaunch a;
      a.cells = d_cells.get<std::uint8_t>();
      a.offsets = d_offsets.get<std::uint64_t>() + at;
      a.n_maps = static_cast<std::uint32_t>(g.maps.size());
      a.rows = shape.rows;
      a.cols = shape.cols;
      a.sectors = sectors[g.shape].get<std::uint8_t>();
      a.fleet = fleet[g.shape].get<unsigned long long>();
      a.out = d_counts.get<MapCounts>() + at;
      const std::uint64_t work = map_block_bytes(std::uint64_t{shape.rows} * shape.cols);
      if (work > shared_capacity) {
        const std::uint64_t fit = std::max<std::uint64_t>(1, kGlobalWorkBytes / work);
        a.blocks = static_cast<std::uint32_t>(
            std::min<std::uint64_t>({a.n_maps, 2 * std::uint64_t(sms), fit}));
        // A growing reserve frees the buffer an earlier group's kernel may still be using:
        // cudaFree is not guaranteed to wait for it (stream-ordered pools do not).
        stream.synchronize();
        d_work.reserve(a.blocks * work);
        a.work = d_work.get();
      }
      enqueue_maps(a, stream.get());
      at += g.maps.size();
    }
    counts.resize(at);
    WAFERMILL_CUDA_CHECK(cudaMemcpyAsync(counts.data(), d_counts.get(), at * sizeof(MapCounts),
                                         cudaMemcpyDeviceToHost, stream.get()));
    stream.synchronize();
    at = 0;
    for (const MapGroup& g : chunk.groups) {
      const MapShape& shape = plan.shapes[g.shape];
      const std::uint64_t n = std::uint64_t{shape.rows} * shape.cols;
      for (const std::uint32_t m : g.maps) {
        // The geometry descriptors are computed on the host from the cells (map_geometry).
        const MapView view{cells.subspan(offsets[m], n), shape.rows, shape.cols};
        out.features[m] = finish_map(counts[at++], view);
      }
    }
  }

  for (std::size_t s = 0; s < plan.shapes.size(); ++s) {
    FailCountMap f;
    f.rows = plan.shapes[s].rows;
    f.cols = plan.shapes[s].cols;
    f.wafers = plan.shapes[s].wafers;
    std::vector<unsigned long long> fails(plan.shapes[s].sectors.size());
    WAFERMILL_CUDA_CHECK(cudaMemcpy(fails.data(), fleet[s].get(),
                                    fails.size() * sizeof(unsigned long long),
                                    cudaMemcpyDeviceToHost));
    f.fails.assign(fails.begin(), fails.end());
    out.fail_counts.push_back(std::move(f));
  }
  return out;
}

}  // namespace wafermill::pictures::gpu
