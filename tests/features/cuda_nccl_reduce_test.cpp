/// @file cuda_nccl_reduce_test.cpp
/// @brief BlockPartialsAllreduce under mpiexec: disjoint block partials come back bitwise as
/// their computing rank held them (signed zeros and all), on every rank, and a block computed
/// by no rank is an error on every rank. The MPI transport runs anywhere; the NCCL one skips
/// unless every rank of the node has a CUDA device of its own.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "wafermill/features/backend.hpp"
#include "wafermill/reduce/nccl_reduce.hpp"

namespace wafermill::reduce {
namespace {

using Transport = BlockPartialsAllreduce::Transport;

int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}
int world_size() {
  int s = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &s);
  return s;
}

// Ranks sharing this node, and this rank's index among them.
std::pair<int, int> node_local() {
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  int rank = 0, size = 0;
  MPI_Comm_rank(node, &rank);
  MPI_Comm_size(node, &size);
  MPI_Comm_free(&node);
  return {rank, size};
}

// A partial that depends only on (block, sensor): what any rank computing it would hold.
Moments partial(std::size_t b, std::size_t s) {
  Moments m;
  m.n = static_cast<double>(10 * b + s + 1);
  m.mean =
      (b % 3 == 0) ? -0.0 : std::ldexp(1.0 + 1e-15 * static_cast<double>(s), -static_cast<int>(b));
  m.m2 = 0.1 * static_cast<double>(b) + 1e-300;
  m.m3 = -1.0 / 3.0 * static_cast<double>(s);
  m.m4 = 1e300;
  m.min = -HUGE_VAL;
  m.max = static_cast<double>(b) / 7.0;
  return m;
}

std::unique_ptr<BlockPartialsAllreduce> make(Transport transport) {
  if (transport == Transport::nccl) {
    const auto [local_rank, local_size] = node_local();
    if (features::cuda_device_count() < local_size) return nullptr;
    return std::make_unique<BlockPartialsAllreduce>(MPI_COMM_WORLD, transport, local_rank);
  }
  return std::make_unique<BlockPartialsAllreduce>(MPI_COMM_WORLD, transport);
}

void disjoint_blocks_come_back_bitwise(Transport transport) {
  auto reducer = make(transport);
  if (!reducer) GTEST_SKIP() << "no CUDA device: NCCL needs one device per rank of the node";
  const std::size_t n_blocks = 11, n_sensors = 3;
  std::vector<Moments> mine(n_blocks * n_sensors);
  std::vector<std::uint8_t> owned(n_blocks, 0);
  for (std::size_t b = 0; b < n_blocks; ++b) {
    owned[b] = b % static_cast<std::size_t>(world_size()) == static_cast<std::size_t>(world_rank());
    for (std::size_t s = 0; s < n_sensors; ++s) {
      // Entries of blocks computed elsewhere hold garbage: they must be ignored.
      mine[b * n_sensors + s] = owned[b] ? partial(b, s) : Moments{NAN, 1, 2, 3, 4, 5, 6};
    }
  }
  reducer->allreduce(mine, n_sensors, owned);
  for (std::size_t b = 0; b < n_blocks; ++b) {
    for (std::size_t s = 0; s < n_sensors; ++s) {
      const Moments want = partial(b, s);
      EXPECT_EQ(0, std::memcmp(&want, &mine[b * n_sensors + s], sizeof want))
          << "block " << b << " sensor " << s << " on rank " << world_rank();
    }
  }
}

void a_block_nobody_computed_is_an_error(Transport transport) {
  auto reducer = make(transport);
  if (!reducer) GTEST_SKIP() << "no CUDA device: NCCL needs one device per rank of the node";
  std::vector<Moments> mine(4 * 2);
  std::vector<std::uint8_t> owned(4, 0);
  owned[1] = world_rank() == 0;  // blocks 0, 2 and 3 by nobody
  EXPECT_THROW(reducer->allreduce(mine, 2, owned), std::logic_error);
  std::vector<std::uint8_t> wrong_size(3, 1);
  EXPECT_THROW(reducer->allreduce(mine, 2, wrong_size), std::invalid_argument);
}

TEST(CudaBlockReduce, MpiDisjointBlocksComeBackBitwise) {
  disjoint_blocks_come_back_bitwise(Transport::mpi);
}
TEST(CudaBlockReduce, MpiABlockNobodyComputedIsAnError) {
  a_block_nobody_computed_is_an_error(Transport::mpi);
}
TEST(CudaBlockReduce, NcclDisjointBlocksComeBackBitwise) {
  disjoint_blocks_come_back_bitwise(Transport::nccl);
}
TEST(CudaBlockReduce, NcclABlockNobodyComputedIsAnError) {
  a_block_nobody_computed_is_an_error(Transport::nccl);
}

}  // namespace
}  // namespace wafermill::reduce

// MPI is started once around all tests; ranks above 0 print nothing unless a test fails.
int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  testing::InitGoogleTest(&argc, argv);
  if (wafermill::reduce::world_rank() != 0) {
    auto& listeners = testing::UnitTest::GetInstance()->listeners();
    std::unique_ptr<testing::TestEventListener>(
        listeners.Release(listeners.default_result_printer()));
  }
  const int failed = RUN_ALL_TESTS();
  int any_failed = 0;
  MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return any_failed;
}
