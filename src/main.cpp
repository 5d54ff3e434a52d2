// wafermill: parse the command line, start MPI when the command needs it, run, and turn an
// exception into an exit code (0 success, 1 runtime failure, 2 usage or bad input).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <unistd.h>

#include <mpi.h>

#include "wafermill/cli/cli.hpp"
#include "wafermill/error.hpp"

namespace {

int rank_of(MPI_Comm comm) {
  int rank = 0;
  if (comm != MPI_COMM_NULL) MPI_Comm_rank(comm, &rank);
  return rank;
}

// A rank that fails alone must abort the job: returning would leave the others hung in a
// collective (../shared/FIELD_NOTES.md "Faults").
[[noreturn]] void fail(MPI_Comm comm, const char* what, int code) {
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  if (comm != MPI_COMM_NULL) {
    std::fprintf(stderr, "wafermill: error on rank %d (%s): %s\n", rank_of(comm), host, what);
    std::fflush(stderr);
    MPI_Abort(comm, code);
  }
  std::fprintf(stderr, "wafermill: error: %s\n", what);
  std::exit(code);
}

// Start-up (docs/BENCHMARKS.md, issue 18): when every rank runs on this node, Open MPI's default
// selection still initialises UCX, which probes the network devices for 0.2-0.3 s of MPI_Init
// and is then not used: shared memory carries everything. Unless the user chose the transports
// (OMPI_MCA_pml or OMPI_MCA_btl, also set by `mpirun --mca`), take ob1 over shared memory. Only
// for mpirun with every rank local (its OMPI_COMM_WORLD_SIZE equals OMPI_COMM_WORLD_LOCAL_SIZE)
// or a process started alone (no launcher's variables at all): never under srun or a launcher
// that does not say where the ranks are.
void prefer_shared_memory_on_one_node() {
  if (std::getenv("OMPI_MCA_pml") || std::getenv("OMPI_MCA_btl")) return;
  const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
  const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  bool one_node = false;
  if (size && local)
    one_node = std::strcmp(size, local) == 0;
  else
    one_node = !size && !local && !std::getenv("PMIX_RANK") && !std::getenv("PMI_RANK") &&
               !std::getenv("PMI_SIZE") && !std::getenv("SLURM_STEP_NUM_TASKS");
  if (!one_node) return;
  ::setenv("OMPI_MCA_pml", "ob1", 0);
  ::setenv("OMPI_MCA_btl", "self,vader", 0);
}

}  // namespace

int main(int argc, char** argv) {
  using wafermill::ExitCode;
  wafermill::cli::Command command;
  try {
    command = wafermill::cli::parse(argc, argv);
  } catch (const wafermill::InputError& e) {
    std::fprintf(stderr, "wafermill: error: %s\n", e.what());
    return static_cast<int>(ExitCode::bad_input);
  }
  if (!command.needs_mpi) {
    try {
      return command.run(MPI_COMM_NULL);
    } catch (const wafermill::InputError& e) {
      fail(MPI_COMM_NULL, e.what(), static_cast<int>(ExitCode::bad_input));
    } catch (const std::exception& e) {
      fail(MPI_COMM_NULL, e.what(), static_cast<int>(ExitCode::runtime_failure));
    }
  }

  prefer_shared_memory_on_one_node();
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  const MPI_Comm comm = MPI_COMM_WORLD;
  int code = 0;
  try {
    code = command.run(comm);
  } catch (const wafermill::CollectiveInputError& e) {
    // Every rank saw the same bad input: rank 0 reports it, all finish cleanly.
    if (rank_of(comm) == 0) std::fprintf(stderr, "wafermill: error: %s\n", e.what());
    code = static_cast<int>(ExitCode::bad_input);
  } catch (const wafermill::InputError& e) {
    fail(comm, e.what(), static_cast<int>(ExitCode::bad_input));
  } catch (const std::exception& e) {
    fail(comm, e.what(), static_cast<int>(ExitCode::runtime_failure));
  }
  MPI_Finalize();
  return code;
}
