/// @file cuda_raii.hpp
/// @brief The CUDA RAII owners the picture path uses (wafermill/cuda_resources.hpp, shared with
/// the trace backend) and its device check.
#pragma once

#include <cuda_runtime_api.h>

#include "wafermill/cuda_resources.hpp"
#include "wafermill/error.hpp"

namespace wafermill::pictures::gpu::detail {

using cuda::DeviceBuffer;
using cuda::DeviceScope;
using cuda::PinnedBuffer;
using cuda::Stream;

/// @brief Throws UsageError unless a CUDA device is visible (a machine without one is the
/// user's configuration, not a failure).
inline void require_device() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
    (void)cudaGetLastError();
    throw UsageError("GPU picture path: no CUDA device is visible to this process");
  }
}

}  // namespace wafermill::pictures::gpu::detail
