/// @file cuda_resources.hpp
/// @brief RAII owners of device memory, pinned host memory, streams and events (host code
/// built with the CUDA toolkit). Destructors ignore errors: they run during unwinding too.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <utility>

#include "wafermill/cuda_check.hpp"

namespace wafermill::features::detail {

/// @brief Device memory from cudaMalloc.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t bytes) : bytes_(bytes) {
    if (bytes > 0) WAFERMILL_CUDA_CHECK(cudaMalloc(&ptr_, bytes));
  }
  ~DeviceBuffer() {
    if (ptr_ != nullptr) cudaFree(ptr_);
  }
  DeviceBuffer(DeviceBuffer&& o) noexcept
      : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    std::swap(ptr_, o.ptr_);
    std::swap(bytes_, o.bytes_);
    return *this;
  }
  void* get() const { return ptr_; }
  std::size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

/// @brief Page-locked host memory from cudaMallocHost: the only host memory an async copy
/// overlaps with kernels from.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  ~PinnedBuffer() {
    if (ptr_ != nullptr) cudaFreeHost(ptr_);
  }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  /// @brief Grows to at least `bytes` (contents lost), by half again to amortise growth.
  void reserve(std::size_t bytes) {
    if (bytes <= bytes_) return;
    if (ptr_ != nullptr) WAFERMILL_CUDA_CHECK(cudaFreeHost(ptr_));
    ptr_ = nullptr;
    bytes_ = 0;
    const std::size_t grown = bytes + bytes / 2;
    WAFERMILL_CUDA_CHECK(cudaMallocHost(&ptr_, grown));
    bytes_ = grown;
  }
  unsigned char* get() const { return static_cast<unsigned char*>(ptr_); }

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

 private:
  cudaStream_t s_ = nullptr;
};

/// @brief An event with timing.
class Event {
 public:
  Event() { WAFERMILL_CUDA_CHECK(cudaEventCreate(&e_)); }
  ~Event() { cudaEventDestroy(e_); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  cudaEvent_t get() const { return e_; }

 private:
  cudaEvent_t e_ = nullptr;
};

}  // namespace wafermill::features::detail
