/// @file cuda_backend_test.cpp
/// @brief The CUDA backend against the CPU backend on the same traces: NaN/±Inf samples,
/// empty, one-row, constant and all-NaN segments, and wafers of several windows; float32 and
/// float64, with and without steps, any chunking, and device memory bounds small enough to
/// slice wafers. Bitwise up to kWindowRows rows, the tolerance of docs/GPU.md beyond.
/// Every test skips when no CUDA device is visible (CI has nvcc but no GPU).
#include <gtest/gtest.h>

#include "cuda_compare.hpp"
#include "wafermill/config.hpp"
#include "wafermill/error.hpp"
#include "wafermill/features/backend.hpp"

namespace wafermill::features {
namespace {

using testing::Chunking;
using testing::Traces;

#define SKIP_WITHOUT_CUDA_DEVICE()                                                        \
  do {                                                                                    \
    if (!WAFERMILL_HAVE_CUDA) GTEST_SKIP() << "no CUDA device: this build has no nvcc";   \
    if (cuda_device_count() == 0) {                                                       \
      GTEST_SKIP() << "no CUDA device: cudaGetDeviceCount found none (no GPU or driver)"; \
    }                                                                                     \
  } while (0)

constexpr double kTolerance = 1e-9;  // docs/GPU.md "Tolerance"

Traces traces(std::size_t n_steps, double offset, std::uint64_t seed) {
  testing::RandomTraceSpec spec;
  spec.n_wafers = 12;
  spec.n_sensors = 5;
  spec.n_steps = n_steps;
  spec.max_rows = 600;
  spec.offset = offset;
  spec.seed = seed;
  return testing::traces_with_huge_segments(spec, 40 * detail::kWindowRows + 17);
}

std::unique_ptr<FeatureBackend> cuda(const FeatureLayout& layout, std::uint64_t memory) {
  BackendOptions options;
  options.name = "cuda";
  options.device_memory_bytes = memory;
  return make_backend(options, layout);
}

template <class T>
void matches_cpu(std::size_t n_steps, double offset, const FeatureSet& features,
                 std::uint64_t memory, Chunking how) {
  const Traces t = traces(n_steps, offset, 17 + n_steps);
  const FeatureLayout layout{t.n_sensors, t.n_steps, features};
  const FeatureBlock cpu = testing::extract_all<T>(t, features, Chunking::whole);
  auto backend = cuda(layout, memory);
  const FeatureBlock gpu = testing::run_backend<T>(*backend, t, layout, how);
  const double worst = testing::expect_matches_cpu(t, cpu, gpu, testing::Tolerance{kTolerance});
  ::testing::Test::RecordProperty("worst_scaled_error", std::to_string(worst));
  EXPECT_GT(backend->busy_seconds(), 0.0);
  for (const double s : gpu.compute_seconds) EXPECT_GE(s, 0.0);
}

TEST(CudaBackend, MatchesCpuFloat64WithSteps) {
  SKIP_WITHOUT_CUDA_DEVICE();
  matches_cpu<double>(4, 3.0, FeatureSet::all(), 1ULL << 28, Chunking::whole);
}

TEST(CudaBackend, MatchesCpuFloat32NoSteps) {
  SKIP_WITHOUT_CUDA_DEVICE();
  matches_cpu<float>(0, -20.0, FeatureSet::all(), 1ULL << 28, Chunking::whole);
}

TEST(CudaBackend, MatchesCpuLargeOffset) {
  SKIP_WITHOUT_CUDA_DEVICE();
  matches_cpu<double>(2, 1e4, FeatureSet::all(), 1ULL << 28, Chunking::uneven);
}

TEST(CudaBackend, MatchesCpuWithoutMedian) {
  SKIP_WITHOUT_CUDA_DEVICE();
  matches_cpu<float>(3, 1.0, FeatureSet::parse("mean,std,slope,kurtosis"), 1ULL << 28,
                     Chunking::sensor_ranges);
}

TEST(CudaBackend, SmallDeviceMemorySlicesWafersAndStillMatches) {
  SKIP_WITHOUT_CUDA_DEVICE();
  // 2 MiB: the 40-window wafers go through the device in slices, medians on the host.
  matches_cpu<double>(3, 5.0, FeatureSet::all(), 2ULL << 20, Chunking::whole);
  matches_cpu<float>(0, 5.0, FeatureSet::all(), 2ULL << 20, Chunking::per_wafer);
}

TEST(CudaBackend, ChunkingAndMemoryBoundDoNotChangeABit) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const Traces t = traces(3, 50.0, 5);
  const FeatureLayout layout{t.n_sensors, t.n_steps, FeatureSet::all()};
  auto large = cuda(layout, 1ULL << 28);
  const FeatureBlock whole = testing::run_backend<float>(*large, t, layout, Chunking::whole);
  for (const Chunking how : {Chunking::per_wafer, Chunking::uneven, Chunking::column_at_a_time,
                             Chunking::sensor_ranges}) {
    auto small = cuda(layout, 2ULL << 20);
    const FeatureBlock other = testing::run_backend<float>(*small, t, layout, how);
    EXPECT_TRUE(testing::same_bits(whole.values, other.values)) << static_cast<int>(how);
    EXPECT_TRUE(testing::same_bits(whole.by_step, other.by_step)) << static_cast<int>(how);
  }
}

TEST(CudaBackend, RejectsChunksThatDoNotFitTheLayout) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const Traces t = traces(0, 0.0, 9);
  const FeatureLayout layout{t.n_sensors, 0, FeatureSet::all()};
  auto backend = cuda(layout, 1ULL << 26);
  FeatureBlock out;
  out.reset(0, 1, FeatureLayout{t.n_sensors + 1, 0, FeatureSet::all()});
  EXPECT_THROW(testing::extract_chunk<double>(*backend, t, 0, 1, 0, t.n_sensors, out),
               std::invalid_argument);
}

TEST(CudaBackend, DeviceOutOfRangeIsAUsageError) {
  SKIP_WITHOUT_CUDA_DEVICE();
  BackendOptions options;
  options.name = "cuda";
  options.device = cuda_device_count();
  EXPECT_THROW(make_backend(options, FeatureLayout{3, 0, FeatureSet::all()}), UsageError);
}

}  // namespace
}  // namespace wafermill::features
