/// @file cuda_resources.hpp
/// @brief RAII owners of CUDA resources for host code built with the CUDA toolkit, shared by
/// the trace backend (features/cuda) and the picture path (pictures/cuda): device memory,
/// pinned host memory, a stream, an event and a scope on a device. Destructors ignore
/// errors: they run during unwinding too.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <utility>

#include "wafermill/cuda_check.hpp"

namespace wafermill::cuda {

/// @brief Device memory from cudaMalloc; reserve() grows it on demand (contents lost).
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t bytes) { reserve(bytes); }
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
  /// @brief At least `bytes` (exactly, when it grows). The caller makes sure no kernel still
  /// uses the old memory: cudaFree is not guaranteed to wait for it.
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
  /// @brief At least `bytes` (contents lost): exactly the first time, by half again when it
  /// grows later, to amortise repeated growth.
  void reserve(std::size_t bytes) {
    if (bytes <= bytes_) return;
    const std::size_t grown = bytes_ == 0 ? bytes : bytes + bytes / 2;
    if (ptr_ != nullptr) WAFERMILL_CUDA_CHECK(cudaFreeHost(ptr_));
    ptr_ = nullptr;
    bytes_ = 0;
    WAFERMILL_CUDA_CHECK(cudaMallocHost(&ptr_, grown));
    bytes_ = grown;
  }
  template <class T = unsigned char>
  T* get() const {
    return static_cast<T*>(ptr_);
  }

 private:
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

/// @brief A non-blocking stream (it does not wait for the legacy default stream).
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

}  // namespace wafermill::cuda
