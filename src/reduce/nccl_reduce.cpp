/// @file nccl_reduce.cpp
/// @brief BlockPartialsAllreduce: disjoint block partials summed as integer bit patterns,
/// one NCCL (or MPI) all-reduce per call.
#include "wafermill/reduce/nccl_reduce.hpp"

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "nccl_check.hpp"
#include "wafermill/cuda_check.hpp"

namespace wafermill::reduce {
namespace {

constexpr std::size_t kWords = sizeof(Moments) / sizeof(std::uint64_t);
static_assert(sizeof(Moments) == kWords * sizeof(std::uint64_t), "Moments must be all doubles");

void mpi_check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) throw std::runtime_error(std::string("MPI call failed: ") + what);
}

}  // namespace

/// The communicator, its stream and a device buffer reused while its size suffices.
struct BlockPartialsAllreduce::Nccl {
  ncclComm_t comm = nullptr;
  cudaStream_t stream = nullptr;
  void* buffer = nullptr;
  std::size_t bytes = 0;
  ~Nccl() {
    if (stream != nullptr) cudaStreamSynchronize(stream);
    if (buffer != nullptr) cudaFree(buffer);
    if (stream != nullptr) cudaStreamDestroy(stream);
    if (comm != nullptr) ncclCommDestroy(comm);
  }
};

BlockPartialsAllreduce::BlockPartialsAllreduce(MPI_Comm comm, Transport transport, int device)
    : comm_(comm), transport_(transport) {
  if (transport_ != Transport::nccl) return;
  int rank = 0, size = 1;
  mpi_check(MPI_Comm_rank(comm_, &rank), "MPI_Comm_rank");
  mpi_check(MPI_Comm_size(comm_, &size), "MPI_Comm_size");
  if (device >= 0) WAFERMILL_CUDA_CHECK(cudaSetDevice(device));
  ncclUniqueId id;
  if (rank == 0) WAFERMILL_NCCL_CHECK(ncclGetUniqueId(&id));
  mpi_check(MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, comm_), "MPI_Bcast of the NCCL unique id");
  nccl_ = std::make_unique<Nccl>();
  WAFERMILL_CUDA_CHECK(cudaStreamCreateWithFlags(&nccl_->stream, cudaStreamNonBlocking));
  WAFERMILL_NCCL_CHECK(ncclCommInitRank(&nccl_->comm, size, id, rank));
}

BlockPartialsAllreduce::~BlockPartialsAllreduce() = default;

void BlockPartialsAllreduce::allreduce(std::span<Moments> partials, std::size_t n_sensors,
                                       std::span<const std::uint8_t> owned) {
  if (n_sensors == 0 || partials.size() != owned.size() * n_sensors) {
    throw std::invalid_argument("block partials: " + std::to_string(partials.size()) +
                                " moments for " + std::to_string(owned.size()) + " blocks of " +
                                std::to_string(n_sensors) + " sensors");
  }
  const std::size_t n_blocks = owned.size();
  // [n_blocks · n_sensors · kWords] bit patterns, then [n_blocks] contributor counts.
  std::vector<std::uint64_t> words(partials.size() * kWords + n_blocks, 0);
  for (std::size_t b = 0; b < n_blocks; ++b) {
    if (owned[b] == 0) continue;
    std::memcpy(words.data() + b * n_sensors * kWords, partials.data() + b * n_sensors,
                n_sensors * sizeof(Moments));
    words[partials.size() * kWords + b] = 1;
  }
  const std::size_t bytes = words.size() * sizeof(std::uint64_t);
  if (transport_ == Transport::mpi) {
    mpi_check(MPI_Allreduce(MPI_IN_PLACE, words.data(), static_cast<int>(words.size()),
                            MPI_UINT64_T, MPI_SUM, comm_),
              "MPI_Allreduce of block partials");
  } else {
    if (nccl_->bytes < bytes) {
      if (nccl_->buffer != nullptr) WAFERMILL_CUDA_CHECK(cudaFree(nccl_->buffer));
      nccl_->buffer = nullptr;
      nccl_->bytes = 0;
      WAFERMILL_CUDA_CHECK(cudaMalloc(&nccl_->buffer, bytes));
      nccl_->bytes = bytes;
    }
    WAFERMILL_CUDA_CHECK(
        cudaMemcpyAsync(nccl_->buffer, words.data(), bytes, cudaMemcpyHostToDevice, nccl_->stream));
    WAFERMILL_NCCL_CHECK(ncclAllReduce(nccl_->buffer, nccl_->buffer, words.size(), ncclUint64,
                                       ncclSum, nccl_->comm, nccl_->stream));
    WAFERMILL_CUDA_CHECK(
        cudaMemcpyAsync(words.data(), nccl_->buffer, bytes, cudaMemcpyDeviceToHost, nccl_->stream));
    WAFERMILL_CUDA_CHECK(cudaStreamSynchronize(nccl_->stream));
  }
  for (std::size_t b = 0; b < n_blocks; ++b) {
    const std::uint64_t count = words[partials.size() * kWords + b];
    if (count != 1) {
      throw std::logic_error("block partials: block " + std::to_string(b) + " computed by " +
                             std::to_string(count) + " ranks, expected exactly one");
    }
  }
  std::memcpy(static_cast<void*>(partials.data()), words.data(), partials.size() * sizeof(Moments));
}

}  // namespace wafermill::reduce
