/// @file mpio_reader_test.cpp
/// @brief TraceReader with the mpio driver: a real multi-rank run (registered in ctest through
/// mpiexec), each rank reading a different, uneven range of wafers with independent reads.
#include <gtest/gtest.h>
#include <mpi.h>

#include <unistd.h>

#include <filesystem>

#include "sample_files.hpp"
#include "wafermill/format/trace_reader.hpp"

namespace wafermill::format {
namespace {

int rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

int size() {
  int s = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &s);
  return s;
}

/// One file for all ranks, named by rank 0's pid so concurrent runs do not collide.
std::string shared_path(const std::string& name) {
  int pid = rank() == 0 ? static_cast<int>(::getpid()) : 0;
  MPI_Bcast(&pid, 1, MPI_INT, 0, MPI_COMM_WORLD);
  return (std::filesystem::temp_directory_path() /
          ("wafermill_mpio_" + std::to_string(pid) + "_" + name))
      .string();
}

class MpioReader : public ::testing::TestWithParam<bool> {};

TEST_P(MpioReader, RanksReadTheirOwnWafersExactly) {
  const bool chunked_gzip = GetParam();
  const std::string path = shared_path(chunked_gzip ? "gzip.h5" : "plain.h5");
  testing::SampleSpec spec;
  spec.wafer_rows = {30, 0, 71, 5, 44, 90, 1, 12};
  spec.n_sensors = 4;
  if (chunked_gzip) {
    spec.chunk = {16, 4};
    spec.deflate_level = 5;
  }
  if (rank() == 0) testing::write_sample(path, spec);
  MPI_Barrier(MPI_COMM_WORLD);

  const TraceIndex idx = read_trace_index(path);
  {
    TraceReader reader(idx, IoDriver::mpio, MPI_COMM_WORLD);
    // Rank r reads wafers r, r + P, ...: different amounts per rank, so reads are independent.
    for (std::uint64_t w = static_cast<std::uint64_t>(rank()); w < idx.n_wafers;
         w += static_cast<std::uint64_t>(size())) {
      const std::uint64_t first = idx.offsets[w], n = idx.wafer_rows(w);
      std::vector<float> values(n * idx.n_sensors);
      std::vector<std::int32_t> steps(n);
      reader.read_rows(first, n, values.data(), steps);
      for (std::uint64_t r = 0; r < n; ++r) {
        ASSERT_EQ(steps[r], testing::sample_step(first + r, idx.n_steps));
        for (std::uint64_t s = 0; s < idx.n_sensors; ++s) {
          ASSERT_EQ(values[r * idx.n_sensors + s],
                    static_cast<float>(testing::sample_value(first + r, s)));
        }
      }
    }
  }  // the file is closed collectively here
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank() == 0) std::filesystem::remove(path);
}

INSTANTIATE_TEST_SUITE_P(Storages, MpioReader, ::testing::Values(false, true));

}  // namespace
}  // namespace wafermill::format
