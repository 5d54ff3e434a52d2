/// @file gpu_stub.cpp
/// @brief The CUDA picture path of a build without nvcc: no devices, and every call is a
/// usage error.
#include "wafermill/error.hpp"
#include "wafermill/pictures/gpu.hpp"

namespace wafermill::pictures::gpu {
namespace {
[[noreturn]] void no_cuda() {
  throw UsageError("this build has no CUDA: the GPU picture path needs wafermill built with nvcc");
}
}  // namespace

int device_count() { return 0; }
bool available() { return false; }

MapBatchResult map_features_batch(std::span<const std::uint8_t>, std::span<const std::uint64_t>,
                                  std::span<const std::uint32_t>, std::span<const std::uint32_t>,
                                  int) {
  no_cuda();
}

struct ImageEngine::Impl {};

ImageEngine::ImageEngine(std::uint32_t, std::uint32_t, std::uint32_t, int, std::uint32_t) {
  no_cuda();
}
ImageEngine::~ImageEngine() = default;
ImageEngine::ImageEngine(ImageEngine&&) noexcept = default;
ImageEngine& ImageEngine::operator=(ImageEngine&&) noexcept = default;
std::size_t ImageEngine::values_per_image() const { no_cuda(); }
std::vector<ChannelStats> ImageEngine::add_images(std::span<const std::uint16_t>) { no_cuda(); }
std::uint64_t ImageEngine::images_summed() const { no_cuda(); }
double* ImageEngine::device_sum() { no_cuda(); }
double* ImageEngine::device_sum_sq() { no_cuda(); }
GoldenSums ImageEngine::download_sums() const { no_cuda(); }
void ImageEngine::set_golden(const GoldenImage&, const DefectSettings&) { no_cuda(); }
std::vector<ImageScore> ImageEngine::score_images(std::span<const std::uint16_t>) { no_cuda(); }

}  // namespace wafermill::pictures::gpu
