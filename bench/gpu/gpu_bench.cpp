/// @file gpu_bench.cpp
/// @brief The CUDA backend's figures on this machine, each next to the ceiling it is judged by,
/// both measured in this program:
///   kernels     input bytes / kernel time (CUDA events)   vs  device-to-device copy bandwidth
///   end to end  input bytes / extract() wall time          vs  pinned host-to-device bandwidth
///   E_GPU       NVML utilisation sampled during the end-to-end runs (docs/GPU.md)
/// The traces are generated in host memory (the page-cache case: no file read is timed).
/// Exits with status 77 and a "no CUDA device" line where there is no GPU.
///
/// Usage: gpu_bench [--wafers N] [--rows R] [--sensors S] [--steps K] [--float64]
///                  [--features all|LIST] [--memory BYTES] [--repeat N]
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "wafermill/cuda_check.hpp"
#include "wafermill/features/backend.hpp"
#include "wafermill/metrics/gpu_utilisation.hpp"
#include "wafermill/metrics/metrics.hpp"

namespace {

using namespace wafermill;

struct Options {
  std::uint64_t wafers = 2000;
  std::uint64_t rows = 2000;
  std::size_t sensors = 16;
  std::size_t steps = 4;
  bool float64 = false;
  std::string features = "all";
  std::uint64_t memory = 1ULL << 30;
  int repeat = 5;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "gpu_bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--wafers")
      o.wafers = std::stoull(value());
    else if (a == "--rows")
      o.rows = std::stoull(value());
    else if (a == "--sensors")
      o.sensors = std::stoul(value());
    else if (a == "--steps")
      o.steps = std::stoul(value());
    else if (a == "--float64")
      o.float64 = true;
    else if (a == "--features")
      o.features = value();
    else if (a == "--memory")
      o.memory = std::stoull(value());
    else if (a == "--repeat")
      o.repeat = std::stoi(value());
    else {
      std::fprintf(stderr, "gpu_bench: unknown option %s (see the file's header)\n", a.c_str());
      std::exit(2);
    }
  }
  return o;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

/// Median seconds of `reps` copies of `bytes` (events around each).
double time_copy(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind, int reps) {
  cudaEvent_t a, b;
  WAFERMILL_CUDA_CHECK(cudaEventCreate(&a));
  WAFERMILL_CUDA_CHECK(cudaEventCreate(&b));
  std::vector<double> t;
  for (int i = 0; i < reps + 1; ++i) {  // the first is a warm-up
    WAFERMILL_CUDA_CHECK(cudaEventRecord(a));
    WAFERMILL_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, kind));
    WAFERMILL_CUDA_CHECK(cudaEventRecord(b));
    WAFERMILL_CUDA_CHECK(cudaEventSynchronize(b));
    float ms = 0;
    WAFERMILL_CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
    if (i > 0) t.push_back(1e-3 * ms);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return median(t);
}

struct Ceilings {
  double d2d = 0.0;  // bytes read + written per second
  double h2d = 0.0;  // pinned host to device
};

Ceilings measure_ceilings() {
  const std::size_t bytes = 1ULL << 30;
  void *d0 = nullptr, *d1 = nullptr, *h = nullptr;
  WAFERMILL_CUDA_CHECK(cudaMalloc(&d0, bytes));
  WAFERMILL_CUDA_CHECK(cudaMalloc(&d1, bytes));
  WAFERMILL_CUDA_CHECK(cudaMallocHost(&h, bytes));
  std::memset(h, 1, bytes);  // touched, not zero pages
  WAFERMILL_CUDA_CHECK(cudaMemset(d0, 1, bytes));
  Ceilings c;
  c.d2d = 2.0 * bytes / time_copy(d1, d0, bytes, cudaMemcpyDeviceToDevice, 10);
  c.h2d = bytes / time_copy(d0, h, bytes, cudaMemcpyHostToDevice, 10);
  cudaFree(d0);
  cudaFree(d1);
  cudaFreeHost(h);
  return c;
}

/// Random traces: normal noise with a per-sensor offset, 1 % NaN, steps in contiguous runs.
template <class T>
void generate(const Options& o, std::vector<T>& values, std::vector<std::int32_t>& steps,
              std::vector<std::uint64_t>& offsets) {
  std::mt19937_64 rng(42);
  std::normal_distribution<double> noise(0.0, 1.0);
  values.resize(o.wafers * o.rows * o.sensors);
  for (std::size_t i = 0; i < values.size(); ++i) {
    const double x = 10.0 * static_cast<double>(i % o.sensors) + noise(rng);
    values[i] = (rng() % 100 == 0) ? static_cast<T>(NAN) : static_cast<T>(x);
  }
  offsets.resize(o.wafers + 1);
  for (std::uint64_t w = 0; w <= o.wafers; ++w) offsets[w] = w * o.rows;
  steps.clear();
  if (o.steps > 0) {
    steps.resize(o.wafers * o.rows);
    for (std::uint64_t r = 0; r < steps.size(); ++r) {
      steps[r] = static_cast<std::int32_t>((r % o.rows) * o.steps / o.rows);
    }
  }
}

template <class T>
int run(const Options& o, const Ceilings& c, int device) {
  std::vector<T> values;
  std::vector<std::int32_t> steps;
  std::vector<std::uint64_t> offsets;
  generate(o, values, steps, offsets);
  features::FeatureLayout layout{o.sensors, o.steps, features::FeatureSet::parse(o.features)};
  features::BackendOptions bo;
  bo.name = "cuda";
  bo.device = device;
  bo.device_memory_bytes = o.memory;
  auto backend = features::make_backend(bo, layout);
  features::TraceChunk chunk;
  chunk.first_wafer = 0;
  chunk.offsets = offsets;
  chunk.type = sizeof(T) == 4 ? features::SampleType::float32 : features::SampleType::float64;
  chunk.values = values.data();
  chunk.n_columns = o.sensors;
  chunk.steps = steps;
  features::FeatureBlock out;
  out.reset(0, o.wafers, layout);
  backend->extract(chunk, out);  // warm-up: module load, pinned buffers

  char pci[32] = {};
  WAFERMILL_CUDA_CHECK(cudaDeviceGetPCIBusId(pci, sizeof pci, device));
  metrics::GpuUtilisationSampler sampler({pci}, 20.0);
  std::vector<double> wall, kernel;
  for (int i = 0; i < o.repeat; ++i) {
    const double busy0 = backend->busy_seconds();
    metrics::Stopwatch watch;
    backend->extract(chunk, out);
    wall.push_back(watch.elapsed());
    kernel.push_back(backend->busy_seconds() - busy0);
  }
  const auto e_gpu = sampler.stop();
  const double bytes = static_cast<double>(values.size() * sizeof(T));
  const double k = bytes / median(kernel), e = bytes / median(wall);
  std::printf("input %.3f GB (%llu wafers x %llu rows x %zu sensors, %s, %zu steps, features %s)\n",
              bytes / 1e9, static_cast<unsigned long long>(o.wafers),
              static_cast<unsigned long long>(o.rows), o.sensors,
              sizeof(T) == 4 ? "float32" : "float64", o.steps, o.features.c_str());
  std::printf("%-34s %10s %12s %8s\n", "figure", "GB/s", "ceiling GB/s", "share");
  std::printf("%-34s %10.1f %12.1f %7.1f%%\n", "kernels (input / kernel time)", k / 1e9,
              c.d2d / 1e9, 100.0 * k / c.d2d);
  std::printf("%-34s %10.1f %12.1f %7.1f%%\n", "end to end (input / extract wall)", e / 1e9,
              c.h2d / 1e9, 100.0 * e / c.h2d);
  if (e_gpu) {
    std::printf("E_GPU %.3f over %.2f s (%zu NVML samples)\n", e_gpu->e_gpu, e_gpu->seconds,
                e_gpu->samples);
  } else {
    std::printf("E_GPU: not measured (%s)\n", sampler.why_unavailable().c_str());
  }
  std::printf("medians of %d runs; kernel time from CUDA events, wall time on the host clock\n",
              o.repeat);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  if (features::cuda_device_count() == 0) {
    std::printf("gpu_bench: no CUDA device visible (no GPU or no driver); nothing measured\n");
    return 77;
  }
  try {
    int device = 0;
    WAFERMILL_CUDA_CHECK(cudaGetDevice(&device));
    cudaDeviceProp prop{};
    WAFERMILL_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
    std::printf("device %d: %s, %d SMs, %.1f GiB\n", device, prop.name, prop.multiProcessorCount,
                static_cast<double>(prop.totalGlobalMem) / (1ULL << 30));
    const Ceilings c = measure_ceilings();
    std::printf("device-to-device copy %.1f GB/s (read + write), pinned host-to-device %.1f GB/s\n",
                c.d2d / 1e9, c.h2d / 1e9);
    return o.float64 ? run<double>(o, c, device) : run<float>(o, c, device);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gpu_bench: %s\n", e.what());
    return 1;
  }
}
