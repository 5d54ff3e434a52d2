// The ranks of one run and the few collective steps every pass uses (private to job/): one
// place for what the trace and picture passes used to repeat.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include <mpi.h>

namespace wafermill::job {

/// The ranks of a run. comm is MPI_COMM_NULL in the sequential baseline (one process, no MPI).
struct Team {
  MPI_Comm comm = MPI_COMM_NULL;
  int rank = 0;
  int size = 1;
  Team() = default;
  explicit Team(MPI_Comm c) : comm(c) {
    if (comm != MPI_COMM_NULL) {
      MPI_Comm_rank(comm, &rank);
      MPI_Comm_size(comm, &size);
    }
  }
  bool mpi() const { return comm != MPI_COMM_NULL; }
  bool root() const { return rank == 0; }
};

/// A barrier that sleeps instead of spinning, so idle ranks leave the cores to the busy ones
/// (Open MPI's blocking barrier polls at full speed; the machine may be oversubscribed).
void sleepy_barrier(MPI_Comm comm);

/// Rank 0's error (empty: none), thrown on every rank together as CollectiveInputError.
void share_error(const Team& team, std::string error);

/// Rank 0's words on every rank.
void share_words(const Team& team, std::vector<std::uint64_t>& words);

/// Σ v over the ranks, on every rank.
std::uint64_t sum_over(const Team& team, std::uint64_t v);

/// True on every rank when `mine` is true on at least one (collective).
bool any_rank(const Team& team, bool mine);

/// True on every rank when `mine` is true on all of them (collective).
bool every_rank(const Team& team, bool mine);

/// Where exchange_file_blobs brings the blobs: rank 0 alone, or every rank.
enum class BlobsTo { root, every_rank };

/// Byte strings of input files (blob k: file k's), each held by one rank, brought together by
/// file number (collective). `mine[k]` is the blob of file k this rank holds, empty where it
/// holds none (k < n_files). Returns, on the ranks `to` names, n_files blobs ("" where no rank
/// held one), on the other ranks none; nullopt on every rank alike when the blobs of all ranks
/// come to more than `limit` bytes in all, or, between ranks, more than 2 GiB (MPI counts are
/// int): then none has travelled.
std::optional<std::vector<std::string>> exchange_file_blobs(const Team& team,
                                                            const std::vector<std::string>& mine,
                                                            std::size_t n_files, BlobsTo to,
                                                            std::uint64_t limit);

/// Largest element count per collective call (MPI counts are int).
inline constexpr std::uint64_t kReducePiece = 1ULL << 26;

/// Sums `v` element-wise over the ranks, in pieces; the result lands on every rank (`all`) or
/// on rank 0. Integer sums, and double sums of integers below 2^53, are the same bits in any
/// order; other doubles must not come here (reduce/ has the reproducible sums).
template <class T>
void sum_over_ranks(const Team& team, std::vector<T>& v, bool all) {
  static_assert(std::is_same_v<T, double> || std::is_same_v<T, std::uint64_t>);
  if (!team.mpi()) return;
  const MPI_Datatype type = std::is_same_v<T, double> ? MPI_DOUBLE : MPI_UINT64_T;
  for (std::uint64_t off = 0; off < v.size(); off += kReducePiece) {
    const int n = static_cast<int>(std::min<std::uint64_t>(kReducePiece, v.size() - off));
    if (all)
      MPI_Allreduce(MPI_IN_PLACE, v.data() + off, n, type, MPI_SUM, team.comm);
    else if (team.rank == 0)
      MPI_Reduce(MPI_IN_PLACE, v.data() + off, n, type, MPI_SUM, 0, team.comm);
    else
      MPI_Reduce(v.data() + off, nullptr, n, type, MPI_SUM, 0, team.comm);
  }
}

}  // namespace wafermill::job
