#include "store/resume.hpp"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <stdexcept>
#include <utility>

namespace wafermill::job {
namespace {

// MPI counts are int: large vectors move in pieces.
constexpr std::uint64_t kPiece = 1ULL << 28;

void broadcast(std::vector<std::uint64_t>& v, MPI_Comm comm) {
  std::uint64_t n = v.size();
  MPI_Bcast(&n, 1, MPI_UINT64_T, 0, comm);
  v.resize(n);
  for (std::uint64_t off = 0; off < n; off += kPiece) {
    const int k = static_cast<int>(std::min<std::uint64_t>(n - off, kPiece));
    MPI_Bcast(v.data() + off, k, MPI_UINT64_T, 0, comm);
  }
}

void allreduce_or(std::vector<std::uint8_t>& v, MPI_Comm comm) {
  for (std::uint64_t off = 0; off < v.size(); off += kPiece) {
    const int n = static_cast<int>(std::min<std::uint64_t>(v.size() - off, kPiece));
    MPI_Allreduce(MPI_IN_PLACE, v.data() + off, n, MPI_UINT8_T, MPI_BOR, comm);
  }
}

}  // namespace

std::uint64_t KnownKeys::count() const {
  return static_cast<std::uint64_t>(std::count(known.begin(), known.end(), std::uint8_t{1}));
}

std::vector<std::uint8_t> resume_from_store(MPI_Comm comm, int rank, int size,
                                            const partition::BlockPlan& plan, Worker& worker,
                                            ResultStore& store, Collector& collector,
                                            const std::function<void()>& between_chunks, bool quiet,
                                            const KnownKeys& known) {
  const bool mpi = comm != MPI_COMM_NULL;
  const std::uint64_t n_blocks = plan.n_blocks();
  std::vector<std::uint64_t> stored;  // sorted keys
  if (rank == 0) {
    const std::size_t stale = store.remove_temporaries();
    if (stale > 0 && !quiet)
      std::fprintf(stderr,
                   "wafermill: resume: removed %zu temporary file(s) a killed run left in %s\n",
                   stale, store.dir().c_str());
    stored = store.list();
    for (const std::string& why : store.rejected_packs())  // its blocks are recomputed
      std::fprintf(stderr, "wafermill: resume: pack ignored: %s\n", why.c_str());
  }
  if (mpi) broadcast(stored, comm);
  std::vector<std::uint8_t> reused(n_blocks, 0);
  if (stored.empty()) return reused;  // the same answer on every rank

  // Rank r hashes the r-th contiguous share of the blocks, in runs, and loads those whose key
  // the store holds.
  const std::uint64_t p = static_cast<std::uint64_t>(size);
  const std::uint64_t lo = n_blocks * rank / p, hi = n_blocks * (rank + 1) / p;
  std::vector<std::uint64_t> keys(n_blocks, 0);
  const auto is_known = [&known](std::uint64_t b) {
    return !known.known.empty() && known.known[b];
  };
  BatchResult batch;
  for (std::uint64_t i = lo; i < hi;) {
    // A run of blocks whose keys are known (not read), or of blocks to read and hash.
    std::uint64_t j = i + 1;
    while (j < hi && j - i < kResumeRun && is_known(j) == is_known(i)) ++j;
    if (is_known(i))
      std::copy(known.key.begin() + static_cast<std::ptrdiff_t>(i),
                known.key.begin() + static_cast<std::ptrdiff_t>(j),
                keys.begin() + static_cast<std::ptrdiff_t>(i));
    else
      worker.hash_blocks(i, j, keys, between_chunks);
    for (std::uint64_t b = i; b < j; ++b) {
      // No entry: another input, configuration or a block never finished.
      if (!std::binary_search(stored.begin(), stored.end(), keys[b])) continue;
      std::string why;
      if (store.load(keys[b], b, batch, why)) {
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

std::size_t prune_to_run(MPI_Comm comm, int rank, const ResultStore& store,
                         const std::vector<std::pair<std::uint64_t, std::uint64_t>>& mine,
                         bool prune, std::vector<std::uint64_t>* keys_by_block) {
  // Each block as two words: its index and its key.
  std::vector<std::uint64_t> keys;
  keys.reserve(2 * mine.size());
  for (const auto& bk : mine) {
    keys.push_back(bk.first);
    keys.push_back(bk.second);
  }
  std::vector<std::uint64_t> all;
  if (comm == MPI_COMM_NULL) {
    all = std::move(keys);
  } else {
    int size = 1;
    MPI_Comm_size(comm, &size);
    if (keys.size() > static_cast<std::uint64_t>(INT_MAX))
      throw std::length_error("result store: too many blocks on one rank to prune");
    const int mine_n = static_cast<int>(keys.size());
    std::vector<int> counts(rank == 0 ? size : 0), displs(rank == 0 ? size : 0);
    MPI_Gather(&mine_n, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, comm);
    int go = prune ? 1 : 0;
    if (rank == 0) {
      std::uint64_t total = 0;
      for (int r = 0; r < size; ++r) {
        displs[r] = static_cast<int>(std::min<std::uint64_t>(total, INT_MAX));
        total += static_cast<std::uint64_t>(counts[r]);
      }
      // Past INT_MAX keys the displacements overflow: the store is then left unpruned.
      if (total > static_cast<std::uint64_t>(INT_MAX)) go = 0;
      if (go) all.resize(total);
    }
    MPI_Bcast(&go, 1, MPI_INT, 0, comm);  // rank 0's decision
    if (!go) return 0;
    MPI_Gatherv(keys.data(), mine_n, MPI_UINT64_T, all.data(), counts.data(), displs.data(),
                MPI_UINT64_T, 0, comm);
  }
  if (rank != 0) return 0;
  std::vector<std::uint64_t> only_keys;
  only_keys.reserve(all.size() / 2);
  for (std::size_t i = 0; i + 1 < all.size(); i += 2) {
    only_keys.push_back(all[i + 1]);
    if (keys_by_block != nullptr && all[i] < keys_by_block->size())
      (*keys_by_block)[all[i]] = all[i + 1];
  }
  return store.prune(std::move(only_keys));
}

}  // namespace wafermill::job
