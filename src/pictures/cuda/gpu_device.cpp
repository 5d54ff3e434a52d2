/// @file gpu_device.cpp
/// @brief Whether the CUDA picture path can run here.
#include <cuda_runtime_api.h>

#include "wafermill/pictures/gpu.hpp"

namespace wafermill::pictures::gpu {

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // no driver or no device: clear the sticky error, report none
    return 0;
  }
  return n;
}

bool available() { return device_count() > 0; }

}  // namespace wafermill::pictures::gpu
