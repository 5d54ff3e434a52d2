/// @file chunk_advice.hpp
/// @brief Warnings about a chunk shape of /traces/values that makes reading it slow, with the
/// h5repack command that fixes it (docs/BENCHMARKS.md "Chunk shape").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "wafermill/format/trace_index.hpp"

namespace wafermill::format {

/// @brief A chunk of /traces/values smaller than this is warned about (measurement and
/// reasoning in chunk_advice.cpp).
inline constexpr std::uint64_t kSlowChunkBytes = 16ULL << 10;

/// @brief The chunk size suggest_chunk aims at: the reader caches two rows of chunks, so this
/// is far from the per-chunk overhead and small beside the read budget.
inline constexpr std::uint64_t kSuggestedChunkBytes = 1ULL << 20;

/// @brief A chunk shape of /traces/values: rows x columns.
struct ChunkShape {
  std::uint64_t rows = 0;
  std::uint64_t cols = 0;
};

/// @brief A full-width chunk shape of about kSuggestedChunkBytes (a power-of-two row count, at
/// most the dataset's rows, at least one).
ChunkShape suggest_chunk(const TraceIndex& index);

/// @brief The warnings about the storage of /traces/values in `index` (empty: none), each one
/// sentence naming the file, the dataset, the chunk shape and bytes per chunk, and giving the
/// h5repack command that fixes it. Never throws for any index.
std::vector<std::string> chunking_warnings(const TraceIndex& index);

}  // namespace wafermill::format
