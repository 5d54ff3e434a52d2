/// @file emulation.cpp
/// @brief The picture kernels on the host, step by step as picture_kernels.cu runs them.
#include "emulation.hpp"

#include <stdexcept>

#include "image_finish.hpp"
#include "kernel_steps.hpp"

namespace wafermill::pictures::gpu::detail {

MapBatchResult emulate_map_batch(std::span<const std::uint8_t> cells,
                                 std::span<const std::uint64_t> offsets,
                                 std::span<const std::uint32_t> rows,
                                 std::span<const std::uint32_t> cols, ThreadOrder order,
                                 std::uint64_t chunk_cells) {
  const MapBatchPlan plan = plan_map_batch(cells, offsets, rows, cols, chunk_cells);
  MapBatchResult out;
  out.features.resize(rows.size());
  std::vector<std::vector<unsigned long long>> fleet(plan.shapes.size());
  for (std::size_t s = 0; s < plan.shapes.size(); ++s)
    fleet[s].assign(std::size_t{plan.shapes[s].rows} * plan.shapes[s].cols, 0);
  const SerialExec ex{order};
  std::vector<std::uint64_t> work;  // 8-byte aligned, as the kernel's
  std::uint32_t tally[kMapTallies];
  for (const MapChunk& chunk : plan.chunks) {
    for (const MapGroup& group : chunk.groups) {
      const MapShape& shape = plan.shapes[group.shape];
      const std::uint64_t n = std::uint64_t{shape.rows} * shape.cols;
      work.assign(map_block_bytes(n) / 8, 0xdeadbeefdeadbeefULL);  // no reliance on zeroes
      for (const std::uint32_t m : group.maps) {
        MapCounts counts;
        map_block(ex, cells.data() + offsets[m], shape.rows, shape.cols, shape.sectors.data(),
                  work.data(), tally, fleet[group.shape].data(), &counts);
        const MapView view{cells.subspan(offsets[m], n), shape.rows, shape.cols};
        out.features[m] = finish_map(counts, view);
      }
    }
  }
  for (std::size_t s = 0; s < plan.shapes.size(); ++s) {
    FailCountMap f;
    f.rows = plan.shapes[s].rows;
    f.cols = plan.shapes[s].cols;
    f.wafers = plan.shapes[s].wafers;
    f.fails.assign(fleet[s].begin(), fleet[s].end());
    out.fail_counts.push_back(std::move(f));
  }
  return out;
}

ImageEmulator::ImageEmulator(std::uint32_t height, std::uint32_t width, std::uint32_t channels,
                             ThreadOrder order, std::uint32_t batch_images)
    : height_(height),
      width_(width),
      channels_(channels),
      positions_(std::size_t{height} * width),
      values_(positions_ * channels),
      ex_{order},
      batch_(batch_images_for(values_, batch_images)),
      sum_(values_, 0.0),
      sum_sq_(values_, 0.0) {
  if (channels != 1 && channels != 3) throw std::invalid_argument("image: channels must be 1 or 3");
  if (positions_ == 0 || positions_ >= kNoLabel)
    throw std::invalid_argument("image: 0 or too many pixels");
}

std::vector<ChannelStats> ImageEmulator::add_images(std::span<const std::uint16_t> pixels) {
  if (pixels.size() % values_ != 0) throw std::invalid_argument("add_images: partial image");
  const std::size_t n = pixels.size() / values_;
  std::vector<ChannelStats> out(n * channels_);
  const auto p32 = static_cast<std::uint32_t>(positions_);
  for (std::size_t first = 0; first < n; first += batch_) {
    const auto count = static_cast<std::uint32_t>(std::min<std::size_t>(batch_, n - first));
    const std::uint16_t* px = pixels.data() + first * values_;
    for (std::uint32_t b = 0; b < count; ++b) {  // stats_kernel: one block per image
      ChannelSums sums[3];
      image_stats_block(ex_, px + b * values_, p32, channels_, sums);
      for (std::uint32_t c = 0; c < channels_; ++c)
        out[(first + b) * channels_ + c] = finish_channel(sums[c], positions_);
    }
    for (std::size_t v = 0; v < values_; ++v)  // golden_add_kernel: one thread per value
      golden_add_value(px, count, values_, v, sum_.data(), sum_sq_.data());
    images_ += count;
  }
  return out;
}

GoldenSums ImageEmulator::download_sums() const {
  GoldenSums g(values_);
  g.images = images_;
  g.sum = sum_;
  g.sum_sq = sum_sq_;
  return g;
}

void ImageEmulator::set_golden(const GoldenImage& golden, const DefectSettings& settings) {
  if (golden.mean.size() != values_ || golden.std.size() != values_)
    throw std::invalid_argument("set_golden: golden image of another shape");
  mean_ = golden.mean;
  std_ = golden.std;
  settings_ = settings;
  golden_ = true;
}

std::vector<ImageScore> ImageEmulator::score_images(std::span<const std::uint16_t> pixels) {
  if (!golden_) throw std::invalid_argument("score_images: no golden image set");
  if (pixels.size() % values_ != 0) throw std::invalid_argument("score_images: partial image");
  const std::size_t n = pixels.size() / values_;
  std::vector<ImageScore> out(n);
  const auto p32 = static_cast<std::uint32_t>(positions_);
  std::vector<std::uint32_t> label, size;
  for (std::size_t first = 0; first < n; first += batch_) {
    const auto count = static_cast<std::uint32_t>(std::min<std::size_t>(batch_, n - first));
    const std::uint16_t* px = pixels.data() + first * values_;
    label.assign(count * positions_, 0);
    size.assign(count * positions_, 0);
    // The grid-wide kernels, each over (image, pixel) of the batch.
    const auto all = static_cast<std::uint32_t>(count * positions_);
    ex_.for_each(all, [&](std::uint32_t t) {  // mask_kernel
      const std::uint32_t b = t / p32, p = t % p32;
      uf_init_cell(label.data() + std::size_t{b} * positions_, p,
                   pixel_deviates(px + b * values_, mean_.data(), std_.data(), p, channels_,
                                  settings_.k_sigma, settings_.std_floor));
      size[t] = 0;
    });
    ex_.for_each(all, [&](std::uint32_t t) {  // merge_kernel
      uf_merge_cell(label.data() + std::size_t{t / p32} * positions_, t % p32, height_, width_);
    });
    ex_.for_each(all, [&](std::uint32_t t) {  // compress_kernel
      uf_compress_cell(label.data() + std::size_t{t / p32} * positions_, t % p32);
    });
    ex_.for_each(all, [&](std::uint32_t t) {  // count_kernel
      const std::size_t base = std::size_t{t / p32} * positions_;
      uf_count_cell(label.data() + base, size.data() + base, t % p32);
    });
    for (std::uint32_t b = 0; b < count; ++b) {  // summary_kernel: one block per image
      ImageCounts c;
      image_summary_block(ex_, label.data() + std::size_t{b} * positions_,
                          size.data() + std::size_t{b} * positions_, p32, &c);
      out[first + b] = finish_score(c, settings_);
    }
  }
  return out;
}

}  // namespace wafermill::pictures::gpu::detail
