/// @file device_sum_nccl.cpp
/// @brief DeviceSum through NCCL: ncclAllReduce(ncclDouble, ncclSum) in place, on a stream
/// of its own, bootstrapped over MPI.
#include <cuda_runtime_api.h>
#include <nccl.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "nccl_check.hpp"
#include "wafermill/cuda_check.hpp"
#include "wafermill/reduce/device_sum.hpp"


namespace wafermill::reduce {

/// Values per ncclAllReduce call: a bound on each call's size (NCCL counts are size_t).
constexpr std::size_t kPiece = std::size_t{1} << 28;

struct DeviceSum::Impl {
  ncclComm_t comm = nullptr;
  cudaStream_t stream = nullptr;
  ~Impl() {
    if (stream != nullptr) cudaStreamSynchronize(stream);
    if (stream != nullptr) cudaStreamDestroy(stream);
    if (comm != nullptr) ncclCommDestroy(comm);
  }
};

bool DeviceSum::built() { return true; }

DeviceSum::DeviceSum(MPI_Comm comm, int device) : impl_(std::make_unique<Impl>()) {
  int rank = 0, size = 1;
  if (MPI_Comm_rank(comm, &rank) != MPI_SUCCESS || MPI_Comm_size(comm, &size) != MPI_SUCCESS)
    throw std::runtime_error("DeviceSum: MPI_Comm_rank/size failed");
  if (device >= 0) WAFERMILL_CUDA_CHECK(cudaSetDevice(device));
  ncclUniqueId id;
  if (rank == 0) WAFERMILL_NCCL_CHECK(ncclGetUniqueId(&id));
  if (MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, comm) != MPI_SUCCESS)
    throw std::runtime_error("DeviceSum: MPI_Bcast of the NCCL unique id failed");
  WAFERMILL_CUDA_CHECK(cudaStreamCreateWithFlags(&impl_->stream, cudaStreamNonBlocking));
  WAFERMILL_NCCL_CHECK(ncclCommInitRank(&impl_->comm, size, id, rank));
}

DeviceSum::~DeviceSum() = default;

void DeviceSum::sum_in_place(double* device_data, std::size_t n) {
  for (std::size_t off = 0; off < n; off += kPiece) {
    const std::size_t count = std::min(kPiece, n - off);
    WAFERMILL_NCCL_CHECK(ncclAllReduce(device_data + off, device_data + off, count, ncclDouble,
                                       ncclSum, impl_->comm, impl_->stream));
  }
  WAFERMILL_CUDA_CHECK(cudaStreamSynchronize(impl_->stream));
}

}  // namespace wafermill::reduce
