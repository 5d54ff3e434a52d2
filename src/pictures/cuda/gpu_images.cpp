/// @file gpu_images.cpp
/// @brief ImageEngine: runs of images cut into batches that alternate between two streams.
/// A batch is copied into its slot's pinned staging buffer, uploaded asynchronously and
/// processed by the kernels on the slot's stream, so that while batch k computes on one
/// stream, batch k+1 is staged and uploaded on the other. A slot is reused only after its
/// stream finished the batch before (whose results are collected then).
#include <algorithm>
#include <cstring>
#include <exception>
#include <stdexcept>

#include "cuda_raii.hpp"
#include "image_finish.hpp"
#include "picture_kernels.hpp"
#include "wafermill/pictures/gpu.hpp"

namespace wafermill::pictures::gpu {

using namespace detail;

struct ImageEngine::Impl {
  /// One of the two alternating pipelines: stream, staging, device buffers, results.
  struct Slot {
    PinnedBuffer staging, results;
    DeviceBuffer pixels, label, size, counts;
    // Declared after the buffers, so destroyed (and synchronised) before they are freed.
    Stream stream;
    std::size_t first = 0;
    std::uint32_t count = 0;
    bool pending = false;
  };

  std::uint32_t height, width, channels;
  std::size_t positions, values;
  int device;
  std::uint32_t batch;
  Slot slots[2];
  DeviceBuffer sum, sum_sq, mean, std;
  std::uint64_t images = 0;
  DefectSettings settings;
  bool golden = false;

  Impl(std::uint32_t h, std::uint32_t w, std::uint32_t ch, int dev, std::uint32_t batch_images)
      : height(h),
        width(w),
        channels(ch),
        positions(std::size_t{h} * w),
        values(positions * ch),
        device(dev),
        batch(batch_images_for(values, batch_images)) {
    const std::size_t result_bytes =
        std::max(batch * channels * sizeof(ChannelSums), batch * sizeof(ImageCounts));
    for (Slot& s : slots) {
      s.staging.reserve(batch * values * sizeof(std::uint16_t));
      s.results.reserve(result_bytes);
      s.pixels.reserve(batch * values * sizeof(std::uint16_t));
      s.label.reserve(batch * positions * sizeof(std::uint32_t));
      s.size.reserve(batch * positions * sizeof(std::uint32_t));
      s.counts.reserve(result_bytes);
    }
    for (DeviceBuffer* m : {&sum, &sum_sq, &mean, &std}) m->reserve(values * sizeof(double));
    WAFERMILL_CUDA_CHECK(cudaMemset(sum.get(), 0, values * sizeof(double)));
    WAFERMILL_CUDA_CHECK(cudaMemset(sum_sq.get(), 0, values * sizeof(double)));
    // The memsets ran on the legacy default stream, which the non-blocking slot streams (and
    // an NCCL stream) do not wait for: finish them before any of those touches the sums.
    WAFERMILL_CUDA_CHECK(cudaDeviceSynchronize());
  }

  ImageBatch batch_of(const Slot& s) const {
    return ImageBatch{s.pixels.get<std::uint16_t>(), s.count, height, width, channels};
  }

  /// Streams the images of `pixels` through the two slots: enqueue(slot) after the slot's
  /// upload, collect(slot) once its stream is done.
  /// Waits for both slots and forgets what they held (after an exception, a pending slot
  /// must not be collected into the next call's output).
  void drain() noexcept {
    for (Slot& s : slots) {
      cudaStreamSynchronize(s.stream.get());
      s.pending = false;
    }
  }

  template <class Enqueue, class Collect>
  void run(std::span<const std::uint16_t> pixels, Enqueue&& enqueue, Collect&& collect) {
    struct DrainOnThrow {
      Impl& e;
      int exceptions = std::uncaught_exceptions();
      ~DrainOnThrow() {
        if (std::uncaught_exceptions() > exceptions) e.drain();
      }
    } guard{*this};
    const std::size_t n = pixels.size() / values;
    std::size_t k = 0;
    for (std::size_t first = 0; first < n; first += batch, ++k) {
      Slot& s = slots[k % 2];
      if (s.pending) {
        s.stream.synchronize();
        collect(s);
        s.pending = false;
      }
      s.first = first;
      s.count = static_cast<std::uint32_t>(std::min<std::size_t>(batch, n - first));
      const std::size_t bytes = s.count * values * sizeof(std::uint16_t);
      std::memcpy(s.staging.get(), pixels.data() + first * values, bytes);
      WAFERMILL_CUDA_CHECK(cudaMemcpyAsync(s.pixels.get(), s.staging.get(), bytes,
                                           cudaMemcpyHostToDevice, s.stream.get()));
      enqueue(s);
      s.pending = true;
    }
    for (Slot& s : slots) {
      if (!s.pending) continue;
      s.stream.synchronize();
      collect(s);
      s.pending = false;
    }
  }

  void check_run(std::span<const std::uint16_t> pixels, const char* what) const {
    if (pixels.size() % values != 0)
      throw std::invalid_argument(std::string(what) + ": pixels are not whole images");
  }
};

ImageEngine::ImageEngine(std::uint32_t height, std::uint32_t width, std::uint32_t channels,
                         int device, std::uint32_t batch_images) {
  if (channels != 1 && channels != 3) throw std::invalid_argument("image: channels must be 1 or 3");
  const std::uint64_t positions = std::uint64_t{height} * width;
  if (positions == 0 || positions >= kNoLabel)
    throw std::invalid_argument("ImageEngine: an image needs 1 to 2^32 - 2 pixels");
  require_device();
  const DeviceScope scope(device);
  int current = 0;
  WAFERMILL_CUDA_CHECK(cudaGetDevice(&current));
  impl_ = std::make_unique<Impl>(height, width, channels, current, batch_images);
}

ImageEngine::~ImageEngine() = default;
ImageEngine::ImageEngine(ImageEngine&&) noexcept = default;
ImageEngine& ImageEngine::operator=(ImageEngine&&) noexcept = default;

std::size_t ImageEngine::values_per_image() const { return impl_->values; }

std::vector<ChannelStats> ImageEngine::add_images(std::span<const std::uint16_t> pixels) {
  Impl& e = *impl_;
  e.check_run(pixels, "add_images");
  const DeviceScope scope(e.device);
  std::vector<ChannelStats> out(pixels.size() / e.values * e.channels);
  e.run(
      pixels,
      [&](Impl::Slot& s) {
        enqueue_stats(e.batch_of(s), s.counts.get<ChannelSums>(), e.sum.get<double>(),
                      e.sum_sq.get<double>(), s.stream.get());
        WAFERMILL_CUDA_CHECK(cudaMemcpyAsync(s.results.get(), s.counts.get(),
                                             s.count * e.channels * sizeof(ChannelSums),
                                             cudaMemcpyDeviceToHost, s.stream.get()));
      },
      [&](Impl::Slot& s) {
        const ChannelSums* sums = s.results.get<ChannelSums>();
        for (std::size_t i = 0; i < std::size_t{s.count} * e.channels; ++i)
          out[s.first * e.channels + i] = finish_channel(sums[i], e.positions);
        e.images += s.count;
      });
  return out;
}

std::uint64_t ImageEngine::images_summed() const { return impl_->images; }
double* ImageEngine::device_sum() { return impl_->sum.get<double>(); }
double* ImageEngine::device_sum_sq() { return impl_->sum_sq.get<double>(); }

GoldenSums ImageEngine::download_sums() const {
  const Impl& e = *impl_;
  const DeviceScope scope(e.device);
  GoldenSums g(e.values);
  g.images = e.images;
  WAFERMILL_CUDA_CHECK(
      cudaMemcpy(g.sum.data(), e.sum.get(), e.values * sizeof(double), cudaMemcpyDeviceToHost));
  WAFERMILL_CUDA_CHECK(cudaMemcpy(g.sum_sq.data(), e.sum_sq.get(), e.values * sizeof(double),
                                  cudaMemcpyDeviceToHost));
  return g;
}

void ImageEngine::set_golden(const GoldenImage& golden, const DefectSettings& settings) {
  Impl& e = *impl_;
  if (golden.mean.size() != e.values || golden.std.size() != e.values)
    throw std::invalid_argument("set_golden: golden image of another shape");
  const DeviceScope scope(e.device);
  WAFERMILL_CUDA_CHECK(cudaMemcpy(e.mean.get(), golden.mean.data(), e.values * sizeof(double),
                                  cudaMemcpyHostToDevice));
  WAFERMILL_CUDA_CHECK(cudaMemcpy(e.std.get(), golden.std.data(), e.values * sizeof(double),
                                  cudaMemcpyHostToDevice));
  // A copy from pageable memory may return before the data has landed, and the slot streams
  // are non-blocking: finish it before mask_kernel reads mean and std.
  WAFERMILL_CUDA_CHECK(cudaDeviceSynchronize());
  e.settings = settings;
  e.golden = true;
}

std::vector<ImageScore> ImageEngine::score_images(std::span<const std::uint16_t> pixels) {
  Impl& e = *impl_;
  if (!e.golden) throw std::invalid_argument("score_images: no golden image set");
  e.check_run(pixels, "score_images");
  const DeviceScope scope(e.device);
  std::vector<ImageScore> out(pixels.size() / e.values);
  e.run(
      pixels,
      [&](Impl::Slot& s) {
        enqueue_scores(e.batch_of(s), e.mean.get<double>(), e.std.get<double>(), e.settings.k_sigma,
                       e.settings.std_floor, s.label.get<std::uint32_t>(),
                       s.size.get<std::uint32_t>(), s.counts.get<ImageCounts>(), s.stream.get());
        WAFERMILL_CUDA_CHECK(cudaMemcpyAsync(s.results.get(), s.counts.get(),
                                             s.count * sizeof(ImageCounts), cudaMemcpyDeviceToHost,
                                             s.stream.get()));
      },
      [&](Impl::Slot& s) {
        const ImageCounts* counts = s.results.get<ImageCounts>();
        for (std::uint32_t i = 0; i < s.count; ++i)
          out[s.first + i] = finish_score(counts[i], e.settings);
      });
  return out;
}

}  // namespace wafermill::pictures::gpu
