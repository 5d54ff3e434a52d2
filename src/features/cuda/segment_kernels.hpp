/// @file segment_kernels.hpp
/// @brief Host entry of the CUDA backend's kernels (segment_kernels.cu): everything one
/// device batch runs, enqueued on one stream.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "batch_plan.hpp"
#include "wafermill/features/feature_set.hpp"
#include "wafermill/features/segment.hpp"
#include "wafermill/reduce/moments.hpp"

namespace wafermill::features::detail {

/// @brief Device pointers and sizes of one batch (carved from the arena by DeviceLayout).
struct BatchArgs {
  const void* samples = nullptr;
  bool float64 = false;
  std::uint32_t n_columns = 0;
  std::uint32_t n_pieces = 0;
  std::uint32_t n_segments = 0;
  std::uint32_t groups = 1;  ///< 1 + n_steps
  const Run* runs = nullptr;
  const Piece* pieces = nullptr;
  const Segment* segments = nullptr;
  SegmentSums* piece_sums = nullptr;
  SegmentSums* segment_sums = nullptr;
  double* features = nullptr;          ///< [segments, columns, n_features]
  reduce::Moments* moments = nullptr;  ///< [wafers, columns], whole-wafer segments
  std::uint32_t n_features = 0;
  std::uint8_t feature_index[kFeatureCount] = {};  ///< enum index of each output column
  // Slices of one wafer: segment sums carried from slice to slice, [groups, columns].
  SegmentSums* carry = nullptr;
  bool carry_in = false;
  bool carry_out = false;
  // Median on the device (not for slices: their medians are taken on the host).
  bool median = false;
  std::uint32_t* key_counts = nullptr;   ///< [segments · columns + 1]
  std::uint32_t* key_offsets = nullptr;  ///< [segments · columns + 1]
  std::uint32_t* piece_slots = nullptr;  ///< [pieces · columns]
  double* keys = nullptr;
  double* keys_alt = nullptr;
  std::uint32_t* ids = nullptr;
  std::uint32_t* ids_alt = nullptr;
  std::uint32_t max_keys = 0;
  void* sort_temp = nullptr;
  std::size_t sort_temp_bytes = 0;
};

/// @brief Bytes of CUB temporary storage to sort n keys (max of the scan and both sorts).
/// @throws GpuError when CUB's size query fails.
std::size_t sort_temp_bytes(std::uint64_t n);

/// @brief Enqueues the batch's kernels on `stream`: piece sums, the in-order merge (with
/// carry), and when args.median the finite-sample scatter, the two-pass radix sort and the
/// median pick; then the features and moments. Asynchronous.
/// @throws GpuError when a launch fails.
void enqueue_batch(const BatchArgs& args, cudaStream_t stream);

}  // namespace wafermill::features::detail
