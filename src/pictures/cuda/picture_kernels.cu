/// @file picture_kernels.cu
/// @brief The picture kernels: thin loops over kernel_steps.hpp, whose functions the host
/// emulation runs too. Built with --fmad=false (CMake) so that the shared formulas round as
/// on the CPU, which is built with -ffp-contract=off.
#include <cub/block/block_reduce.cuh>
#include <cuda/functional>

#include <algorithm>

#include "picture_kernels.hpp"
#include "wafermill/cuda_check.hpp"

namespace wafermill::pictures::gpu::detail {
namespace {

constexpr int kThreads = 256;
using BlockReduce = cub::BlockReduce<unsigned long long, kThreads>;

/// kernel_steps.hpp's executor for one thread block.
struct BlockExec {
  BlockReduce::TempStorage& temp;
  unsigned long long& shared;

  template <class F>
  __device__ void for_each(std::uint32_t n, F&& f) {
    // A 64-bit index: n may come within blockDim.x of 2^32, where a 32-bit one would wrap.
    for (std::uint64_t i = threadIdx.x; i < n; i += blockDim.x) f(static_cast<std::uint32_t>(i));
  }
  __device__ void sync() { __syncthreads(); }
  template <class Op>
  __device__ std::uint64_t reduce(std::uint64_t x, Op op) {
    __syncthreads();  // the previous reduction's temp and result are no longer read
    const unsigned long long r = BlockReduce(temp).Reduce(static_cast<unsigned long long>(x), op);
    if (threadIdx.x == 0) shared = r;
    __syncthreads();
    return shared;
  }
  __device__ std::uint64_t sum(std::uint64_t x) { return reduce(x, cuda::std::plus<>{}); }
  __device__ std::uint64_t max(std::uint64_t x) { return reduce(x, cuda::maximum<>{}); }
  __device__ std::uint64_t min(std::uint64_t x) { return reduce(x, cuda::minimum<>{}); }
  __device__ bool leader() const { return threadIdx.x == 0; }
};

unsigned blocks_for(std::uint64_t n) {
  return static_cast<unsigned>(std::min<std::uint64_t>((n + kThreads - 1) / kThreads, 1U << 16));
}

/// One block per map (shared path) or `blocks` blocks looping over the maps with a global
/// work slice each.
__global__ void __launch_bounds__(kThreads) map_kernel(MapLaunch a) {
  __shared__ BlockReduce::TempStorage temp;
  __shared__ unsigned long long shared;
  __shared__ std::uint32_t tally[kMapTallies];
  extern __shared__ unsigned long long dynamic[];  // 8-byte aligned
  BlockExec ex{temp, shared};
  const std::uint64_t n = std::uint64_t{a.rows} * a.cols;
  void* work = a.work == nullptr ? static_cast<void*>(dynamic)
                                 : static_cast<void*>(static_cast<unsigned char*>(a.work) +
                                                      blockIdx.x * map_block_bytes(n));
  for (std::uint32_t m = blockIdx.x; m < a.n_maps; m += gridDim.x) {
    map_block(ex, a.cells + a.offsets[m], a.rows, a.cols, a.sectors, work, tally, a.fleet,
              a.out + m);
    __syncthreads();  // the next map reuses work and tally
  }
}

__global__ void __launch_bounds__(kThreads) stats_kernel(ImageBatch b, ChannelSums* out) {
  __shared__ BlockReduce::TempStorage temp;
  __shared__ unsigned long long shared;
  BlockExec ex{temp, shared};
  const std::uint64_t values = std::uint64_t{b.height} * b.width * b.channels;
  image_stats_block(ex, b.pixels + blockIdx.x * values, b.height * b.width, b.channels,
                    out + blockIdx.x * b.channels);
}

__global__ void golden_add_kernel(ImageBatch b, double* sum, double* sum_sq) {
  const std::uint64_t values = std::uint64_t{b.height} * b.width * b.channels;
  for (std::uint64_t v = blockIdx.x * std::uint64_t{blockDim.x} + threadIdx.x; v < values;
       v += std::uint64_t{gridDim.x} * blockDim.x)
    golden_add_value(b.pixels, b.count, values, v, sum, sum_sq);
}

struct ScoreArgs {
  ImageBatch b;
  const double* mean;
  const double* std;
  double k_sigma, std_floor;
  std::uint32_t* label;
  std::uint32_t* size;
};

// Grid-stride loops over (image, pixel) t of the batch; image t / P owns labels [t/P · P, +P).
#define WAFERMILL_FOR_EACH_PIXEL(a)                                                     \
  const std::uint64_t positions = std::uint64_t{(a).b.height} * (a).b.width;            \
  const std::uint64_t all = positions * (a).b.count;                                    \
  for (std::uint64_t t = blockIdx.x * std::uint64_t{blockDim.x} + threadIdx.x; t < all; \
       t += std::uint64_t{gridDim.x} * blockDim.x)

__global__ void mask_kernel(ScoreArgs a) {
  WAFERMILL_FOR_EACH_PIXEL(a) {
    const std::uint64_t image = t / positions;
    const auto p = static_cast<std::uint32_t>(t % positions);
    const std::uint64_t values = positions * a.b.channels;
    uf_init_cell(a.label + image * positions, p,
                 pixel_deviates(a.b.pixels + image * values, a.mean, a.std, p, a.b.channels,
                                a.k_sigma, a.std_floor));
    a.size[t] = 0;
  }
}

__global__ void merge_kernel(ScoreArgs a) {
  WAFERMILL_FOR_EACH_PIXEL(a) {
    uf_merge_cell(a.label + t / positions * positions, static_cast<std::uint32_t>(t % positions),
                  a.b.height, a.b.width);
  }
}

__global__ void compress_kernel(ScoreArgs a) {
  WAFERMILL_FOR_EACH_PIXEL(a) {
    uf_compress_cell(a.label + t / positions * positions,
                     static_cast<std::uint32_t>(t % positions));
  }
}

__global__ void count_kernel(ScoreArgs a) {
  WAFERMILL_FOR_EACH_PIXEL(a) {
    const std::uint64_t base = t / positions * positions;
    uf_count_cell(a.label + base, a.size + base, static_cast<std::uint32_t>(t % positions));
  }
}

#undef WAFERMILL_FOR_EACH_PIXEL

__global__ void __launch_bounds__(kThreads) summary_kernel(ScoreArgs a, ImageCounts* out) {
  __shared__ BlockReduce::TempStorage temp;
  __shared__ unsigned long long shared;
  BlockExec ex{temp, shared};
  const std::uint64_t positions = std::uint64_t{a.b.height} * a.b.width;
  image_summary_block(ex, a.label + blockIdx.x * positions, a.size + blockIdx.x * positions,
                      static_cast<std::uint32_t>(positions), out + blockIdx.x);
}

}  // namespace

std::size_t map_shared_capacity(int device) {
  int optin = 0;
  WAFERMILL_CUDA_CHECK(
      cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  cudaFuncAttributes attr{};
  WAFERMILL_CUDA_CHECK(cudaFuncGetAttributes(&attr, map_kernel));
  const std::size_t capacity =
      static_cast<std::size_t>(optin) > attr.sharedSizeBytes ? optin - attr.sharedSizeBytes : 0;
  WAFERMILL_CUDA_CHECK(cudaFuncSetAttribute(map_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                            static_cast<int>(capacity)));
  return capacity;
}

void enqueue_maps(const MapLaunch& a, cudaStream_t stream) {
  if (a.n_maps == 0) return;
  if (a.work != nullptr) {
    map_kernel<<<a.blocks, kThreads, 0, stream>>>(a);
  } else {
    const std::size_t bytes = map_block_bytes(std::uint64_t{a.rows} * a.cols);
    map_kernel<<<a.n_maps, kThreads, bytes, stream>>>(a);
  }
  WAFERMILL_CUDA_CHECK(cudaGetLastError());
}

void enqueue_stats(const ImageBatch& b, ChannelSums* out, double* sum, double* sum_sq,
                   cudaStream_t stream) {
  if (b.count == 0) return;
  stats_kernel<<<b.count, kThreads, 0, stream>>>(b, out);
  WAFERMILL_CUDA_CHECK(cudaGetLastError());
  golden_add_kernel<<<blocks_for(std::uint64_t{b.height} * b.width * b.channels), kThreads, 0,
                      stream>>>(b, sum, sum_sq);
  WAFERMILL_CUDA_CHECK(cudaGetLastError());
}

void enqueue_scores(const ImageBatch& b, const double* mean, const double* std, double k_sigma,
                    double std_floor, std::uint32_t* label, std::uint32_t* size, ImageCounts* out,
                    cudaStream_t stream) {
  if (b.count == 0) return;
  const ScoreArgs a{b, mean, std, k_sigma, std_floor, label, size};
  const unsigned grid = blocks_for(std::uint64_t{b.height} * b.width * b.count);
  mask_kernel<<<grid, kThreads, 0, stream>>>(a);
  WAFERMILL_CUDA_CHECK(cudaGetLastError());
  merge_kernel<<<grid, kThreads, 0, stream>>>(a);
  WAFERMILL_CUDA_CHECK(cudaGetLastError());
  compress_kernel<<<grid, kThreads, 0, stream>>>(a);
  WAFERMILL_CUDA_CHECK(cudaGetLastError());
  count_kernel<<<grid, kThreads, 0, stream>>>(a);
  WAFERMILL_CUDA_CHECK(cudaGetLastError());
  summary_kernel<<<b.count, kThreads, 0, stream>>>(a, out);
  WAFERMILL_CUDA_CHECK(cudaGetLastError());
}

}  // namespace wafermill::pictures::gpu::detail
