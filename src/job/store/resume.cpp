#include "store/resume.hpp"

#include <algorithm>
#include <cstdio>
#include <map>

namespace wafermill::job {
namespace {

// MPI counts are int: large vectors move in pieces.
constexpr std::uint64_t kPiece = 1ULL << 28;

void broadcast(std::vector<std::uint8_t>& v, MPI_Comm comm) {
  for (std::uint64_t off = 0; off < v.size(); off += kPiece) {
    const int n = static_cast<int>(std::min<std::uint64_t>(v.size() - off, kPiece));
    MPI_Bcast(v.data() + off, n, MPI_UINT8_T, 0, comm);
  }
}

void allreduce_or(std::vector<std::uint8_t>& v, MPI_Comm comm) {
  for (std::uint64_t off = 0; off < v.size(); off += kPiece) {
    const int n = static_cast<int>(std::min<std::uint64_t>(v.size() - off, kPiece));
    MPI_Allreduce(MPI_IN_PLACE, v.data() + off, n, MPI_UINT8_T, MPI_BOR, comm);
  }
}

}  // namespace

std::vector<std::uint8_t> resume_from_store(MPI_Comm comm, int rank, int size,
                                            const partition::BlockPlan& plan, Worker& worker,
                                            ResultStore& store, Collector& collector,
                                            const std::function<void()>& between_chunks,
                                            bool quiet) {
  const bool mpi = comm != MPI_COMM_NULL;
  const std::uint64_t n_blocks = plan.n_blocks();
  std::vector<std::uint8_t> candidate(n_blocks, 0);
  if (rank == 0) {
    const std::size_t stale = store.remove_temporaries();
    if (stale > 0 && !quiet)
      std::fprintf(stderr, "wafermill: resume: removed %zu temporary file(s) a killed run left in %s\n",
                   stale, store.dir().c_str());
    for (const auto& [b, keys] : store.list())
      if (b < n_blocks) candidate[b] = 1;
  }
  if (mpi) broadcast(candidate, comm);

  // Rank r hashes the r-th contiguous share of the candidates, in runs of consecutive blocks,
  // and loads those whose entry has the key it computed.
  std::vector<std::uint64_t> list;
  for (std::uint64_t b = 0; b < n_blocks; ++b)
    if (candidate[b]) list.push_back(b);
  const std::uint64_t c = list.size(), p = static_cast<std::uint64_t>(size);
  const std::uint64_t lo = c * rank / p, hi = c * (rank + 1) / p;
  std::vector<std::uint64_t> keys(n_blocks, 0);
  std::vector<std::uint8_t> reused(n_blocks, 0);
  BatchResult batch;
  for (std::uint64_t i = lo; i < hi;) {
    std::uint64_t j = i + 1;
    while (j < hi && list[j] == list[j - 1] + 1) ++j;
    worker.hash_blocks(list[i], list[j - 1] + 1, keys, between_chunks);
    for (std::uint64_t k = i; k < j; ++k) {
      const std::uint64_t b = list[k];
      if (!store.has(b, keys[b])) continue;  // an entry of another input or configuration
      std::string why;
      if (store.load(b, keys[b], batch, why)) {
        collector.accept_reused(batch);
        reused[b] = 1;
      } else {
        std::fprintf(stderr, "wafermill: resume: block %llu recomputed: %s\n",
                     static_cast<unsigned long long>(b), why.c_str());
      }
      between_chunks();
    }
    i = j;
  }
  if (mpi) allreduce_or(reused, comm);
  return reused;
}

}  // namespace wafermill::job
