/// @file text_map.hpp
/// @brief Hand-made die maps for the unit tests: maps from text rows and discs of dies.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "wafermill/pictures/die_map.hpp"

namespace wafermill::pictures {

// A map from text rows: '.' no die, 'o' pass, 'x' fail.
struct TextMap {
  std::vector<std::uint8_t> cells;
  std::uint32_t rows = 0, cols = 0;
  explicit TextMap(const std::vector<std::string>& lines) {
    rows = static_cast<std::uint32_t>(lines.size());
    cols = static_cast<std::uint32_t>(lines[0].size());
    for (const auto& l : lines)
      for (char ch : l) cells.push_back(ch == '.' ? 0 : ch == 'o' ? 1 : 2);
  }
  MapView view() const { return {cells, rows, cols}; }
};

// A disc of dies of radius `r` (cells whose centre lies within r of the map centre) on an
// n × n map, with `fail(row, col, rho)` deciding failing dies.
template <class Fail>
TextMap disc(int n, double r, Fail fail) {
  std::vector<std::string> lines(n, std::string(n, '.'));
  const double c = 0.5 * (n - 1);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      const double d = std::hypot(i - c, j - c);
      if (d <= r) lines[i][j] = fail(i, j, d / r) ? 'x' : 'o';
    }
  return TextMap(lines);
}

}  // namespace wafermill::pictures
