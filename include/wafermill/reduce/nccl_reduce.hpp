/// @file nccl_reduce.hpp
/// @brief All-reduce of block partials (a fixed-size array of Moments per reduction block)
/// over NCCL on the device, or over MPI: built only with the CUDA toolkit and NCCL
/// (target wafermill_reduce_nccl).
///
/// Every block is computed by exactly one rank; the others contribute zero. The buffer is
/// summed as 64-bit unsigned integers — the bit patterns of the doubles — so x + 0 + ... + 0
/// is x exactly, whatever the order or the tree NCCL picks: the result is bitwise what the
/// computing rank held, as reproducible as the block-ordered path (docs/METRICS.md). A count
/// of contributors per block travels in the same call (one launch: small buffers are latency
/// bound) and catches a block computed twice or never.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <memory>
#include <span>

#include "wafermill/reduce/moments.hpp"

namespace wafermill::reduce {

/// @brief Sums disjoint block partials across the ranks of a communicator.
class BlockPartialsAllreduce {
 public:
  /// @brief Through NCCL on the device or through MPI on the host.
  enum class Transport { nccl, mpi };

  /// @brief Collective over `comm`. For NCCL, rank 0 creates the unique id, MPI_Bcast sends it,
  /// and every rank joins on `device` (its current device when -1).
  /// @throws GpuError when a CUDA or NCCL call fails; std::runtime_error when an MPI call fails.
  BlockPartialsAllreduce(MPI_Comm comm, Transport transport, int device = -1);
  ~BlockPartialsAllreduce();
  BlockPartialsAllreduce(const BlockPartialsAllreduce&) = delete;
  BlockPartialsAllreduce& operator=(const BlockPartialsAllreduce&) = delete;

  /// @brief partials: [n_blocks, n_sensors]; owned[b] != 0 for the blocks this rank computed
  /// (the others' entries are ignored). On return every rank holds every block. Collective.
  /// @throws std::invalid_argument on inconsistent sizes; std::logic_error when a block was
  /// computed by no rank or by more than one; GpuError / std::runtime_error as above.
  void allreduce(std::span<Moments> partials, std::size_t n_sensors,
                 std::span<const std::uint8_t> owned);

  /// @brief The transport in use.
  Transport transport() const { return transport_; }

 private:
  struct Nccl;
  MPI_Comm comm_;
  Transport transport_;
  std::unique_ptr<Nccl> nccl_;
};

}  // namespace wafermill::reduce
