// The wafers'-space path of the fit (docs/MONITORING.md "Matrix"): when the columns outnumber
// the reference wafers, the n × n Gram matrix of the autoscaled rows has the same non-zero
// eigenvalues as the J × J correlation matrix, and its eigenvectors give the loadings.
#include <cblas.h>
#include <lapacke.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include "pca_detail.hpp"

namespace wafermill::model::detail {

Autoscale autoscale(std::uint64_t n, const std::vector<double>& origin,
                    const std::vector<double>& sum_d, const std::vector<double>& sum_dd_diagonal) {
  const std::size_t J = origin.size();
  const double nd = static_cast<double>(n);
  Autoscale a;
  a.shift.resize(J);
  a.centre.resize(J);
  a.scale.resize(J);
  a.variance.resize(J);
  for (std::size_t j = 0; j < J; ++j) {
    a.shift[j] = sum_d[j] / nd;
    a.variance[j] = (sum_dd_diagonal[j] - nd * a.shift[j] * a.shift[j]) / (nd - 1.0);
    a.centre[j] = origin[j] + a.shift[j];
    const double sd = std::sqrt(std::max(0.0, a.variance[j]));
    a.scale[j] = sd > 0.0 ? sd : 1.0;
  }
  return a;
}

std::size_t choose_components(const std::vector<double>& lambda, std::uint64_t n,
                              double variance_target, std::uint32_t components, double& total) {
  const std::size_t J = lambda.size();
  total = 0.0;
  for (double l : lambda) total += std::max(0.0, l);
  std::size_t usable = 0;
  while (usable < J && lambda[usable] > 1e-9 * lambda[0]) ++usable;
  const std::size_t cap = std::max<std::size_t>(1, std::min<std::size_t>(usable, n - 1));
  std::size_t A = 0;
  if (components > 0) return std::max<std::size_t>(1, std::min<std::size_t>(components, usable));
  double cum = 0.0;
  while (A < cap) {
    cum += lambda[A];
    ++A;
    if (cum >= variance_target * total) break;
  }
  return A;
}

void fix_signs(std::vector<double>& v, std::size_t rows, std::size_t cols) {
  for (std::size_t a = 0; a < cols; ++a) {
    std::size_t big = 0;
    for (std::size_t i = 0; i < rows; ++i)
      if (std::fabs(v[i * cols + a]) > std::fabs(v[big * cols + a])) big = i;
    if (v[big * cols + a] < 0)
      for (std::size_t i = 0; i < rows; ++i) v[i * cols + a] = -v[i * cols + a];
  }
}

PcaModel gram_model(std::uint64_t n, const std::vector<double>& origin,
                    const std::vector<double>& sum_d, const std::vector<double>& sum_dd_diagonal,
                    const std::vector<double>& d, const std::vector<char>& train,
                    double variance_target, MPI_Comm comm) {
  const Comm c(comm);
  const std::size_t J = origin.size();
  const Autoscale as = autoscale(n, origin, sum_d, sum_dd_diagonal);
  PcaModel m;
  m.centre = as.centre;
  m.scale = as.scale;

  // This rank's training rows, autoscaled: z = (d − shift) / scale.
  std::size_t mine = 0;
  for (char t : train) mine += t != 0;
  std::vector<double> z(mine * J);
  for (std::size_t r = 0, k = 0; r < train.size(); ++r) {
    if (!train[r]) continue;
    for (std::size_t j = 0; j < J; ++j) {
      const double x = d[r * J + j];
      z[k * J + j] = ((std::isfinite(x) ? x : 0.0) - as.shift[j]) / as.scale[j];
    }
    ++k;
  }
  // Gathered on rank 0 in rank order, which is the reference's order.
  const std::size_t N = n;
  std::vector<double> all;
  if (c.mpi()) {
    MPI_Datatype row;
    MPI_Type_contiguous(static_cast<int>(J), MPI_DOUBLE, &row);
    MPI_Type_commit(&row);
    const int count = static_cast<int>(mine);
    std::vector<int> counts(c.size), displs(c.size);
    MPI_Gather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, comm);
    if (c.rank == 0) {
      for (int r = 1; r < c.size; ++r) displs[r] = displs[r - 1] + counts[r - 1];
      all.resize(N * J);
    }
    MPI_Gatherv(z.data(), count, row, all.data(), counts.data(), displs.data(), row, 0, comm);
    MPI_Type_free(&row);
    z.clear();
    z.shrink_to_fit();
  } else {
    all.swap(z);
  }

  std::uint64_t A = 0;
  std::vector<double> lambda, loadings;
  double total = 0.0;
  if (c.rank == 0) {
    if (all.size() != N * J)
      throw std::logic_error("gram_model: the training rows do not add up to n");
    const OneBlasThread one;
    // G = Z Zᵀ/(n − 1), upper triangle (row-major), then its eigenvalues (ascending) and vectors.
    std::vector<double> g(N * N, 0.0);
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, static_cast<int>(N), static_cast<int>(J),
                1.0 / (static_cast<double>(N) - 1.0), all.data(), static_cast<int>(J), 0.0,
                g.data(), static_cast<int>(N));
    std::vector<double> ascending(N);
    const lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', static_cast<lapack_int>(N),
                                           g.data(), static_cast<lapack_int>(N), ascending.data());
    if (info != 0)
      throw std::runtime_error("LAPACKE_dsyevd failed with info " + std::to_string(info));
    lambda.resize(N);
    for (std::size_t k = 0; k < N; ++k) lambda[k] = ascending[N - 1 - k];
    A = choose_components(lambda, n, variance_target, 0, total);
    // U_A (n × A), descending; loadings Zᵀ U_A (J × A), each normalised to unit length (its
    // length is √((n − 1) λ) up to rounding) and signed as the covariance path's.
    std::vector<double> u(N * A);
    for (std::size_t i = 0; i < N; ++i)
      for (std::size_t a = 0; a < A; ++a) u[i * A + a] = g[i * N + (N - 1 - a)];
    g.clear();
    g.shrink_to_fit();
    loadings.assign(J * A, 0.0);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, static_cast<int>(J), static_cast<int>(A),
                static_cast<int>(N), 1.0, all.data(), static_cast<int>(J), u.data(),
                static_cast<int>(A), 0.0, loadings.data(), static_cast<int>(A));
    std::vector<double> norm(A, 0.0);
    for (std::size_t j = 0; j < J; ++j)
      for (std::size_t a = 0; a < A; ++a) norm[a] += loadings[j * A + a] * loadings[j * A + a];
    for (std::size_t a = 0; a < A; ++a) norm[a] = std::sqrt(norm[a]);
    for (std::size_t j = 0; j < J; ++j)
      for (std::size_t a = 0; a < A; ++a) loadings[j * A + a] /= norm[a];
    fix_signs(loadings, J, A);
    lambda.resize(A);
  }
  all.clear();
  all.shrink_to_fit();
  if (c.mpi()) {
    MPI_Bcast(&A, 1, MPI_UINT64_T, 0, comm);
    MPI_Bcast(&total, 1, MPI_DOUBLE, 0, comm);
  }
  lambda.resize(A);
  loadings.resize(J * A);
  c.bcast(lambda.data(), A);
  c.bcast(loadings.data(), J * A);
  m.n_components = static_cast<std::uint32_t>(A);
  m.loadings = std::move(loadings);
  double cum = 0.0;
  for (std::size_t a = 0; a < A; ++a) {
    m.eigenvalues.push_back(lambda[a]);
    cum += lambda[a];
    m.explained.push_back(total > 0 ? cum / total : 1.0);
  }
  m.t2_limit = m.spe_limit = 1.0;  // raw statistics until the limits are calibrated
  m.n_reference = n;
  m.variance_target = variance_target;
  return m;
}

}  // namespace wafermill::model::detail
