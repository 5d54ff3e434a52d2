/// @file chunk_advice.cpp
/// @brief Warnings about slow chunk shapes of /traces/values (chunk_advice.hpp).
///
/// The reader reads whole rows, a block of wafers at a time (job/worker.cpp: up to 8 MiB per
/// read). HDF5 pays a fixed cost for every chunk a read touches (a B-tree lookup, a cache
/// entry, one I/O call), so what matters is how many bytes each touched chunk contributes. A
/// chunk holding few bytes — one row, or a sliver of one sensor column — makes that fixed
/// cost dominate.
///
/// Measured (docs/BENCHMARKS.md "Chunk shape"; 2-core Debian 12 VM, 2026-12-06): one rank, 32 MB
/// of float32, page cache warm, the report's wall_s against contiguous storage. HDF5 spent about
/// 6-15 us per chunk whatever its shape, so the cost follows bytes per chunk, for row chunks
/// and sensor-column chunks alike: 64 B 36x, 256 B 7-15x, 1 KiB 3.1-3.7x, 4 KiB 1.6-2.7x,
/// 16 KiB 0.9-1.3x (within the run-to-run spread of these 0.15 s runs), 64 KiB and up 0.9-1.3x.
/// So kSlowChunkBytes = 16 KiB: every shape below it cost at least 1.6x, none at or above it
/// measurably more than contiguous storage. A dataset smaller than that in all is not warned
/// about: its whole read costs less than one good chunk.
#include "wafermill/format/chunk_advice.hpp"

#include <algorithm>

namespace wafermill::format {
namespace {

std::string shape_text(std::uint64_t rows, std::uint64_t cols) {
  return std::to_string(rows) + "x" + std::to_string(cols);
}

std::string bytes_text(std::uint64_t bytes) {
  if (bytes >= (1ULL << 20) && bytes % (1ULL << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes >= (1ULL << 10) && bytes % (1ULL << 10) == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

}  // namespace

ChunkShape suggest_chunk(const TraceIndex& index) {
  const std::uint64_t row_bytes = std::max<std::uint64_t>(index.row_bytes(), 1);
  std::uint64_t rows = 1;
  while (rows * 2 * row_bytes <= kSuggestedChunkBytes) rows *= 2;
  rows = std::min(rows, std::max<std::uint64_t>(index.n_samples, 1));
  return {rows, std::max<std::uint64_t>(index.n_sensors, 1)};
}

std::vector<std::string> chunking_warnings(const TraceIndex& index) {
  std::vector<std::string> out;
  if (!index.values_chunked || index.values_chunk_rows == 0 || index.values_chunk_cols == 0 ||
      index.n_samples == 0 || index.n_sensors == 0)
    return out;
  const std::uint64_t elem = index.value_type == ValueType::float32 ? 4 : 8;
  std::uint64_t total_bytes = 0, row_bytes = 0;
  // A validated index cannot overflow (its extent fits the file); a made-up one gets no advice.
  if (__builtin_mul_overflow(index.n_sensors, elem, &row_bytes) ||
      __builtin_mul_overflow(index.n_samples, row_bytes, &total_bytes))
    return out;
  if (total_bytes < kSlowChunkBytes) return out;
  // Edge chunks cover only the dataset, so a chunk larger than the dataset costs as its part.
  // Both products below are at most total_bytes.
  const std::uint64_t rows = std::min(index.values_chunk_rows, index.n_samples);
  const std::uint64_t cols = std::min(index.values_chunk_cols, index.n_sensors);
  const std::uint64_t chunk_bytes = rows * cols * elem;
  if (chunk_bytes >= kSlowChunkBytes) return out;

  const std::uint64_t across = (index.n_sensors + cols - 1) / cols;
  const std::uint64_t down = (index.n_samples + rows - 1) / rows;
  const ChunkShape good = suggest_chunk(index);
  std::string w = index.path + ": /traces/values is stored in chunks of " +
                  shape_text(index.values_chunk_rows, index.values_chunk_cols) + " (" +
                  bytes_text(chunk_bytes) + " per chunk, " + std::to_string(down * across) +
                  " chunks";
  if (cols < index.n_sensors)
    w += "; each chunk holds " + std::to_string(cols) + " of " + std::to_string(index.n_sensors) +
         " sensor columns, across the row blocks the reader reads";
  w += "): HDF5 spends about 6-15 us on every chunk it reads, and chunks under " +
       bytes_text(kSlowChunkBytes) +
       " made runs 1.6x to 36x slower than contiguous storage (docs/BENCHMARKS.md \"Chunk "
       "shape\"). Rechunk it: `h5repack -l /traces/values:CHUNK=" +
       shape_text(good.rows, good.cols) + " " + index.path + " OUT.h5` (" + bytes_text(good.rows * good.cols * elem) + " per chunk)";
  if (!index.values_filtered)
    w += ", or store it contiguous: `h5repack -l /traces/values:CONTI " + index.path + " OUT.h5`";
  out.push_back(w + ".");
  return out;
}

}  // namespace wafermill::format
