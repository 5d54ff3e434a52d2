// wafermill: parse the command line, start MPI when the command needs it, run, and turn an
// exception into an exit code (0 success, 1 runtime failure, 2 usage or bad input).
#include <cstdio>
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
