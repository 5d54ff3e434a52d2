#include "drive/team.hpp"

#include <unistd.h>

#include "wafermill/error.hpp"

namespace wafermill::job {

void sleepy_barrier(MPI_Comm comm) {
  MPI_Request req;
  MPI_Ibarrier(comm, &req);
  int done = 0;
  while (true) {
    MPI_Test(&req, &done, MPI_STATUS_IGNORE);
    if (done) return;
    ::usleep(200);
  }
}

void share_error(const Team& team, std::string error) {
  if (team.mpi()) {
    std::uint64_t len = error.size();
    MPI_Bcast(&len, 1, MPI_UINT64_T, 0, team.comm);
    error.resize(len);
    if (len > 0) MPI_Bcast(error.data(), static_cast<int>(len), MPI_CHAR, 0, team.comm);
  }
  if (!error.empty()) throw CollectiveInputError(error);
}

void share_words(const Team& team, std::vector<std::uint64_t>& words) {
  if (!team.mpi()) return;
  std::uint64_t n = words.size();
  MPI_Bcast(&n, 1, MPI_UINT64_T, 0, team.comm);
  words.resize(n);
  for (std::uint64_t off = 0; off < n; off += kReducePiece)
    MPI_Bcast(words.data() + off, static_cast<int>(std::min(kReducePiece, n - off)), MPI_UINT64_T,
              0, team.comm);
}

std::uint64_t sum_over(const Team& team, std::uint64_t v) {
  if (team.mpi()) MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_UINT64_T, MPI_SUM, team.comm);
  return v;
}

bool any_rank(const Team& team, bool mine) {
  int v = mine ? 1 : 0;
  if (team.mpi()) MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_MAX, team.comm);
  return v != 0;
}

bool every_rank(const Team& team, bool mine) {
  int v = mine ? 1 : 0;
  if (team.mpi()) MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_MIN, team.comm);
  return v != 0;
}

}  // namespace wafermill::job
