/// @file segment_kernels.cu
/// @brief The CUDA backend's kernels. Per-element arithmetic is segment.hpp's add_sample,
/// to_moments and finalize_all, and sums_merge.hpp's merge_sums, compiled without fused
/// multiply-add (CMake: --fmad=false) so that each operation rounds as on the CPU.
///
/// Work is balanced by construction: every thread folds one piece of at most kWindowRows rows
/// of one column (batch_plan.hpp), so a 10⁷-row segment becomes 10⁴ threads and a 3-row one
/// a single short thread. Medians: finite samples scattered into one key array per batch,
/// sorted by two device-wide stable radix sorts (by value, then by segment id), which is
/// balanced whatever the segment lengths — unlike one block per segment (docs/GPU.md).
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>

#include <algorithm>
#include <cmath>

#include "segment_kernels.hpp"
#include "sums_merge.hpp"
#include "wafermill/cuda_check.hpp"

namespace wafermill::features::detail {
namespace {

constexpr int kThreads = 256;

unsigned blocks_for(std::uint64_t n) {
  // Grid-stride loops: enough blocks to fill any current GPU, fewer for small batches.
  return static_cast<unsigned>(std::min<std::uint64_t>((n + kThreads - 1) / kThreads, 1U << 16));
}

/// Folds the rows of piece p, column c. Four loads are issued before the four dependent
/// add_sample calls so that memory latency overlaps the double-precision chain.
template <class T>
__device__ SegmentSums fold_piece(const T* __restrict__ samples, const Run* __restrict__ runs,
                                  const Piece& piece, std::uint32_t nc, std::uint32_t c) {
  SegmentSums s;
  s.positions = piece.position;
  for (std::uint32_t k = piece.run_begin; k < piece.run_end; ++k) {
    const Run run = runs[k];
    const T* x = samples + static_cast<std::size_t>(run.row) * nc + c;
    std::uint32_t i = 0;
    for (; i + 4 <= run.rows; i += 4) {
      const T v0 = __ldg(x), v1 = __ldg(x + nc), v2 = __ldg(x + 2 * nc), v3 = __ldg(x + 3 * nc);
      add_sample(s, static_cast<double>(v0));
      add_sample(s, static_cast<double>(v1));
      add_sample(s, static_cast<double>(v2));
      add_sample(s, static_cast<double>(v3));
      x += 4 * static_cast<std::size_t>(nc);
    }
    for (; i < run.rows; ++i, x += nc) add_sample(s, static_cast<double>(__ldg(x)));
  }
  return s;
}

template <class T>
__global__ void piece_sums_kernel(BatchArgs a) {
  const std::uint64_t n = static_cast<std::uint64_t>(a.n_pieces) * a.n_columns;
  const T* samples = static_cast<const T*>(a.samples);
  for (std::uint64_t t = blockIdx.x * std::uint64_t{blockDim.x} + threadIdx.x; t < n;
       t += std::uint64_t{gridDim.x} * blockDim.x) {
    const auto p = static_cast<std::uint32_t>(t / a.n_columns);
    const auto c = static_cast<std::uint32_t>(t % a.n_columns);
    a.piece_sums[t] = fold_piece(samples, a.runs, a.pieces[p], a.n_columns, c);
  }
}

/// One thread per (segment, column): the left fold of its pieces in order, starting from the
/// carry of the wafer's previous slice. Also each piece's first slot among the segment's
/// finite samples, and the segment's finite count, for the median scatter.
__global__ void merge_kernel(BatchArgs a) {
  const std::uint64_t n = static_cast<std::uint64_t>(a.n_segments) * a.n_columns;
  for (std::uint64_t t = blockIdx.x * std::uint64_t{blockDim.x} + threadIdx.x; t < n;
       t += std::uint64_t{gridDim.x} * blockDim.x) {
    const Segment seg = a.segments[t / a.n_columns];
    const auto c = static_cast<std::uint32_t>(t % a.n_columns);
    SegmentSums acc = a.carry_in ? a.carry[t] : SegmentSums{};
    for (std::uint32_t p = seg.piece_begin; p < seg.piece_end; ++p) {
      const std::size_t at = static_cast<std::size_t>(p) * a.n_columns + c;
      if (a.median) a.piece_slots[at] = static_cast<std::uint32_t>(acc.count);
      acc = merge_sums(acc, a.piece_sums[at]);
    }
    a.segment_sums[t] = acc;
    if (a.carry_out) a.carry[t] = acc;
    if (a.median) a.key_counts[t] = static_cast<std::uint32_t>(acc.count);
  }
}

/// Writes the finite samples of piece p, column c, to their slots, tagged with the id of
/// their (segment, column).
template <class T>
__global__ void scatter_kernel(BatchArgs a) {
  const std::uint64_t n = static_cast<std::uint64_t>(a.n_pieces) * a.n_columns;
  const T* samples = static_cast<const T*>(a.samples);
  for (std::uint64_t t = blockIdx.x * std::uint64_t{blockDim.x} + threadIdx.x; t < n;
       t += std::uint64_t{gridDim.x} * blockDim.x) {
    const Piece piece = a.pieces[t / a.n_columns];
    const auto c = static_cast<std::uint32_t>(t % a.n_columns);
    const std::uint32_t id = piece.segment * a.n_columns + c;
    std::uint32_t slot = a.key_offsets[id] + a.piece_slots[t];
    for (std::uint32_t k = piece.run_begin; k < piece.run_end; ++k) {
      const Run run = a.runs[k];
      const T* x = samples + static_cast<std::size_t>(run.row) * a.n_columns + c;
      for (std::uint32_t i = 0; i < run.rows; ++i, x += a.n_columns) {
        const double v = static_cast<double>(__ldg(x));
        if (isfinite(v)) {
          a.keys[slot] = v;
          a.ids[slot] = id;
          ++slot;
        }
      }
    }
  }
}

/// Slots past the last finite sample sort after every real id.
__global__ void pad_keys_kernel(BatchArgs a, std::uint32_t sentinel) {
  const std::uint32_t used = a.key_offsets[sentinel];
  for (std::uint64_t i = used + blockIdx.x * std::uint64_t{blockDim.x} + threadIdx.x;
       i < a.max_keys; i += std::uint64_t{gridDim.x} * blockDim.x) {
    a.keys[i] = 0.0;
    a.ids[i] = sentinel;
  }
}

/// (lower + upper) / 2 as segment_median.cpp computes it.
__device__ double midpoint(double lower, double upper) {
  const double mid = 0.5 * (lower + upper);
  return isfinite(mid) ? mid : 0.5 * lower + 0.5 * upper;
}

__global__ void finalize_kernel(BatchArgs a, const double* __restrict__ sorted) {
  const std::uint64_t n = static_cast<std::uint64_t>(a.n_segments) * a.n_columns;
  for (std::uint64_t t = blockIdx.x * std::uint64_t{blockDim.x} + threadIdx.x; t < n;
       t += std::uint64_t{gridDim.x} * blockDim.x) {
    const SegmentSums s = a.segment_sums[t];
    double median = NAN;
    if (a.median && s.count > 0.0) {
      const auto count = static_cast<std::uint32_t>(s.count);
      const double* v = sorted + a.key_offsets[t];
      const double upper = v[count / 2];
      median = count % 2 == 1 ? upper : midpoint(v[count / 2 - 1], upper);
    }
    double all[kFeatureCount];
    finalize_all(s, median, all);
    double* out = a.features + t * a.n_features;
    for (std::uint32_t j = 0; j < a.n_features; ++j) out[j] = all[a.feature_index[j]];
    const std::uint64_t segment = t / a.n_columns;
    if (segment % a.groups == 0) {
      const std::uint64_t wafer = segment / a.groups;
      a.moments[wafer * a.n_columns + t % a.n_columns] = to_moments(s);
    }
  }
}

int bits_for(std::uint32_t v) {
  int bits = 1;
  while (bits < 32 && (v >> bits) != 0) ++bits;
  return bits;
}

template <class T>
void enqueue_typed(const BatchArgs& a, cudaStream_t stream) {
  const std::uint64_t piece_items = std::uint64_t{a.n_pieces} * a.n_columns;
  const std::uint64_t segment_items = std::uint64_t{a.n_segments} * a.n_columns;
  if (piece_items > 0) {
    piece_sums_kernel<T><<<blocks_for(piece_items), kThreads, 0, stream>>>(a);
    WAFERMILL_CUDA_CHECK(cudaGetLastError());
  }
  if (segment_items == 0) return;
  merge_kernel<<<blocks_for(segment_items), kThreads, 0, stream>>>(a);
  WAFERMILL_CUDA_CHECK(cudaGetLastError());
  const double* sorted = nullptr;
  if (a.median) {
    const auto n_ids = static_cast<std::uint32_t>(segment_items);
    WAFERMILL_CUDA_CHECK(cudaMemsetAsync(a.key_counts + n_ids, 0, sizeof(std::uint32_t), stream));
    std::size_t temp = a.sort_temp_bytes;
    WAFERMILL_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(a.sort_temp, temp, a.key_counts,
                                                       a.key_offsets, n_ids + 1, stream));
    if (piece_items > 0) {
      scatter_kernel<T><<<blocks_for(piece_items), kThreads, 0, stream>>>(a);
      WAFERMILL_CUDA_CHECK(cudaGetLastError());
    }
    cub::DoubleBuffer<double> keys(a.keys, a.keys_alt);
    cub::DoubleBuffer<std::uint32_t> ids(a.ids, a.ids_alt);
    if (a.max_keys > 0) {  // a batch of empty wafers has no rows: a zero-block launch fails
      pad_keys_kernel<<<blocks_for(a.max_keys), kThreads, 0, stream>>>(a, n_ids);
      WAFERMILL_CUDA_CHECK(cudaGetLastError());
      // Stable LSD radix sorts: by value, then by id; each id's values end up in order.
      temp = a.sort_temp_bytes;
      WAFERMILL_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
          a.sort_temp, temp, keys, ids, static_cast<int>(a.max_keys), 0, 64, stream));
      temp = a.sort_temp_bytes;
      WAFERMILL_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
          a.sort_temp, temp, ids, keys, static_cast<int>(a.max_keys), 0, bits_for(n_ids), stream));
    }
    sorted = keys.Current();
  }
  finalize_kernel<<<blocks_for(segment_items), kThreads, 0, stream>>>(a, sorted);
  WAFERMILL_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

std::size_t sort_temp_bytes(std::uint64_t n) {
  const int items = static_cast<int>(std::min<std::uint64_t>(n, 0x7fffffff));
  std::size_t scan = 0, by_value = 0, by_id = 0;
  cub::DoubleBuffer<double> keys(nullptr, nullptr);
  cub::DoubleBuffer<std::uint32_t> ids(nullptr, nullptr);
  WAFERMILL_CUDA_CHECK(
      cub::DeviceScan::ExclusiveSum(nullptr, scan, static_cast<std::uint32_t*>(nullptr),
                                    static_cast<std::uint32_t*>(nullptr), items + 1));
  WAFERMILL_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, by_value, keys, ids, items, 0, 64));
  WAFERMILL_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, by_id, ids, keys, items, 0, 32));
  return std::max({scan, by_value, by_id});
}

void enqueue_batch(const BatchArgs& args, cudaStream_t stream) {
  if (args.float64) {
    enqueue_typed<double>(args, stream);
  } else {
    enqueue_typed<float>(args, stream);
  }
}

}  // namespace wafermill::features::detail
