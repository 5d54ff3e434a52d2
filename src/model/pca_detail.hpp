/// @file pca_detail.hpp
/// @brief What the two matrix paths of the fit share (src/model only): the communicator, the
/// autoscaling from a training set's sums, the component rule, the sign rule, the one-thread
/// guard for OpenBLAS and the Gram path itself (pca_gram.cpp, docs/MONITORING.md "Matrix").
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <mpi.h>

#include "wafermill/model/pca_model.hpp"

// OpenBLAS's own control (libopenblas): the thread count changes the last bits of dsyevd's and
// dsyrk's results (FIELD_NOTES "Eigendecomposition for PCA"), so linear algebra runs with one.
extern "C" void openblas_set_num_threads(int);
extern "C" int openblas_get_num_threads(void);

namespace wafermill::model::detail {

/// @brief A communicator, or none (MPI_COMM_NULL: one process).
struct Comm {
  MPI_Comm comm = MPI_COMM_NULL;
  int rank = 0;
  int size = 1;
  explicit Comm(MPI_Comm c) : comm(c) {
    if (comm != MPI_COMM_NULL) {
      MPI_Comm_rank(comm, &rank);
      MPI_Comm_size(comm, &size);
    }
  }
  bool mpi() const { return comm != MPI_COMM_NULL; }
  template <class T>
  void allreduce(T* v, int n, MPI_Datatype t, MPI_Op op) const {
    if (mpi()) MPI_Allreduce(MPI_IN_PLACE, v, n, t, op, comm);
  }
  /// @brief Rank 0's n doubles to every rank, in pieces of at most 2^30 (MPI counts are int).
  void bcast(double* v, std::size_t n) const {
    if (!mpi()) return;
    constexpr std::size_t piece = std::size_t{1} << 30;
    for (std::size_t at = 0; at < n; at += piece)
      MPI_Bcast(v + at, static_cast<int>(std::min(piece, n - at)), MPI_DOUBLE, 0, comm);
  }
};

/// @brief One OpenBLAS thread while alive (the previous count restored after).
class OneBlasThread {
 public:
  OneBlasThread() : before_(openblas_get_num_threads()) { openblas_set_num_threads(1); }
  ~OneBlasThread() { openblas_set_num_threads(before_); }
  OneBlasThread(const OneBlasThread&) = delete;
  OneBlasThread& operator=(const OneBlasThread&) = delete;

 private:
  int before_;
};

/// @brief A training set's centre and scale from its sums (d = x − origin): shift = Σd/n,
/// variance (Σd² − n shift²)/(n − 1), scale its root (1 where it is 0). Both paths call this,
/// so their centre and scale are the same bits.
struct Autoscale {
  std::vector<double> shift, centre, scale, variance;
};
Autoscale autoscale(std::uint64_t n, const std::vector<double>& origin,
                    const std::vector<double>& sum_d, const std::vector<double>& sum_dd_diagonal);

/// @brief The component rule on eigenvalues sorted descending: `components` > 0 asks for that
/// many (at most the usable ones); 0 takes the fewest whose cumulative variance reaches
/// `variance_target` of the total, at most n − 1 and only eigenvalues above 1e-9 of the largest.
/// Sets `total` to the sum of the positive eigenvalues.
std::size_t choose_components(const std::vector<double>& lambda, std::uint64_t n,
                              double variance_target, std::uint32_t components, double& total);

/// @brief Makes column a of the row-major rows × cols matrix `v` (a = 0 … cols − 1) have its
/// largest |entry| (the first one on ties) positive: a fixed sign for each direction.
void fix_signs(std::vector<double>& v, std::size_t rows, std::size_t cols);

/// @brief The Gram path (docs/MONITORING.md "Matrix"): the model of one training set of n
/// wafers from its column sums (Σd, Σd²; d = x − origin) and its rows. `d` is this rank's rows
/// (rows × J; a non-finite value counts as 0, as in the sums), `train` marks the rows of the
/// training set; the ranks' training rows, autoscaled, are gathered to rank 0 in rank order (the
/// reference's order), whose Gram matrix Z Zᵀ/(n − 1) is decomposed (dsyrk, dsyevd, one OpenBLAS
/// thread) and the loadings Zᵀ U Λ^(−1/2), normalised, broadcast. Sets what model_from_sums sets,
/// with the same centre, scale and component rule. Collective over comm.
PcaModel gram_model(std::uint64_t n, const std::vector<double>& origin,
                    const std::vector<double>& sum_d, const std::vector<double>& sum_dd_diagonal,
                    const std::vector<double>& d, const std::vector<char>& train,
                    double variance_target, MPI_Comm comm);

}  // namespace wafermill::model::detail
