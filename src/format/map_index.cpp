/// @file map_index.cpp
/// @brief Reading and validating /maps (docs/FORMAT.md "Maps and images").
#include "wafermill/format/map_index.hpp"

#include <algorithm>
#include <stdexcept>

#include "picture_checks.hpp"
#include "wafermill/error.hpp"

namespace wafermill::format {
namespace {

std::string integer_rule(const h5::TypeInfo& t, std::size_t max_size, const char* expected) {
  return t.type_class == h5::TypeClass::integer && t.size <= max_size ? "" : expected;
}

// Validates shapes, offsets and cells of an open checker; throws at the first problem.
MapIndex inspect(const detail::PictureChecker& check) {
  MapIndex index;
  index.path = check.path();
  const h5::Group maps = check.group("maps");
  const auto cells = check.dataset(maps, "cells", 1, [](const h5::TypeInfo& t) {
    return t.type_class == h5::TypeClass::integer && t.size == 1 && !t.is_signed ? "" : "uint8";
  });
  const auto shape = check.dataset(maps, "shape", 2, [](const h5::TypeInfo& t) {
    return integer_rule(t, 8, "an integer type (int32)");
  });
  const auto offsets = check.dataset(maps, "offsets", 1, [](const h5::TypeInfo& t) {
    return t.type_class == h5::TypeClass::integer && t.size == 8 ? "" : "int64 or uint64";
  });
  const std::string shape_path = shape.dataset.path(), offsets_path = offsets.dataset.path();
  const std::uint64_t n = shape.dims[0];
  if (shape.dims[1] != 2)
    check.fail(shape_path, "has shape " + detail::dims_text(shape.dims) +
                               ", expected [n_wafers, 2] (rows, cols)");
  if (offsets.dims[0] != n + 1)
    check.fail(offsets_path, "has " + std::to_string(offsets.dims[0]) +
                                 " entries, expected n_wafers + 1 = " + std::to_string(n + 1) +
                                 " (n_wafers from /maps/shape)");
  index.n_wafers = n;
  // Both sizes are bounded by the file size (PictureChecker::dataset), so these are safe.
  const auto sh = shape.dataset.read_all<std::int64_t>();
  const auto off = check.read_int64(offsets);
  index.rows.resize(n);
  index.cols.resize(n);
  index.offsets.resize(n + 1);
  if (off[0] != 0)
    check.fail_element(offsets_path, 0, std::to_string(off[0]), ", expected 0");
  for (std::uint64_t w = 0; w < n; ++w) {
    const std::int64_t r = sh[2 * w], c = sh[2 * w + 1];
    if (r < 1 || c < 1 || r > kMaxMapSide || c > kMaxMapSide)
      check.fail_element(shape_path, w, "(" + std::to_string(r) + ", " + std::to_string(c) + ")",
                         ", expected rows and cols in 1.." + std::to_string(kMaxMapSide));
    index.rows[w] = static_cast<std::uint32_t>(r);
    index.cols[w] = static_cast<std::uint32_t>(c);
    const std::int64_t want = r * c;  // below 2^24: no overflow
    std::int64_t got = 0;
    if (__builtin_sub_overflow(off[w + 1], off[w], &got) || got != want)
      check.fail_element(offsets_path, w + 1, std::to_string(off[w + 1]),
                 " but offsets[" + std::to_string(w) +
                     "] = " + std::to_string(off[w]) + " and wafer " + std::to_string(w) +
                     " has shape (" + std::to_string(r) + ", " + std::to_string(c) +
                     "): expected offsets[w+1] - offsets[w] = rows * cols = " +
                     std::to_string(want));
    index.offsets[w + 1] = static_cast<std::uint64_t>(off[w + 1]);
  }
  if (index.offsets[n] != cells.dims[0])
    check.fail_element(offsets_path, n, std::to_string(index.offsets[n]),
               ", expected the length of /maps/cells = " +
                   std::to_string(cells.dims[0]));
  // Every cell must be a WM-811K value; bounded reads keep memory flat for any file.
  std::vector<std::uint8_t> buf;
  for (std::uint64_t first = 0; first < cells.dims[0]; first += kMapScanCells) {
    const std::uint64_t count = std::min(kMapScanCells, cells.dims[0] - first);
    buf.resize(count);
    cells.dataset.read(std::span<std::uint8_t>(buf), {first}, {count});
    for (std::uint64_t i = 0; i < count; ++i) {
      if (buf[i] <= 2) continue;
      const std::uint64_t at = first + i;
      const auto w = static_cast<std::uint64_t>(
          std::upper_bound(index.offsets.begin(), index.offsets.end(), at) - index.offsets.begin() - 1);
      check.fail_element(cells.dataset.path(), at, std::to_string(buf[i]),
                 " (wafer " + std::to_string(w) +
                     "), expected 0 (no die), 1 (pass) or 2 (fail)");
    }
  }
  return index;
}

}  // namespace

std::vector<std::uint64_t> MapIndex::serialize() const {
  std::vector<std::uint64_t> out;
  out.reserve(1 + 3 * n_wafers + 1);
  out.push_back(n_wafers);
  for (std::uint64_t w = 0; w < n_wafers; ++w) {
    out.push_back(rows[w]);
    out.push_back(cols[w]);
  }
  out.insert(out.end(), offsets.begin(), offsets.end());
  return out;
}

MapIndex MapIndex::deserialize(std::span<const std::uint64_t> words, std::string path) {
  if (words.empty() || words[0] > (words.size() - 1) / 3)
    throw std::runtime_error("MapIndex::deserialize: malformed buffer");
  MapIndex m;
  m.path = std::move(path);
  m.n_wafers = words[0];
  if (words.size() != 1 + 3 * m.n_wafers + 1)
    throw std::runtime_error("MapIndex::deserialize: malformed buffer");
  for (std::uint64_t w = 0; w < m.n_wafers; ++w) {
    m.rows.push_back(static_cast<std::uint32_t>(words[1 + 2 * w]));
    m.cols.push_back(static_cast<std::uint32_t>(words[2 + 2 * w]));
  }
  m.offsets.assign(words.begin() + 1 + 2 * m.n_wafers, words.end());
  return m;
}

MapIndex read_map_index(const std::string& path) {
  MapIndex index;
  detail::as_input_errors(path, [&] {
    const detail::PictureChecker check(path);
    index = inspect(check);
  });
  return index;
}

}  // namespace wafermill::format
