#include "drive/team.hpp"

#include <unistd.h>
#include <climits>
#include <cstring>

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

std::optional<std::vector<std::string>> exchange_file_blobs(const Team& team,
                                                            const std::vector<std::string>& mine,
                                                            std::size_t n_files, BlobsTo to,
                                                            std::uint64_t limit) {
  std::string packed;  // (file number, length, bytes) of each blob this rank holds
  for (std::size_t k = 0; k < n_files && k < mine.size(); ++k) {
    if (mine[k].empty()) continue;
    const std::uint64_t key = k, len = mine[k].size();
    packed.append(reinterpret_cast<const char*>(&key), sizeof key);
    packed.append(reinterpret_cast<const char*>(&len), sizeof len);
    packed += mine[k];
  }
  const std::uint64_t total = sum_over(team, packed.size());
  if (total > limit || (team.mpi() && total > static_cast<std::uint64_t>(INT_MAX)))
    return std::nullopt;  // every rank alike: none is sent
  const bool here = to == BlobsTo::every_rank || team.root();
  std::string all;
  if (team.mpi()) {
    const int len = static_cast<int>(packed.size());
    std::vector<int> lens(team.size), displs(team.size);
    if (to == BlobsTo::every_rank)
      MPI_Allgather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, team.comm);
    else
      MPI_Gather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, 0, team.comm);
    if (here) {
      for (int r = 1; r < team.size; ++r) displs[r] = displs[r - 1] + lens[r - 1];
      all.resize(total);
    }
    if (to == BlobsTo::every_rank)
      MPI_Allgatherv(packed.data(), len, MPI_CHAR, all.data(), lens.data(), displs.data(), MPI_CHAR,
                     team.comm);
    else
      MPI_Gatherv(packed.data(), len, MPI_CHAR, all.data(), lens.data(), displs.data(), MPI_CHAR, 0,
                  team.comm);
  } else {
    all = std::move(packed);
  }
  std::vector<std::string> blobs;
  if (!here) return blobs;
  blobs.resize(n_files);
  for (std::size_t at = 0; at < all.size();) {
    std::uint64_t key = 0, len = 0;
    std::memcpy(&key, all.data() + at, sizeof key);
    std::memcpy(&len, all.data() + at + sizeof key, sizeof len);
    at += sizeof key + sizeof len;
    blobs[key] = all.substr(at, len);
    at += len;
  }
  return blobs;
}

}  // namespace wafermill::job
