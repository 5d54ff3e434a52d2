/// @file cuda_raii.hpp
/// @brief RAII owners for the picture path's CUDA resources (host code built with the CUDA
/// toolkit): device and pinned memory, a stream, an event, and a scope on a device.
/// Destructors ignore errors: they run during unwinding too. (features/cuda/cuda_resources.hpp
/// is the trace backend's private twin; rooms do not include each other's private headers.)
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <utility>

#include "wafermill/cuda_check.hpp"
#include "wafermill/error.hpp"

namespace wafermill::pictures::gpu::detail {

/// @brief Device memory from cudaMalloc, grown on demand (contents lost).
class DeviceMemory {
 public:
  DeviceMemory() = default;
  ~DeviceMemory() {
    if (ptr_ != nullptr) cudaFree(ptr_);
  }
  DeviceMemory(DeviceMemory&& o) noexcept
      : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  DeviceMemory& operator=(DeviceMemory&& o) noexcept {
    std::swap(ptr_, o.ptr_);
    std::swap(bytes_, o.bytes_);
    return *this;
  }
  void reserve(std::size_t bytes) {
    if (bytes <= bytes_) return;
    if (ptr_ != nullptr) WAFERMILL_CUDA_CHECK(cudaFree(ptr_));
    ptr_ = nullptr;
    bytes_ = 0;
    WAFERMILL_CUDA_CHECK(cudaMalloc(&ptr_, bytes));
    bytes_ = bytes;
  }
  template <class T = void>
  T* get() const {
    return static_cast<T*>(ptr_);
  }

 private:
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

/// @brief Page-locked host memory: the only host memory an async copy overlaps kernels from.
class PinnedMemory {
 public:
  PinnedMemory() = default;
  ~PinnedMemory() {
    if (ptr_ != nullptr) cudaFreeHost(ptr_);
  }
  PinnedMemory(const PinnedMemory&) = delete;
  PinnedMemory& operator=(const PinnedMemory&) = delete;
  void reserve(std::size_t bytes) {
    if (bytes <= bytes_) return;
    if (ptr_ != nullptr) WAFERMILL_CUDA_CHECK(cudaFreeHost(ptr_));
    ptr_ = nullptr;
    bytes_ = 0;
    WAFERMILL_CUDA_CHECK(cudaMallocHost(&ptr_, bytes));
    bytes_ = bytes;
  }
  template <class T = void>
  T* get() const {
    return static_cast<T*>(ptr_);
  }

 private:
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

/// @brief A non-blocking stream.
class Stream {
 public:
  Stream() { WAFERMILL_CUDA_CHECK(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking)); }
  ~Stream() {
    cudaStreamSynchronize(s_);
    cudaStreamDestroy(s_);
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() const { return s_; }
  void synchronize() const { WAFERMILL_CUDA_CHECK(cudaStreamSynchronize(s_)); }

 private:
  cudaStream_t s_ = nullptr;
};

/// @brief Throws UsageError unless a CUDA device is visible (a machine without one is the
/// user's configuration, not a failure).
inline void require_device() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
    (void)cudaGetLastError();
    throw UsageError("GPU picture path: no CUDA device is visible to this process");
  }
}

/// @brief Makes `device` current for the scope (−1: leaves the current one).
class DeviceScope {
 public:
  explicit DeviceScope(int device) {
    WAFERMILL_CUDA_CHECK(cudaGetDevice(&previous_));
    if (device >= 0 && device != previous_) {
      WAFERMILL_CUDA_CHECK(cudaSetDevice(device));
      restore_ = true;
    }
  }
  ~DeviceScope() {
    if (restore_) cudaSetDevice(previous_);
  }
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;
  int previous() const { return previous_; }

 private:
  int previous_ = 0;
  bool restore_ = false;
};

}  // namespace wafermill::pictures::gpu::detail
