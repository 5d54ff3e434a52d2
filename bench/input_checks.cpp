// The cost of validating many input files before a run (docs/BENCHMARKS.md "Many small files:
// validation"): the expansion of the --input specifications, then every file's metadata read in
// child processes as `run` does it (job::check_inputs_spread: the files shared over the ranks,
// many files per child), and, with --serial, the way one input was checked before (one child per
// file, every file on rank 0).
//
//   mpirun -np P input_checks [--serial] [--repetitions N] SPEC...
//
// Prints one line per repetition and mode: P, files, seconds, milliseconds per file.
#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "wafermill/format/input_list.hpp"
#include "wafermill/job/input_sandbox.hpp"
#include "wafermill/metrics/metrics.hpp"

namespace {

using wafermill::metrics::now_seconds;

double max_over_ranks(double v) {
  MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  bool serial = false;
  int repetitions = 3;
  std::vector<std::string> specs;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--serial")
      serial = true;
    else if (a == "--repetitions" && i + 1 < argc)
      repetitions = std::atoi(argv[++i]);
    else
      specs.push_back(a);
  }
  int code = 0;
  try {
    for (int rep = 1; rep <= repetitions; ++rep) {
      MPI_Barrier(MPI_COMM_WORLD);
      double t0 = now_seconds();
      std::vector<std::string> files = wafermill::format::expand_inputs(specs);
      const double expand_s = max_over_ranks(now_seconds() - t0);

      MPI_Barrier(MPI_COMM_WORLD);
      t0 = now_seconds();
      const auto checks = wafermill::job::check_inputs_spread(files, 600.0, MPI_COMM_WORLD);
      const double spread_s = max_over_ranks(now_seconds() - t0);
      std::size_t bad = 0;
      for (const auto& c : checks) bad += c.outcome != wafermill::job::InputCheck::Outcome::good;
      if (rank == 0)
        std::printf("spread  P=%d files=%zu bad=%zu  expand %.3f s  checks %.3f s  %.3f ms/file\n",
                    size, files.size(), bad, expand_s, spread_s,
                    1e3 * spread_s / double(files.size()));

      if (serial) {
        MPI_Barrier(MPI_COMM_WORLD);
        t0 = now_seconds();
        if (rank == 0)
          for (const auto& f : files) (void)wafermill::job::check_input_isolated(f, 600.0);
        const double serial_s = max_over_ranks(now_seconds() - t0);
        if (rank == 0)
          std::printf(
              "serial  P=%d files=%zu  one child per file on rank 0  %.3f s  %.3f ms/file\n", size,
              files.size(), serial_s, 1e3 * serial_s / double(files.size()));
      }
      std::fflush(stdout);
      (void)rep;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "input_checks: rank %d: %s\n", rank, e.what());
    code = 1;
  }
  MPI_Finalize();
  return code;
}
