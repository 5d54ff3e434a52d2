/// @file maps_images.cpp
/// @brief Die maps with planted patterns and inspection images with planted defects.
/// Pattern geometry in units of the wafer radius R (ρ = distance / R), chosen so the rules
/// of pictures::classify_pattern can recover them (docs/PICTURES.md "Generator").
#include "wafermill/generate/maps_images.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <numbers>
#include <vector>

#include "random.hpp"
#include "untimed_objects.hpp"
#include "wafermill/error.hpp"
#include "wafermill/format/atomic_output.hpp"
#include "wafermill/format/h5.hpp"

namespace wafermill::generate {
namespace {

namespace h5 = format::h5;

// Map and image draws use their own seeds, so adding pictures leaves the traces unchanged.
constexpr std::uint64_t kMapSeedSalt = 0x6D6170735F763101ULL;    // "maps_v1"
constexpr std::uint64_t kImageSeedSalt = 0x696D616765763101ULL;  // "imagev1"
constexpr std::uint64_t kWriteBatch = 4096;  // maps per write

// Three products of different map sizes (WM-811K maps range from about 15 to 300 cells a side).
constexpr std::array<std::array<std::uint32_t, 2>, 3> kProducts = {{{26, 26}, {30, 34}, {41, 39}}};

// Pattern codes as pictures::MapPattern (generate/ does not link pictures/).
enum Pattern : std::uint8_t {
  kNone = 0, kCentre, kDonut, kEdgeLocal, kEdgeRing, kLocal, kNearFull, kRandom, kScratch
};

constexpr double kBackgroundFail = 0.02;  // failing dies of a good wafer

struct MapPlan {
  std::uint32_t rows = 0, cols = 0;
  std::uint8_t pattern = kNone;
};

MapPlan plan_map(const PictureOptions& o, std::uint64_t w) {
  Random rng(o.seed ^ kMapSeedSalt, Stream::plan, w);
  MapPlan p;
  const auto& shape = kProducts[rng.below(kProducts.size())];
  p.rows = shape[0];
  p.cols = shape[1];
  if (rng.uniform() < o.pattern_fraction) p.pattern = static_cast<std::uint8_t>(1 + rng.below(8));
  return p;
}

// Fills `cells` (rows × cols) of wafer w with dies, background failures and its pattern.
void draw_map(const PictureOptions& o, std::uint64_t w, const MapPlan& p,
              std::span<std::uint8_t> cells) {
  Random rng(o.seed ^ kMapSeedSalt, Stream::samples, w);
  const double cr = 0.5 * (p.rows - 1.0), cc = 0.5 * (p.cols - 1.0);
  const double radius = 0.5 * std::min(p.rows, p.cols) - 0.5;
  const auto at = [&](int r, int c) -> std::uint8_t* {
    if (r < 0 || c < 0 || r >= int(p.rows) || c >= int(p.cols)) return nullptr;
    std::uint8_t* cell = &cells[std::size_t(r) * p.cols + c];
    return *cell == 0 ? nullptr : cell;
  };
  for (std::uint32_t r = 0; r < p.rows; ++r)
    for (std::uint32_t c = 0; c < p.cols; ++c)
      cells[std::size_t(r) * p.cols + c] =
          std::hypot(r - cr, c - cc) <= radius ? (rng.uniform() < kBackgroundFail ? 2 : 1) : 0;
  // Fail dies with probability `prob` where `inside(r, c, rho)` holds.
  const auto fail_where = [&](double prob, auto inside) {
    for (std::uint32_t r = 0; r < p.rows; ++r)
      for (std::uint32_t c = 0; c < p.cols; ++c) {
        std::uint8_t* cell = at(int(r), int(c));
        if (cell && inside(double(r), double(c), std::hypot(r - cr, c - cc) / radius) &&
            rng.uniform() < prob)
          *cell = 2;
      }
  };
  // A blob: dies within `size` · R of a point at radius `rho0`, random angle.
  const auto blob = [&](double rho0, double size) {
    const double a = 2 * std::numbers::pi * rng.uniform();
    const double br = cr + rho0 * radius * std::sin(a), bc = cc + rho0 * radius * std::cos(a);
    fail_where(0.9, [&](double r, double c, double) { return std::hypot(r - br, c - bc) <= size * radius; });
  };
  switch (p.pattern) {
    case kCentre:
      fail_where(0.85, [](double, double, double rho) { return rho < 0.3; });
      break;
    case kDonut:
      fail_where(0.85, [](double, double, double rho) { return rho > 0.45 && rho < 0.68; });
      break;
    case kEdgeRing:
      fail_where(0.85, [](double, double, double rho) { return rho > 0.86; });
      break;
    case kEdgeLocal:
      blob(0.95, 0.25);
      break;
    case kLocal:
      blob(rng.uniform(0.25, 0.55), rng.uniform(0.14, 0.2));
      break;
    case kNearFull:
      fail_where(rng.uniform(0.8, 0.95), [](double, double, double) { return true; });
      break;
    case kRandom:
      fail_where(rng.uniform(0.25, 0.45), [](double, double, double) { return true; });
      break;
    case kScratch: {
      // A 4-connected line of length 0.7-1.2 R from a point within 0.5 R, every die failing.
      const double a = 2 * std::numbers::pi * rng.uniform(), d = 0.5 * radius * rng.uniform();
      const double dir = 2 * std::numbers::pi * rng.uniform();
      double r = cr + d * std::sin(a), c = cc + d * std::cos(a);
      const double length = rng.uniform(0.7, 1.2) * radius;
      int pr = int(std::lround(r)), pc = int(std::lround(c));
      for (double t = 0; t <= length; t += 0.25) {
        const int nr = int(std::lround(r + t * std::sin(dir))), nc = int(std::lround(c + t * std::cos(dir)));
        // A diagonal step gets its corner cell, so the line stays 4-connected.
        if (nr != pr && nc != pc)
          if (auto* cell = at(pr, nc)) *cell = 2;
        if (auto* cell = at(nr, nc)) *cell = 2;
        pr = nr;
        pc = nc;
      }
      break;
    }
    default:
      break;
  }
}

void write_maps(h5::File& file, h5::Group& truth, const PictureOptions& o, PictureResult& result) {
  std::vector<MapPlan> plans(o.n_maps);
  std::vector<std::uint64_t> offsets(o.n_maps + 1, 0);
  std::vector<std::int32_t> shape(2 * o.n_maps);
  std::vector<std::uint8_t> patterns(o.n_maps);
  for (std::uint64_t w = 0; w < o.n_maps; ++w) {
    plans[w] = plan_map(o, w);
    offsets[w + 1] = offsets[w] + std::uint64_t(plans[w].rows) * plans[w].cols;
    shape[2 * w] = static_cast<std::int32_t>(plans[w].rows);
    shape[2 * w + 1] = static_cast<std::int32_t>(plans[w].cols);
    patterns[w] = plans[w].pattern;
    result.n_patterned += plans[w].pattern != kNone;
  }
  h5::Group maps = create_untimed_group(file, "maps");
  const std::uint64_t total = offsets.back();
  h5::Dataset cells = create_untimed_dataset(maps, "cells", h5::Elem::u8, {total},
                                             {{std::min<std::uint64_t>(total, 1U << 20)}, 4, false});
  create_untimed_dataset(maps, "shape", h5::Elem::i32, {o.n_maps, 2})
      .write_all(std::span<const std::int32_t>(shape));
  const std::vector<std::int64_t> off64(offsets.begin(), offsets.end());
  create_untimed_dataset(maps, "offsets", h5::Elem::i64, {o.n_maps + 1})
      .write_all(std::span<const std::int64_t>(off64));
  create_untimed_dataset(truth, "map_pattern", h5::Elem::u8, {o.n_maps})
      .write_all(std::span<const std::uint8_t>(patterns));
  std::vector<std::uint8_t> buf;
  for (std::uint64_t first = 0; first < o.n_maps; first += kWriteBatch) {
    const std::uint64_t end = std::min(o.n_maps, first + kWriteBatch);
    buf.assign(offsets[end] - offsets[first], 0);
    for (std::uint64_t w = first; w < end; ++w)
      draw_map(o, w, plans[w],
               std::span<std::uint8_t>(buf).subspan(offsets[w] - offsets[first], offsets[w + 1] - offsets[w]));
    if (!buf.empty()) cells.write(std::span<const std::uint8_t>(buf), {offsets[first]}, {buf.size()});
  }
  result.n_maps = o.n_maps;
}

// The product's nominal image: a smooth pattern per channel (die grid and shading).
double nominal(std::uint32_t r, std::uint32_t c, std::uint32_t ch, const PictureOptions& o) {
  const double y = double(r) / o.image_height, x = double(c) / o.image_width;
  return 110.0 + 30.0 * ch + 40.0 * std::sin(2 * std::numbers::pi * 3 * y) * std::cos(2 * std::numbers::pi * 4 * x);
}

void write_images(h5::File& file, h5::Group& truth, const PictureOptions& o, PictureResult& result) {
  const std::uint32_t ch = o.rgb ? 3 : 1;
  std::vector<std::uint64_t> dims = {o.n_images, o.image_height, o.image_width};
  std::vector<std::uint64_t> chunk = {1, o.image_height, o.image_width};
  if (o.rgb) {
    dims.push_back(3);
    chunk.push_back(3);
  }
  h5::Group images = create_untimed_group(file, "images");
  const bool wide = o.image_bits == 16;
  // 16-bit images are the 8-bit scene scaled to the full range (noise and defects included).
  const double scale = wide ? 256.0 : 1.0;
  const long top = wide ? 65535L : 255L;
  h5::Dataset pixels = create_untimed_dataset(images, "pixels", wide ? h5::Elem::u16 : h5::Elem::u8, dims,
                                              {chunk, 0, false});
  std::vector<std::int64_t> wafer(o.n_images);
  for (std::uint64_t i = 0; i < o.n_images; ++i)
    wafer[i] = static_cast<std::int64_t>(o.n_maps > 0 ? i % o.n_maps : i);
  create_untimed_dataset(images, "wafer", h5::Elem::i64, {o.n_images})
      .write_all(std::span<const std::int64_t>(wafer));
  std::vector<std::uint8_t> defects(o.n_images, 0);
  std::vector<double> value(std::size_t(o.image_height) * o.image_width * ch);
  std::vector<std::uint8_t> px(value.size());
  std::vector<std::uint16_t> px16(wide ? value.size() : 0);
  for (std::uint64_t i = 0; i < o.n_images; ++i) {
    Random rng(o.seed ^ kImageSeedSalt, Stream::samples, i);
    for (std::uint32_t r = 0; r < o.image_height; ++r)
      for (std::uint32_t c = 0; c < o.image_width; ++c)
        for (std::uint32_t k = 0; k < ch; ++k)
          value[(std::size_t(r) * o.image_width + c) * ch + k] = nominal(r, c, k, o) + 3.0 * rng.normal();
    if (rng.uniform() < o.defect_fraction) {
      defects[i] = static_cast<std::uint8_t>(1 + rng.below(3));
      for (int d = 0; d < defects[i]; ++d) {
        // A disc of radius 2-5 pixels, 60-100 grey levels brighter or darker in every channel.
        const double br = rng.uniform(0, o.image_height), bc = rng.uniform(0, o.image_width);
        const double rad = rng.uniform(2.0, 5.0), shift = rng.sign() * rng.uniform(60.0, 100.0);
        for (std::uint32_t r = 0; r < o.image_height; ++r)
          for (std::uint32_t c = 0; c < o.image_width; ++c)
            if (std::hypot(r - br, c - bc) <= rad)
              for (std::uint32_t k = 0; k < ch; ++k) value[(std::size_t(r) * o.image_width + c) * ch + k] += shift;
      }
      ++result.n_defective;
    }
    for (std::size_t j = 0; j < value.size(); ++j) {
      const long v = std::clamp(std::lround(value[j] * scale), 0L, top);
      if (wide)
        px16[j] = static_cast<std::uint16_t>(v);
      else
        px[j] = static_cast<std::uint8_t>(v);
    }
    std::vector<std::uint64_t> offset = {i, 0, 0}, count = {1, o.image_height, o.image_width};
    if (o.rgb) {
      offset.push_back(0);
      count.push_back(3);
    }
    if (wide)
      pixels.write(std::span<const std::uint16_t>(px16), offset, count);
    else
      pixels.write(std::span<const std::uint8_t>(px), offset, count);
  }
  create_untimed_dataset(truth, "image_defects", h5::Elem::u8, {o.n_images})
      .write_all(std::span<const std::uint8_t>(defects));
  result.n_images = o.n_images;
}

}  // namespace

PictureResult generate_pictures(const PictureOptions& o) {
  if (o.n_maps == 0 && o.n_images == 0 && !o.traces)
    throw UsageError("generate: nothing to write (no traces, maps or images)");
  if (!(o.pattern_fraction >= 0 && o.pattern_fraction <= 1))
    throw UsageError("generate: --pattern-fraction must be in [0, 1]");
  if (!(o.defect_fraction >= 0 && o.defect_fraction <= 1))
    throw UsageError("generate: --defect-fraction must be in [0, 1]");
  if (o.image_bits != 8 && o.image_bits != 16)
    throw UsageError("generate: --image-bits must be 8 or 16, not " + std::to_string(o.image_bits));
  if (o.n_images > 0 && (o.image_height < 8 || o.image_width < 8 || o.image_height > 8192 ||
                         o.image_width > 8192))
    throw UsageError("generate: image height and width must be 8..8192");
  format::AtomicOutput out(o.output, o.force);
  PictureResult result;
  h5::File file;
  if (o.traces) {
    GeneratorOptions t = *o.traces;
    t.output = out.temp_path();
    t.force = true;
    generate_traces(t);
    file = h5::File::open_read_write(out.temp_path());
  } else {
    file = create_untimed_file(out.temp_path());
  }
  {
    h5::Group truth = file.has_group("truth") ? file.open_group("truth") : create_untimed_group(file, "truth");
    if (o.n_maps > 0) write_maps(file, truth, o, result);
    if (o.n_images > 0) write_images(file, truth, o, result);
  }
  file.close();
  out.commit();
  std::error_code ec;
  result.bytes = std::filesystem::file_size(o.output, ec);
  return result;
}

}  // namespace wafermill::generate
