/// @file device_sum.hpp
/// @brief In-place sum of a device buffer of doubles across the ranks of an MPI communicator
/// through NCCL: the golden image's per-pixel Σx and Σx² (large buffers, where NCCL's
/// bandwidth between GPUs matters). The values summed are integers below 2^53, so every
/// partial sum is exact and the result has the same bits whatever tree or ring NCCL picks.
/// Built with NCCL (wafermill_reduce_nccl) from device_sum_nccl.cpp, otherwise from
/// device_sum_stub.cpp: callers need no #ifdef.
#pragma once

#include <mpi.h>

#include <cstddef>
#include <memory>

namespace wafermill::reduce {

class DeviceSum {
 public:
  /// @brief True when this build has NCCL.
  static bool built();
  /// @brief Collective over `comm`: rank 0 creates the NCCL unique id, MPI_Bcast sends it, and
  /// every rank joins on `device` (its current device when −1).
  /// @throws UsageError when this build has no NCCL; GpuError when a CUDA or NCCL call fails.
  DeviceSum(MPI_Comm comm, int device = -1);
  ~DeviceSum();
  DeviceSum(const DeviceSum&) = delete;
  DeviceSum& operator=(const DeviceSum&) = delete;

  /// @brief Sums `n` doubles at `device_data` over the ranks, in place, in pieces of at most
  /// 2^28 values; returns when the sums are on the device. Collective.
  /// @throws GpuError when a CUDA or NCCL call fails.
  void sum_in_place(double* device_data, std::size_t n);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wafermill::reduce
