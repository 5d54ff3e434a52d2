/// @file picture_fixtures.hpp
/// @brief Inputs and comparisons shared by the emulation and GPU tests of the CUDA picture
/// path: batches of maps (hand-made, random of many shapes, generated with planted patterns),
/// images with planted blobs, the CPU reference of a batch, and bitwise comparisons.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>
#include <bit>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "wafermill/format/h5.hpp"
#include "wafermill/format/picture_reader.hpp"
#include "wafermill/generate/maps_images.hpp"
#include "wafermill/pictures/die_map.hpp"
#include "wafermill/pictures/gpu.hpp"
#include "wafermill/pictures/inspection_image.hpp"

namespace wafermill::pictures::testing {

/// @brief A batch of maps in map_features_batch's layout.
struct MapSet {
  std::vector<std::uint8_t> cells;
  std::vector<std::uint64_t> offsets{0};
  std::vector<std::uint32_t> rows, cols;
  std::vector<std::uint8_t> truth;  ///< planted pattern, generated maps only

  void add(std::uint32_t r, std::uint32_t c, const std::vector<std::uint8_t>& v) {
    cells.insert(cells.end(), v.begin(), v.end());
    offsets.push_back(cells.size());
    rows.push_back(r);
    cols.push_back(c);
  }
  void add_text(const std::vector<std::string>& lines) {
    std::vector<std::uint8_t> v;
    for (const auto& l : lines)
      for (const char ch : l) v.push_back(ch == '.' ? 0 : ch == 'o' ? 1 : 2);
    add(static_cast<std::uint32_t>(lines.size()), static_cast<std::uint32_t>(lines[0].size()), v);
  }
  std::size_t size() const { return rows.size(); }
  MapView view(std::size_t m) const {
    return {std::span<const std::uint8_t>(cells.data() + offsets[m], offsets[m + 1] - offsets[m]),
            rows[m], cols[m]};
  }
};

/// Dies in a disc of radius `radius` cells around the centre; fail(r, c, rho) decides.
template <class Fail>
std::vector<std::uint8_t> disc(std::uint32_t rows, std::uint32_t cols, double radius, Fail fail) {
  std::vector<std::uint8_t> v(std::size_t{rows} * cols, 0);
  const double cr = 0.5 * (rows - 1.0), cc = 0.5 * (cols - 1.0);
  for (std::uint32_t r = 0; r < rows; ++r)
    for (std::uint32_t c = 0; c < cols; ++c) {
      const double d = std::hypot(r - cr, c - cc);
      if (d <= radius) v[std::size_t{r} * cols + c] = fail(r, c, d / radius) ? 2 : 1;
    }
  return v;
}

/// Maps whose answers are known by construction: a ring, a scratch, two equal clusters (the
/// tie rule), a known die count, no dies, no fails, all failing, single rows and columns.
inline MapSet hand_made_maps() {
  MapSet s;
  s.add(31, 31, disc(31, 31, 14.6, [](auto, auto, double rho) { return rho > 0.85; }));
  auto scratch = disc(31, 31, 14.6, [](auto, auto, double) { return false; });
  for (int k = 0, r = 5, c = 6; k < 12; ++k, ++r, ++c) {
    scratch[r * 31 + c] = 2;
    scratch[r * 31 + c + 1] = 2;
  }
  s.add(31, 31, scratch);
  // Two clusters of 3 at different ρ: the first in row-major order must be the largest.
  s.add_text({"ooooooo", "oxxxooo", "ooooooo", "oooooxo", "oooooxo", "oooooxo"});
  s.add_text({".oo.", "oxxo", "oxoo", ".o.x"});
  s.add_text({"....", "...."});
  s.add_text({"ooo", "ooo"});
  s.add_text({"xxx", "xxx", "xxx"});
  s.add_text({"x"});
  s.add_text({"xoxxoxxxo"});
  s.add_text({"x", "x", "o", "x"});
  // A U shape whose arms meet only at the bottom: union-find must join them late.
  s.add_text({"x.x.x", "x.x.x", "x.x.x", "xxxxx"});
  return s;
}

/// Random maps of many shapes (from 1 × 1 to 64 × 80) and fail densities.
inline MapSet random_maps(std::uint32_t count, std::uint64_t seed) {
  static const std::pair<std::uint32_t, std::uint32_t> kShapes[] = {
      {26, 26}, {30, 34}, {41, 39}, {1, 1}, {1, 7}, {5, 1}, {64, 80}, {9, 12}};
  static const double kDensity[] = {0.0, 0.02, 0.2, 0.45, 0.6, 0.9, 1.0};
  std::mt19937_64 gen(seed);
  MapSet s;
  for (std::uint32_t m = 0; m < count; ++m) {
    const auto [rows, cols] = kShapes[gen() % std::size(kShapes)];
    const double p = kDensity[gen() % std::size(kDensity)];
    const double radius = 0.5 * std::max(rows, cols) * (0.7 + 0.3 * double(gen() % 1000) / 1000);
    std::uniform_real_distribution<double> u(0, 1);
    s.add(rows, cols, disc(rows, cols, radius, [&](auto, auto, double) { return u(gen) < p; }));
  }
  return s;
}

inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() /
             ("wafermill_pictures_gpu_" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

/// Maps of the generator (three products, all 8 patterns planted) with their truth.
inline const MapSet& generated_maps() {
  static const MapSet s = [] {
    generate::PictureOptions o;
    o.output = (scratch_dir() / "maps.h5").string();
    o.force = true;
    o.n_maps = 720;
    o.pattern_fraction = 0.9;
    o.seed = 17;
    generate::generate_pictures(o);
    const auto index = format::read_map_index(o.output);
    MapSet m;
    m.cells.resize(index.offsets.back());
    format::PictureReader(o.output).read_cells(0, m.cells);
    m.offsets = index.offsets;
    m.rows = index.rows;
    m.cols = index.cols;
    m.truth = format::h5::File::open_read(o.output)
                  .open_group("truth")
                  .open_dataset("map_pattern")
                  .read_all<std::uint8_t>();
    std::filesystem::remove_all(scratch_dir());
    return m;
  }();
  return s;
}

/// The CPU reference of a batch: map_features per map, FailCountMap::add per shape in
/// first-appearance order.
inline gpu::MapBatchResult cpu_batch(const MapSet& s) {
  gpu::MapBatchResult out;
  std::vector<std::uint32_t> scratch;
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::size_t> shape;
  for (std::size_t m = 0; m < s.size(); ++m) {
    out.features.push_back(map_features(s.view(m), scratch));
    auto [it, fresh] = shape.try_emplace({s.rows[m], s.cols[m]}, out.fail_counts.size());
    if (fresh) {
      FailCountMap f;
      f.rows = s.rows[m];
      f.cols = s.cols[m];
      out.fail_counts.push_back(f);
    }
    out.fail_counts[it->second].add(s.view(m));
  }
  return out;
}

/// Every feature bit for bit, the pattern, and the fail counts.
inline void expect_same_maps(const gpu::MapBatchResult& want, const gpu::MapBatchResult& got) {
  ASSERT_EQ(want.features.size(), got.features.size());
  const auto names = map_feature_names();
  for (std::size_t m = 0; m < want.features.size(); ++m) {
    const auto a = to_values(want.features[m]), b = to_values(got.features[m]);
    for (std::size_t j = 0; j < a.size(); ++j)
      ASSERT_EQ(std::bit_cast<std::uint64_t>(a[j]), std::bit_cast<std::uint64_t>(b[j]))
          << "map " << m << " " << names[j] << ": " << a[j] << " vs " << b[j];
    ASSERT_EQ(classify_pattern(want.features[m]), classify_pattern(got.features[m])) << m;
  }
  ASSERT_EQ(want.fail_counts.size(), got.fail_counts.size());
  for (std::size_t s = 0; s < want.fail_counts.size(); ++s) {
    EXPECT_EQ(want.fail_counts[s].rows, got.fail_counts[s].rows);
    EXPECT_EQ(want.fail_counts[s].cols, got.fail_counts[s].cols);
    EXPECT_EQ(want.fail_counts[s].wafers, got.fail_counts[s].wafers);
    EXPECT_EQ(want.fail_counts[s].fails, got.fail_counts[s].fails);
  }
}

/// n images around a smooth pattern with noise; every third gets blobs planted: discs,
/// a blob touching the right edge next to one at the left edge of the next row (which must
/// not join), and two blobs of equal size.
struct ImageSet {
  std::uint32_t height = 0, width = 0, channels = 1;
  std::size_t n = 0;
  std::vector<std::uint16_t> pixels;
  std::size_t values() const { return std::size_t{height} * width * channels; }
  ImageView view(std::size_t i) const {
    return {std::span<const std::uint16_t>(pixels.data() + i * values(), values()), height, width,
            channels};
  }
};

inline ImageSet make_images(std::uint32_t h, std::uint32_t w, std::uint32_t ch, std::size_t n,
                            std::uint64_t seed, std::uint16_t level = 120) {
  ImageSet s{h, w, ch, n, {}};
  s.pixels.resize(n * s.values());
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> noise(0, 3);
  for (std::size_t i = 0; i < n; ++i) {
    std::uint16_t* px = s.pixels.data() + i * s.values();
    for (std::uint32_t r = 0; r < h; ++r)
      for (std::uint32_t c = 0; c < w; ++c)
        for (std::uint32_t k = 0; k < ch; ++k) {
          const double v =
              level + 20 * std::sin(0.2 * r + 0.1 * k) * std::cos(0.15 * c) + noise(gen);
          px[(std::size_t{r} * w + c) * ch + k] =
              static_cast<std::uint16_t>(std::lround(std::max(v, 0.0)));
        }
    if (i % 3 != 1) continue;
    const auto set = [&](std::uint32_t r, std::uint32_t c, std::uint32_t k, int delta) {
      std::uint16_t& x = px[(std::size_t{r} * w + c) * ch + k];
      x = static_cast<std::uint16_t>(std::max(0, int(x) + delta));
    };
    const std::uint32_t cr = 3 + gen() % (h - 6), cc = 3 + gen() % (w - 6);
    const int radius = 1 + int(gen() % 3);
    for (int dr = -radius; dr <= radius; ++dr)
      for (int dc = -radius; dc <= radius; ++dc)
        if (dr * dr + dc * dc <= radius * radius) set(cr + dr, cc + dc, gen() % ch, 90);
    // Positions drawn per image, so the golden image's std stays small at each of them.
    const std::uint32_t er = gen() % (h - 1);
    set(er, w - 1, 0, 90);  // right edge of one row ...
    set(er + 1, 0, 0, 90);  // ... and left edge of the next: two blobs, not one
    const std::uint32_t pr = gen() % h, pc = gen() % (w - 1);
    set(pr, pc, 0, -100);
    set(pr, pc + 1, 0, -100);  // a pair ...
    const std::uint32_t qr = gen() % (h - 1), qc = gen() % w;
    set(qr, qc, 0, 100);
    set(qr + 1, qc, 0, 100);  // ... and another of the same size
  }
  return s;
}

/// The CPU reference of both image passes.
struct CpuImages {
  std::vector<ChannelStats> stats;  ///< [image][channel]
  GoldenSums sums;
  GoldenImage golden;
  std::vector<ImageScore> scores;
};
inline CpuImages cpu_images(const ImageSet& s, const DefectSettings& settings = {}) {
  CpuImages out{{}, GoldenSums(s.values()), {}, {}};
  for (std::size_t i = 0; i < s.n; ++i) {
    const auto st = image_stats(s.view(i));
    out.stats.insert(out.stats.end(), st.begin(), st.end());
    out.sums.add(s.view(i).pixels);
  }
  out.golden = finalize_golden(out.sums);
  std::vector<std::uint8_t> mask;
  std::vector<std::uint32_t> scratch;
  for (std::size_t i = 0; i < s.n; ++i)
    out.scores.push_back(score_image(s.view(i), out.golden, settings, mask, scratch));
  return out;
}

inline void expect_same_stats(const std::vector<ChannelStats>& a,
                              const std::vector<ChannelStats>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(std::bit_cast<std::uint64_t>(a[i].mean), std::bit_cast<std::uint64_t>(b[i].mean))
        << i;
    EXPECT_EQ(std::bit_cast<std::uint64_t>(a[i].std), std::bit_cast<std::uint64_t>(b[i].std)) << i;
    EXPECT_EQ(a[i].min, b[i].min) << i;
    EXPECT_EQ(a[i].max, b[i].max) << i;
  }
}

inline void expect_same_sums(const GoldenSums& a, const GoldenSums& b) {
  EXPECT_EQ(a.images, b.images);
  ASSERT_EQ(a.sum.size(), b.sum.size());
  for (std::size_t i = 0; i < a.sum.size(); ++i) {
    ASSERT_EQ(std::bit_cast<std::uint64_t>(a.sum[i]), std::bit_cast<std::uint64_t>(b.sum[i])) << i;
    ASSERT_EQ(std::bit_cast<std::uint64_t>(a.sum_sq[i]), std::bit_cast<std::uint64_t>(b.sum_sq[i]))
        << i;
  }
}

inline void expect_same_scores(const std::vector<ImageScore>& a, const std::vector<ImageScore>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].beyond, b[i].beyond) << i;
    EXPECT_EQ(a[i].blobs, b[i].blobs) << i;
    EXPECT_EQ(a[i].largest_blob, b[i].largest_blob) << i;
    EXPECT_EQ(a[i].flagged, b[i].flagged) << i;
  }
}

}  // namespace wafermill::pictures::testing
