// Image statistics, the golden image and defect scoring against two-pass references.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "wafermill/pictures/inspection_image.hpp"

namespace wafermill::pictures {
namespace {

TEST(ImageStats, PerChannelAgainstTwoPass) {
  const std::uint32_t h = 7, w = 5, ch = 3;
  std::vector<std::uint16_t> px(h * w * ch);
  std::mt19937 gen(3);
  for (auto& x : px) x = static_cast<std::uint16_t>(gen() % 65536);
  const auto stats = image_stats({px, h, w, ch});
  ASSERT_EQ(stats.size(), 3u);
  for (std::uint32_t c = 0; c < ch; ++c) {
    double mean = 0;
    std::uint16_t lo = 65535, hi = 0;
    for (std::size_t i = c; i < px.size(); i += ch) {
      mean += px[i];
      lo = std::min(lo, px[i]);
      hi = std::max(hi, px[i]);
    }
    mean /= h * w;
    double var = 0;
    for (std::size_t i = c; i < px.size(); i += ch) var += (px[i] - mean) * (px[i] - mean);
    EXPECT_NEAR(stats[c].mean, mean, 1e-9 * mean);
    EXPECT_NEAR(stats[c].std, std::sqrt(var / (h * w)), 1e-9 * std::sqrt(var / (h * w)));
    EXPECT_EQ(stats[c].min, lo);
    EXPECT_EQ(stats[c].max, hi);
  }
}

TEST(ImageStats, ConstantImageHasZeroStd) {
  std::vector<std::uint16_t> px(12, 200);
  const auto s = image_stats({px, 3, 4, 1});
  EXPECT_EQ(s[0].mean, 200.0);
  EXPECT_EQ(s[0].std, 0.0);  // exact: no cancellation residue
  EXPECT_THROW(image_stats({px, 3, 4, 3}), std::invalid_argument);
  EXPECT_THROW(image_stats({px, 3, 4, 2}), std::invalid_argument);
}

TEST(Golden, ExactAndIndependentOfSplitAndOrder) {
  const std::size_t n = 64;
  std::mt19937 gen(5);
  std::vector<std::vector<std::uint16_t>> images(9, std::vector<std::uint16_t>(n));
  for (auto& im : images)
    for (auto& x : im) x = static_cast<std::uint16_t>(gen() % 65536);
  GoldenSums all(n);
  for (const auto& im : images) all.add(im);
  // Two "ranks" summing halves in reverse order, then merged.
  GoldenSums a(n), b(n);
  for (std::size_t i = 5; i-- > 0;) a.add(images[i]);
  for (std::size_t i = images.size(); i-- > 5;) b.add(images[i]);
  for (std::size_t i = 0; i < n; ++i) {
    EXPECT_EQ(all.sum[i], b.sum[i] + a.sum[i]);
    EXPECT_EQ(all.sum_sq[i], b.sum_sq[i] + a.sum_sq[i]);
  }
  const GoldenImage g = finalize_golden(all);
  for (std::size_t i = 0; i < n; ++i) {
    double mean = 0, var = 0;
    for (const auto& im : images) mean += im[i];
    mean /= images.size();
    for (const auto& im : images) var += (im[i] - mean) * (im[i] - mean);
    EXPECT_NEAR(g.mean[i], mean, 1e-12 * mean);
    EXPECT_NEAR(g.std[i], std::sqrt(var / images.size()), 1e-9 * 65535);
  }
  EXPECT_THROW(finalize_golden(GoldenSums(n)), std::invalid_argument);
}

TEST(Defects, FindsAPlantedBlob) {
  const std::uint32_t h = 20, w = 30;
  std::mt19937 gen(11);
  GoldenSums sums(h * w);
  std::vector<std::uint16_t> im(h * w);
  for (int k = 0; k < 40; ++k) {
    for (auto& x : im) x = static_cast<std::uint16_t>(100 + gen() % 5);
    sums.add(im);
  }
  const GoldenImage g = finalize_golden(sums);
  for (auto& x : im) x = static_cast<std::uint16_t>(100 + gen() % 5);
  // A 3 × 4 bright blob and a 1-pixel speck elsewhere.
  for (std::uint32_t r = 4; r < 7; ++r)
    for (std::uint32_t c = 10; c < 14; ++c) im[r * w + c] = 250;
  im[15 * w + 25] = 0;
  std::vector<std::uint8_t> mask;
  std::vector<std::uint32_t> scratch;
  const ImageScore s = score_image({im, h, w, 1}, g, DefectSettings{}, mask, scratch);
  EXPECT_EQ(s.beyond, 13u);
  EXPECT_EQ(s.blobs, 2u);
  EXPECT_EQ(s.largest_blob, 12u);
  EXPECT_TRUE(s.flagged);
  // The same image without the blob: only the speck, not flagged.
  for (std::uint32_t r = 4; r < 7; ++r)
    for (std::uint32_t c = 10; c < 14; ++c) im[r * w + c] = 102;
  const ImageScore clean = score_image({im, h, w, 1}, g, DefectSettings{}, mask, scratch);
  EXPECT_EQ(clean.largest_blob, 1u);
  EXPECT_FALSE(clean.flagged);
}

TEST(Defects, RgbPixelDeviatesWhenAnyChannelDoes) {
  GoldenSums sums(2 * 3);
  const std::vector<std::uint16_t> base = {10, 20, 30, 10, 20, 30};
  sums.add(base);
  const GoldenImage g = finalize_golden(sums);
  const std::vector<std::uint16_t> im = {10, 20, 30, 10, 90, 30};
  std::vector<std::uint8_t> mask;
  std::vector<std::uint32_t> scratch;
  const ImageScore s = score_image({im, 1, 2, 3}, g, DefectSettings{}, mask, scratch);
  EXPECT_EQ(s.beyond, 1u);
  EXPECT_EQ(s.blobs, 1u);
}

}  // namespace
}  // namespace wafermill::pictures
