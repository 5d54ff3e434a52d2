/// @file inspection_image.cpp
/// @brief Channel statistics, the golden image and defect scoring (docs/PICTURES.md).
#include "wafermill/pictures/inspection_image.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "wafermill/pictures/picture_math.hpp"

namespace wafermill::pictures {
namespace {

using math::U128;

std::size_t checked_size(const ImageView& image) {
  if (image.channels != 1 && image.channels != 3)
    throw std::invalid_argument("image: channels must be 1 or 3");
  const std::size_t n = std::size_t(image.height) * image.width * image.channels;
  if (image.pixels.size() != n)
    throw std::invalid_argument("image: pixels.size() != height * width * channels");
  return n;
}

}  // namespace

std::vector<ChannelStats> image_stats(const ImageView& image) {
  const std::size_t n = checked_size(image);
  const std::uint32_t ch = image.channels;
  std::vector<ChannelStats> out(ch);
  std::vector<U128> sum(ch, 0), sum_sq(ch, 0);
  std::vector<std::uint16_t> lo(ch, UINT16_MAX), hi(ch, 0);
  for (std::size_t i = 0; i < n; i += ch) {
    for (std::uint32_t c = 0; c < ch; ++c) {
      const std::uint64_t x = image.pixels[i + c];
      sum[c] += x;
      sum_sq[c] += x * x;
      lo[c] = std::min<std::uint16_t>(lo[c], static_cast<std::uint16_t>(x));
      hi[c] = std::max<std::uint16_t>(hi[c], static_cast<std::uint16_t>(x));
    }
  }
  const std::uint64_t per_channel = n / ch;
  for (std::uint32_t c = 0; c < ch; ++c) {
    if (per_channel == 0) continue;
    out[c].mean = static_cast<double>(sum[c]) / static_cast<double>(per_channel);
    out[c].std = math::exact_std(per_channel, sum[c], sum_sq[c]);
    out[c].min = lo[c];
    out[c].max = hi[c];
  }
  return out;
}

void GoldenSums::add(std::span<const std::uint16_t> pixels) {
  if (pixels.size() != sum.size()) throw std::invalid_argument("GoldenSums::add: size mismatch");
  for (std::size_t i = 0; i < pixels.size(); ++i) {
    const double x = pixels[i];
    sum[i] += x;
    sum_sq[i] += x * x;  // x² < 2^32: exact, as is the running sum below 2^53
  }
  ++images;
}

GoldenImage finalize_golden(const GoldenSums& sums) {
  if (sums.images == 0) throw std::invalid_argument("finalize_golden: no images");
  if (sums.images > kMaxGoldenImages)
    throw std::invalid_argument("finalize_golden: too many images for exact sums");
  GoldenImage g;
  g.images = sums.images;
  g.mean.resize(sums.sum.size());
  g.std.resize(sums.sum.size());
  const double n = static_cast<double>(sums.images);
  for (std::size_t i = 0; i < sums.sum.size(); ++i) {
    const double s = sums.sum[i], q = sums.sum_sq[i];
    if (s < 0 || q < 0 || s != std::floor(s) || q != std::floor(q) || q >= 0x1p53)
      throw std::invalid_argument("finalize_golden: sums are not exact non-negative integers");
    g.mean[i] = s / n;
    g.std[i] = math::exact_std(sums.images, static_cast<U128>(s),
                         static_cast<U128>(q));
  }
  return g;
}

ImageScore score_image(const ImageView& image, const GoldenImage& golden,
                       const DefectSettings& settings, std::vector<std::uint8_t>& mask,
                       std::vector<std::uint32_t>& scratch) {
  const std::size_t n = checked_size(image);
  if (golden.mean.size() != n || golden.std.size() != n)
    throw std::invalid_argument("score_image: golden image of another shape");
  const std::uint32_t ch = image.channels;
  const std::size_t positions = n / ch;
  mask.assign(positions, 0);
  ImageScore s;
  for (std::size_t p = 0; p < positions; ++p) {
    bool deviates = false;
    for (std::uint32_t c = 0; c < ch; ++c) {
      const std::size_t i = p * ch + c;
      deviates |= math::value_deviates(double(image.pixels[i]), golden.mean[i], golden.std[i],
                                       settings.k_sigma, settings.std_floor);
    }
    mask[p] = deviates ? 1 : 0;
    s.beyond += deviates;
  }
  const ComponentSummary blobs = find_components(mask, image.height, image.width, scratch);
  s.blobs = blobs.count;
  s.largest_blob = blobs.largest.size;
  s.flagged = s.largest_blob >= settings.min_blob;
  return s;
}

}  // namespace wafermill::pictures
