/// @file map_index.hpp
/// @brief The index of the die maps of a file (docs/FORMAT.md "Maps and images"): each
/// wafer's map shape and cell offsets, validated against /maps/cells, whose every value is
/// checked to be 0, 1 or 2 before any computation starts.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace wafermill::format {

/// @brief Largest accepted rows or columns of one die map (WM-811K maps are below 300).
inline constexpr std::uint32_t kMaxMapSide = 4096;

/// @brief Cells of /maps/cells scanned per read while validating.
inline constexpr std::uint64_t kMapScanCells = 1U << 22;

/// @brief Where each wafer's map lies in /maps/cells.
struct MapIndex {
  std::string path;
  std::uint64_t n_wafers = 0;
  std::vector<std::uint32_t> rows, cols;  ///< per wafer
  std::vector<std::uint64_t> offsets;     ///< n_wafers + 1 cell offsets

  /// @brief Cells of wafer w.
  std::uint64_t cells(std::uint64_t w) const { return offsets[w + 1] - offsets[w]; }
  /// @brief Flat encoding for broadcasting (rows, cols and offsets; the path is not sent).
  std::vector<std::uint64_t> serialize() const;
  /// @brief Inverse of serialize(). @throws std::runtime_error on a malformed buffer.
  static MapIndex deserialize(std::span<const std::uint64_t> words, std::string path);
};

/// @brief Reads and validates /maps of `path`: /maps/cells uint8 [total], /maps/shape
/// integer [n_wafers, 2] with 1 ≤ rows, cols ≤ kMaxMapSide, /maps/offsets 64-bit integer
/// [n_wafers + 1] starting at 0 with offsets[w+1] − offsets[w] = rows·cols and ending at
/// total; then scans the cells in bounded reads for values above 2.
/// @throws InputError naming the file, dataset and index of the first problem.
MapIndex read_map_index(const std::string& path);

}  // namespace wafermill::format
