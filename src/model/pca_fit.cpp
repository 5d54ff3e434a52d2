#include "wafermill/model/pca_fit.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>

#include <lapacke.h>

#include "pca_detail.hpp"
#include "wafermill/error.hpp"
#include "wafermill/reduce/exact_sum.hpp"

namespace wafermill::model {
namespace {

using detail::Comm;

// Histograms per reference lot above this many bytes are not kept (a model of 100 lots of 6,000
// columns takes 48 MB); all-reduced this many counts at a time (an int count).
constexpr std::size_t kMaxLotCountBytes = 64ULL << 20;
constexpr std::size_t kAllreduceChunk = 1ULL << 24;

std::size_t tri(std::size_t i, std::size_t j, std::size_t J) {  // i <= j, upper triangle row-major
  return i * J - i * (i - 1) / 2 + (j - i);
}

// The exact sums of one fold: Σ d_j and Σ d_i d_j (i ≤ j; the Gram path: only Σ d_j², i = j)
// over its wafers, rounded to double after the exact all-reduce, so every rank holds the same
// bits for any P.
struct FoldSums {
  std::uint64_t n = 0;
  std::vector<double> sum;   // J
  std::vector<double> prod;  // J(J+1)/2 (covariance path)
  std::vector<double> sq;    // J (Gram path): the diagonal of prod, the same bits
};

// One eigendecomposition, rank 0, one BLAS thread; broadcast. Returns eigenvalues descending and
// eigenvectors as columns of a J×J row-major matrix in the same order.
void decompose(std::vector<double>& r, std::vector<double>& lambda, std::size_t J, const Comm& c) {
  lambda.assign(J, 0.0);
  if (c.rank == 0) {
    const int before = openblas_get_num_threads();
    openblas_set_num_threads(1);
    const lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', static_cast<lapack_int>(J),
                                           r.data(), static_cast<lapack_int>(J), lambda.data());
    openblas_set_num_threads(before);
    if (info != 0)
      throw std::runtime_error("LAPACKE_dsyevd failed with info " + std::to_string(info));
    // Ascending → descending; each vector's largest entry made positive (a fixed sign).
    std::vector<double> v(J * J);
    std::vector<double> l(J);
    for (std::size_t k = 0; k < J; ++k) {
      const std::size_t src = J - 1 - k;
      l[k] = lambda[src];
      std::size_t big = 0;
      for (std::size_t i = 0; i < J; ++i)
        if (std::fabs(r[i * J + src]) > std::fabs(r[big * J + src])) big = i;
      const double sign = r[big * J + src] < 0 ? -1.0 : 1.0;
      for (std::size_t i = 0; i < J; ++i) v[i * J + k] = sign * r[i * J + src];
    }
    r.swap(v);
    lambda.swap(l);
  }
  c.bcast(lambda.data(), J);
  c.bcast(r.data(), J * J);
}

// The summed sums of one training set: all folds but `held` (held = folds: all of them), added
// in a fixed order so every rank gets the same bits.
std::uint64_t add_folds(const std::vector<FoldSums>& folds, std::size_t held, std::size_t J,
                        std::vector<double>& s, std::vector<double>& p) {
  std::uint64_t n = 0;
  s.assign(J, 0.0);
  p.assign(J * (J + 1) / 2, 0.0);
  for (std::size_t f = 0; f < folds.size(); ++f) {
    if (f == held) continue;
    n += folds[f].n;
    for (std::size_t j = 0; j < J; ++j) s[j] += folds[f].sum[j];
    for (std::size_t k = 0; k < p.size(); ++k) p[k] += folds[f].prod[k];
  }
  return n;
}

// The model of one training set.
PcaModel model_of(const std::vector<FoldSums>& folds, std::size_t held,
                  const std::vector<double>& mean, const FitOptions& o, const Comm& c) {
  std::vector<double> s, p;
  const std::uint64_t n = add_folds(folds, held, mean.size(), s, p);
  return model_from_sums(n, mean, s, p, o.variance_target, 0, c.comm);
}

// The Gram-path model of one training set: the summed fold sums (Σd, Σd² in fold order, the
// same additions as add_folds' diagonal) and the rows of the folds other than `held`.
PcaModel gram_of(const std::vector<FoldSums>& folds, std::size_t held,
                 const std::vector<double>& mean, const std::vector<double>& d,
                 const ReferenceRows& local, const FitOptions& o, const Comm& c) {
  const std::size_t J = mean.size();
  std::uint64_t n = 0;
  std::vector<double> s(J, 0.0), q(J, 0.0);
  for (std::size_t f = 0; f < folds.size(); ++f) {
    if (f == held) continue;
    n += folds[f].n;
    for (std::size_t j = 0; j < J; ++j) s[j] += folds[f].sum[j];
    for (std::size_t j = 0; j < J; ++j) q[j] += folds[f].sq[j];
  }
  std::vector<char> train(local.rows());
  for (std::size_t r = 0; r < train.size(); ++r)
    train[r] = held == folds.size() || (local.first_ordinal + r) % folds.size() != held;
  return detail::gram_model(n, mean, s, q, d, train, o.variance_target, c.comm);
}

// The sorted union of the ranks' group keys.
std::vector<std::string> group_union(const std::vector<std::string>& keys, const Comm& c) {
  std::vector<std::string> mine(keys.begin(), keys.end());
  std::sort(mine.begin(), mine.end());
  mine.erase(std::unique(mine.begin(), mine.end()), mine.end());
  if (!c.mpi()) return mine;
  std::string packed;
  for (const auto& k : mine) packed.append(k).push_back('\0');
  int len = static_cast<int>(packed.size());
  std::vector<int> lens(c.size), displs(c.size);
  MPI_Allgather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, c.comm);
  for (int r = 1; r < c.size; ++r) displs[r] = displs[r - 1] + lens[r - 1];
  std::string all(static_cast<std::size_t>(displs[c.size - 1] + lens[c.size - 1]), '\0');
  MPI_Allgatherv(packed.data(), len, MPI_CHAR, all.data(), lens.data(), displs.data(), MPI_CHAR,
                 c.comm);
  mine.clear();
  for (std::size_t a = 0; a < all.size();) {
    const std::size_t b = all.find('\0', a);
    mine.push_back(all.substr(a, b - a));
    a = b + 1;
  }
  std::sort(mine.begin(), mine.end());
  mine.erase(std::unique(mine.begin(), mine.end()), mine.end());
  return mine;
}

// Per-group centre and scale of the kept columns over one training set (the rows whose ordinal
// is not in fold `held`; held = folds: every row), exact sums all-reduced: the same bits for any
// P. A column with no finite value in a group takes the fleet's centre, one with fewer than two
// or no spread the fleet's scale (a group absent from the training set is the fleet's); a zero
// fleet scale is 1.
struct GroupStats {
  std::vector<std::uint64_t> count;               // G
  std::vector<double> centre, scale;              // G × J
  std::vector<double> fleet_centre, fleet_scale;  // J
};

GroupStats group_stats(const ReferenceRows& local, const std::vector<std::size_t>& keep,
                       const std::vector<std::size_t>& group, std::size_t G, std::size_t held,
                       std::size_t folds, const Comm& c) {
  const std::size_t C = local.column_sensor.size(), J = keep.size(), rows = local.rows();
  auto in = [&](std::size_t r) {
    return held == folds || (local.first_ordinal + r) % folds != held;
  };
  const std::size_t slots = (G + 1) * J;  // groups, then the fleet
  std::vector<std::uint64_t> finite(slots, 0);
  GroupStats gs;
  gs.count.assign(G, 0);
  std::vector<reduce::ExactSum> acc(slots);
  for (std::size_t r = 0; r < rows; ++r) {
    if (!in(r)) continue;
    ++gs.count[group[r]];
    for (std::size_t k = 0; k < J; ++k) {
      const double x = local.values[r * C + keep[k]];
      if (!std::isfinite(x)) continue;
      for (std::size_t g : {group[r], G}) {
        ++finite[g * J + k];
        acc[g * J + k].add(x);
      }
    }
  }
  c.allreduce(finite.data(), static_cast<int>(slots), MPI_UINT64_T, MPI_SUM);
  c.allreduce(gs.count.data(), static_cast<int>(G), MPI_UINT64_T, MPI_SUM);
  reduce::allreduce_exact(acc.data(), slots, c.comm);
  std::vector<double> mean(slots, 0.0);
  for (std::size_t q = 0; q < slots; ++q)
    if (finite[q] > 0) mean[q] = acc[q].value() / static_cast<double>(finite[q]);
  acc.assign(slots, reduce::ExactSum());
  for (std::size_t r = 0; r < rows; ++r) {
    if (!in(r)) continue;
    for (std::size_t k = 0; k < J; ++k) {
      const double x = local.values[r * C + keep[k]];
      if (!std::isfinite(x)) continue;
      for (std::size_t g : {group[r], G}) {
        const double d = x - mean[g * J + k];
        acc[g * J + k].add_product(d, d);
      }
    }
  }
  reduce::allreduce_exact(acc.data(), slots, c.comm);
  std::vector<double> sd(slots, 0.0);
  for (std::size_t q = 0; q < slots; ++q)
    if (finite[q] > 1) sd[q] = std::sqrt(acc[q].value() / static_cast<double>(finite[q] - 1));
  gs.fleet_centre.assign(mean.begin() + static_cast<std::ptrdiff_t>(G * J), mean.end());
  gs.fleet_scale.resize(J);
  for (std::size_t k = 0; k < J; ++k) gs.fleet_scale[k] = sd[G * J + k] > 0.0 ? sd[G * J + k] : 1.0;
  gs.centre.resize(G * J);
  gs.scale.resize(G * J);
  for (std::size_t g = 0; g < G; ++g)
    for (std::size_t k = 0; k < J; ++k) {
      const std::size_t q = g * J + k;
      gs.centre[q] = finite[q] > 0 ? mean[q] : gs.fleet_centre[k];
      gs.scale[q] = sd[q] > 0.0 ? sd[q] : gs.fleet_scale[k];
    }
  return gs;
}

}  // namespace

PcaModel model_from_sums(std::uint64_t n, const std::vector<double>& mean,
                         const std::vector<double>& s, const std::vector<double>& p,
                         double variance_target, std::uint32_t components, MPI_Comm comm) {
  const Comm c(comm);
  const std::size_t J = mean.size();
  const double nd = static_cast<double>(n);
  std::vector<double> diagonal(J);
  for (std::size_t j = 0; j < J; ++j) diagonal[j] = p[tri(j, j, J)];
  const detail::Autoscale as = detail::autoscale(n, mean, s, diagonal);
  const std::vector<double>& shift = as.shift;
  std::vector<double> cov(J * J);
  for (std::size_t i = 0; i < J; ++i)
    for (std::size_t j = i; j < J; ++j)
      cov[i * J + j] = cov[j * J + i] = (p[tri(i, j, J)] - nd * shift[i] * shift[j]) / (nd - 1.0);
  PcaModel m;
  m.centre = as.centre;
  m.scale = as.scale;
  for (std::size_t i = 0; i < J; ++i)
    for (std::size_t j = 0; j < J; ++j) cov[i * J + j] /= m.scale[i] * m.scale[j];
  std::vector<double> lambda;
  decompose(cov, lambda, J, c);
  double total = 0.0;
  const std::size_t A = detail::choose_components(lambda, n, variance_target, components, total);
  m.n_components = static_cast<std::uint32_t>(A);
  m.loadings.resize(J * A);
  for (std::size_t j = 0; j < J; ++j)
    for (std::size_t a = 0; a < A; ++a) m.loadings[j * A + a] = cov[j * J + a];
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

MatrixChoice choose_matrix(std::uint64_t n, std::size_t J, MatrixPath asked, std::uint64_t budget) {
  MatrixChoice m;
  const std::uint64_t j = J;
  m.covariance_bytes = (j + j * (j + 1) / 2) * sizeof(reduce::ExactSum);
  // Rank 0: the training rows (at most n × J), the loadings (at most J × n), the Gram matrix,
  // its eigenvectors and dsyevd's workspace (1 + 6n + 2n² doubles); two exact sums per column.
  m.gram_bytes =
      sizeof(double) * (2 * n * j + 4 * n * n + 6 * n) + 2 * j * sizeof(reduce::ExactSum);
  const auto fits = [&](MatrixPath p) {
    return (p == MatrixPath::gram ? m.gram_bytes : m.covariance_bytes) <= budget;
  };
  if (asked == MatrixPath::automatic) {
    const MatrixPath first = j > n ? MatrixPath::gram : MatrixPath::covariance;
    const MatrixPath other = first == MatrixPath::gram ? MatrixPath::covariance : MatrixPath::gram;
    m.path = fits(first) || !fits(other) ? first : other;
  } else {
    m.path = asked;
  }
  if (!fits(m.path)) {
    const auto mib = [](std::uint64_t b) { return std::to_string((b + (1u << 20) - 1) >> 20); };
    std::string what = std::to_string(J) + " model columns and " + std::to_string(n) +
                       " reference wafers need " + mib(m.covariance_bytes) +
                       " MiB of exact sums per rank (covariance matrix) or " + mib(m.gram_bytes) +
                       " MiB on rank 0 (Gram matrix)";
    if (asked != MatrixPath::automatic)
      what += "; --matrix " + std::string(asked == MatrixPath::gram ? "gram" : "covariance") +
              " was asked for";
    throw InputError(what + ", more than the memory budget (" + mib(budget) +
                     " MiB): raise --memory-budget or choose fewer --features");
  }
  return m;
}

void update_model(PcaModel& m, std::span<const double> rows) {
  if (!m.has_sums() || !m.has_histograms())
    throw InputError(
        m.has_histograms()
            ? "the model has no mergeable sums (it was fitted in the wafers' space, the Gram "
              "matrix, whose J(J+1)/2 sums it does not keep): refit it with `wafermill fit` "
              "(with the new wafers in the reference) instead of updating it"
            : "the model has no mergeable sums or reference histograms (format v1): refit it "
              "with `wafermill fit` to update it");
  if (m.fold_scored())
    throw InputError(
        "the model scores wafers with its " + std::to_string(m.fold_models.size()) +
        " fold models (/fold_models, format v5), which an update of the whole reference's sums "
        "cannot keep consistent: refit it with `wafermill fit` (with the new wafers in the "
        "reference), or fit it with --scoring full to update it");
  const std::size_t J = m.n_columns();
  const std::size_t k = rows.size() / J;
  // The stored double sums plus the new terms, exactly; one rounding per sum.
  std::vector<reduce::ExactSum> acc(J + J * (J + 1) / 2);
  for (std::size_t j = 0; j < J; ++j) acc[j].add(m.sum_d[j]);
  for (std::size_t q = 0; q < m.sum_dd.size(); ++q) acc[J + q].add(m.sum_dd[q]);
  // The update's wafers are one more reference lot where the model keeps its lots.
  std::uint64_t* lot = nullptr;
  if (m.has_lot_histograms() && k > 0) {
    const std::size_t L = m.lot_names.size();
    m.lot_names.push_back("(update " + std::to_string(L) + ")");
    m.lot_wafers.push_back(k);
    m.lot_counts.resize((L + 1) * J * kReferenceBins, 0);
    lot = m.lot_counts.data() + L * J * kReferenceBins;
  }
  std::vector<double> d(J);
  for (std::size_t r = 0; r < k; ++r) {
    for (std::size_t j = 0; j < J; ++j) {
      const double x = rows[r * J + j];
      d[j] = std::isfinite(x) ? x - m.origin[j] : 0.0;
      const std::size_t b = reference_bin(m, j, x);
      if (b >= kReferenceBins) continue;
      ++m.hist_counts[j * kReferenceBins + b];
      if (lot != nullptr) ++lot[j * kReferenceBins + b];
    }
    for (std::size_t i = 0; i < J; ++i) {
      acc[i].add(d[i]);
      reduce::ExactSum* row = &acc[J + tri(i, i, J)];
      for (std::size_t j = i; j < J; ++j) row[j - i].add_product(d[i], d[j]);
    }
  }
  for (std::size_t j = 0; j < J; ++j) m.sum_d[j] = acc[j].value();
  for (std::size_t q = 0; q < m.sum_dd.size(); ++q) m.sum_dd[q] = acc[J + q].value();
  m.sum_n += k;
  const PcaModel fresh = model_from_sums(m.sum_n, m.origin, m.sum_d, m.sum_dd, m.variance_target,
                                         m.n_components, MPI_COMM_NULL);
  m.centre = fresh.centre;
  m.scale = fresh.scale;
  m.n_components = fresh.n_components;
  m.loadings = fresh.loadings;
  m.eigenvalues = fresh.eigenvalues;
  m.explained = fresh.explained;
  m.n_reference = m.sum_n;
}

PcaModel fit_pca(const ReferenceRows& local, const FitOptions& o, MPI_Comm comm) {
  const Comm c(comm);
  const std::size_t C = local.column_sensor.size();
  const std::size_t rows = local.rows();
  if (!(o.false_alarm_rate > 0.0 && o.false_alarm_rate < 1.0))
    throw UsageError("--false-alarm-rate must be in (0, 1)");
  if (!(o.variance_target > 0.0 && o.variance_target <= 1.0))
    throw UsageError("--variance must be in (0, 1]");
  if (o.folds < 2) throw UsageError("--folds must be at least 2");
  std::uint64_t n = rows;
  c.allreduce(&n, 1, MPI_UINT64_T, MPI_SUM);
  if (n < std::max<std::uint64_t>(3, o.folds))
    throw InputError("the reference holds " + std::to_string(n) +
                     " wafers; a model needs at least " +
                     std::to_string(std::max<std::uint64_t>(3, o.folds)) + " (one per fold)");

  // Pass 1: per column the finite count, exact sum, range; which columns copy an earlier one.
  std::vector<std::uint64_t> finite(C, 0);
  std::vector<reduce::ExactSum> sum(C);
  std::vector<double> lo(C, std::numeric_limits<double>::infinity()), hi(C, -lo[0]);
  // (earlier, later) of the same sensor, over the same step or the earlier over the whole wafer
  // (a file of one step: every by-step column is a copy of its whole-wafer column).
  const auto step = [&local](std::size_t j) {
    return local.column_step.empty() ? -1 : local.column_step[j];
  };
  std::vector<std::pair<std::size_t, std::size_t>> pairs;
  for (std::size_t b = 0; b < C; ++b)
    for (std::size_t a = 0; a < b; ++a)
      if ((step(a) == step(b) || step(a) == -1) && local.column_sensor[a] == local.column_sensor[b])
        pairs.emplace_back(a, b);
  std::vector<int> differ(pairs.size(), 0);
  for (std::size_t r = 0; r < rows; ++r) {
    const double* x = &local.values[r * C];
    for (std::size_t j = 0; j < C; ++j) {
      if (!std::isfinite(x[j])) continue;
      ++finite[j];
      sum[j].add(x[j]);
      lo[j] = std::min(lo[j], x[j]);
      hi[j] = std::max(hi[j], x[j]);
    }
    for (std::size_t q = 0; q < pairs.size(); ++q)
      differ[q] |= std::memcmp(&x[pairs[q].first], &x[pairs[q].second], sizeof(double)) != 0;
  }
  c.allreduce(finite.data(), static_cast<int>(C), MPI_UINT64_T, MPI_SUM);
  reduce::allreduce_exact(sum.data(), C, comm);
  c.allreduce(lo.data(), static_cast<int>(C), MPI_DOUBLE, MPI_MIN);
  c.allreduce(hi.data(), static_cast<int>(C), MPI_DOUBLE, MPI_MAX);
  c.allreduce(differ.data(), static_cast<int>(differ.size()), MPI_INT, MPI_MAX);
  std::vector<char> usable(C, 0);
  for (std::size_t j = 0; j < C; ++j) usable[j] = 2 * finite[j] >= n && lo[j] < hi[j];
  for (std::size_t q = 0; q < pairs.size(); ++q)
    if (!differ[q] && usable[pairs[q].first]) usable[pairs[q].second] = 0;
  std::vector<std::size_t> keep;
  for (std::size_t j = 0; j < C; ++j)
    if (usable[j]) keep.push_back(j);
  const std::size_t J = keep.size();
  if (J == 0)
    throw InputError(
        "no feature column of the reference is usable (finite on half the wafers, "
        "not constant, not a copy of another)");
  const MatrixChoice matrix = choose_matrix(n, J, o.matrix, o.memory_budget_bytes);
  const bool gram = matrix.path == MatrixPath::gram;
  const bool keep_folds =
      o.scoring == FoldScoring::folds || (o.scoring == FoldScoring::automatic && 2 * J > n);
  // The fold models kept for scoring live on every rank until the model is written, beside the
  // rank's rows (its candidate values and their centred copy) and the matrix of the fold being
  // fitted: counted against the budget as each is kept (their components are known only then),
  // with the largest rank's rows, so that every rank decides alike.
  std::uint64_t resident = 0, kept_bytes = 0;
  if (keep_folds) {
    resident = sizeof(double) * (local.values.size() + rows * J);
    c.allreduce(&resident, 1, MPI_UINT64_T, MPI_MAX);
    resident += gram ? matrix.gram_bytes : matrix.covariance_bytes;
  }
  // Exact sums per column of a fold: Σd and all products (covariance) or Σd and Σd² (Gram).
  const std::size_t width = gram ? 2 * J : J + J * (J + 1) / 2;
  std::vector<double> mean(J);
  for (std::size_t k = 0; k < J; ++k)
    mean[k] = sum[keep[k]].value() / static_cast<double>(finite[keep[k]]);

  const bool grouped = !o.group_by.empty();
  std::vector<std::string> gnames;
  std::vector<std::size_t> gidx(rows, 0);
  if (grouped) {
    if (local.group.size() != rows)
      throw std::invalid_argument("fit_pca: one group key per reference row is needed");
    gnames = group_union(local.group, c);
    for (std::size_t r = 0; r < rows; ++r)
      gidx[r] = static_cast<std::size_t>(
          std::lower_bound(gnames.begin(), gnames.end(), local.group[r]) - gnames.begin());
  }
  const std::size_t folds = o.folds;
  std::vector<FoldSums> fs(folds);
  std::vector<double> mine(3 * rows);  // held-out T², SPE, largest |z|
  std::vector<PcaModel> kept;          // the fold models (FitOptions::fold_models)
  const auto count_kept = [&] {
    const PcaModel& k = kept.back();
    kept_bytes +=
        sizeof(double) * (k.loadings.size() + k.centre.size() + k.scale.size() +
                          k.eigenvalues.size() + k.explained.size() + k.group_centre.size() +
                          k.group_scale.size() + k.fleet_centre.size() + k.fleet_scale.size());
    if (resident + kept_bytes <= o.memory_budget_bytes) return;
    const auto mib = [](std::uint64_t b) { return std::to_string((b + (1u << 20) - 1) >> 20); };
    throw InputError("keeping the " + std::to_string(folds) + " fold models of " +
                     std::to_string(J) + " columns for scoring (--scoring folds, or auto with " +
                     "more columns than half the reference wafers) needs more than " +
                     mib(kept_bytes) + " MiB per rank after " + std::to_string(kept.size()) +
                     " of them, beside " + mib(resident) +
                     " MiB of reference rows and matrix: more than the memory budget (" +
                     mib(o.memory_budget_bytes) +
                     " MiB); raise --memory-budget, fit with --scoring full or choose fewer "
                     "columns (--by-step none, --features)");
  };
  // Grouped: the final model's group statistics, its group-scaled rows and its sums.
  GroupStats final_groups;
  std::vector<double> final_z, grouped_sum, grouped_prod;
  PcaModel grouped_model;
  std::vector<double> d;  // centred rows (ungrouped); the Gram path's final model needs them too
  if (!grouped) {
    // Centred values, a non-finite one imputed by the mean (0): the same bits on every rank.
    d.resize(rows * J);
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t k = 0; k < J; ++k) {
        const double x = local.values[r * C + keep[k]];
        d[r * J + k] = std::isfinite(x) ? x - mean[k] : 0.0;
      }

    // Pass 2, fold by fold (one fold's exact sums in memory at a time).
    {
      std::vector<reduce::ExactSum> acc;
      for (std::size_t f = 0; f < folds; ++f) {
        acc.assign(width, reduce::ExactSum());
        for (std::size_t r = 0; r < rows; ++r) {
          if ((local.first_ordinal + r) % folds != f) continue;
          const double* x = &d[r * J];
          for (std::size_t i = 0; i < J; ++i) {
            acc[i].add(x[i]);
            if (gram) {
              acc[J + i].add_product(x[i], x[i]);
              continue;
            }
            reduce::ExactSum* row = &acc[J + tri(i, i, J)];
            for (std::size_t j = i; j < J; ++j) row[j - i].add_product(x[i], x[j]);
          }
        }
        reduce::allreduce_exact(acc.data(), acc.size(), comm);
        fs[f].n = n / folds + (f < n % folds ? 1 : 0);
        fs[f].sum.resize(J);
        (gram ? fs[f].sq : fs[f].prod).resize(width - J);
        for (std::size_t i = 0; i < J; ++i) fs[f].sum[i] = acc[i].value();
        std::vector<double>& second = gram ? fs[f].sq : fs[f].prod;
        for (std::size_t k = 0; k < second.size(); ++k) second[k] = acc[J + k].value();
      }
    }

    // The held-out statistics: each wafer scored by the model of the folds it is not in.
    {
      std::vector<double> x(J);
      for (std::size_t f = 0; f < folds; ++f) {
        PcaModel split = gram ? gram_of(fs, f, mean, d, local, o, c) : model_of(fs, f, mean, o, c);
        for (std::size_t r = 0; r < rows; ++r) {
          if ((local.first_ordinal + r) % folds != f) continue;
          for (std::size_t k = 0; k < J; ++k) x[k] = local.values[r * C + keep[k]];
          const WaferVerdict v = score_wafer(split, x);
          mine[3 * r] = v.t2;
          mine[3 * r + 1] = v.spe;
          mine[3 * r + 2] = v.zmax;
        }
        if (keep_folds) {
          kept.push_back(std::move(split));
          count_kept();
        }
      }
    }
  } else {
    // Each training set (each fold held out, then none): its own group statistics, the rows
    // scaled by them (a non-finite value stays non-finite: imputed by the centre, 0), the exact
    // sums of the training rows, its model; the held-out rows are scored by it.
    const std::vector<double> zero(J, 0.0);
    std::vector<double> z(rows * J);
    std::vector<reduce::ExactSum> acc;
    for (std::size_t t = 0; t <= folds; ++t) {
      GroupStats gs = group_stats(local, keep, gidx, gnames.size(), t, folds, c);
      auto train = [&](std::size_t r) {
        return t == folds || (local.first_ordinal + r) % folds != t;
      };
      for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t k = 0; k < J; ++k) {
          const double x = local.values[r * C + keep[k]];
          const std::size_t q = gidx[r] * J + k;
          z[r * J + k] = std::isfinite(x) ? (x - gs.centre[q]) / gs.scale[q] : x;
        }
      acc.assign(width, reduce::ExactSum());
      for (std::size_t r = 0; r < rows; ++r) {
        if (!train(r)) continue;
        const double* x = &z[r * J];
        for (std::size_t i = 0; i < J; ++i) {
          const double xi = std::isfinite(x[i]) ? x[i] : 0.0;
          acc[i].add(xi);
          if (gram) {
            acc[J + i].add_product(xi, xi);
            continue;
          }
          reduce::ExactSum* row = &acc[J + tri(i, i, J)];
          for (std::size_t j = i; j < J; ++j)
            row[j - i].add_product(xi, std::isfinite(x[j]) ? x[j] : 0.0);
        }
      }
      reduce::allreduce_exact(acc.data(), acc.size(), comm);
      std::vector<double> sums(J), prods(width - J);
      for (std::size_t i = 0; i < J; ++i) sums[i] = acc[i].value();
      for (std::size_t k = 0; k < prods.size(); ++k) prods[k] = acc[J + k].value();
      const std::uint64_t held = t == folds ? 0 : n / folds + (t < n % folds ? 1 : 0);
      std::vector<char> mask;
      if (gram) {
        mask.resize(rows);
        for (std::size_t r = 0; r < rows; ++r) mask[r] = train(r);
      }
      PcaModel split =
          gram ? detail::gram_model(n - held, zero, sums, prods, z, mask, o.variance_target, comm)
               : model_from_sums(n - held, zero, sums, prods, o.variance_target, 0, comm);
      if (t < folds) {
        for (std::size_t r = 0; r < rows; ++r) {
          if (train(r)) continue;
          const WaferVerdict v = score_wafer(split, std::span<const double>(&z[r * J], J));
          mine[3 * r] = v.t2;
          mine[3 * r + 1] = v.spe;
          mine[3 * r + 2] = v.zmax;
        }
        if (keep_folds) {  // the fold model scales a wafer by its training set's groups
          split.group_centre = gs.centre;
          split.group_scale = gs.scale;
          split.fleet_centre = gs.fleet_centre;
          split.fleet_scale = gs.fleet_scale;
          kept.push_back(std::move(split));
          count_kept();
        }
      } else {
        grouped_model = std::move(split);
        final_groups = std::move(gs);
        final_z = z;
        grouped_sum = std::move(sums);
        if (!gram) grouped_prod = std::move(prods);
      }
    }
  }
  std::vector<double> all(3 * n);
  if (c.mpi()) {
    std::vector<int> counts(c.size), displs(c.size);
    const int count = static_cast<int>(mine.size());
    MPI_Allgather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, comm);
    for (int r = 1; r < c.size; ++r) displs[r] = displs[r - 1] + counts[r - 1];
    MPI_Allgatherv(mine.data(), count, MPI_DOUBLE, all.data(), counts.data(), displs.data(),
                   MPI_DOUBLE, comm);
  } else {
    all = mine;
  }

  PcaModel m = grouped ? std::move(grouped_model)
               : gram  ? gram_of(fs, folds, mean, d, local, o, c)
                       : model_of(fs, folds, mean, o, c);
  for (std::size_t k = 0; k < J; ++k) {
    m.column_sensor.push_back(local.column_sensor[keep[k]]);
    m.column_feature.push_back(local.column_feature[keep[k]]);
    if (!local.column_step.empty()) m.column_step.push_back(local.column_step[keep[k]]);
  }
  if (!m.has_step_columns()) m.column_step.clear();  // a model of whole-wafer columns: v2 as before
  // The values the final model sees: the raw columns, or the group-scaled ones.
  auto value = [&](std::size_t r, std::size_t k) {
    return grouped ? final_z[r * J + k] : local.values[r * C + keep[k]];
  };
  std::vector<double> vlo(J), vhi(J);
  if (grouped) {
    m.origin.assign(J, 0.0);
    if (!gram) {  // a Gram-path model keeps no mergeable sums (J(J+1)/2 of them): sum_n 0
      m.sum_n = n;
      m.sum_d = grouped_sum;
      m.sum_dd = grouped_prod;
    }
    m.group_by = o.group_by;
    m.group_names = gnames;
    m.group_count = final_groups.count;
    m.group_centre = final_groups.centre;
    m.group_scale = final_groups.scale;
    m.fleet_centre = final_groups.fleet_centre;
    m.fleet_scale = final_groups.fleet_scale;
    vlo.assign(J, std::numeric_limits<double>::infinity());
    vhi.assign(J, -std::numeric_limits<double>::infinity());
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t k = 0; k < J; ++k)
        if (std::isfinite(final_z[r * J + k])) {
          vlo[k] = std::min(vlo[k], final_z[r * J + k]);
          vhi[k] = std::max(vhi[k], final_z[r * J + k]);
        }
    c.allreduce(vlo.data(), static_cast<int>(J), MPI_DOUBLE, MPI_MIN);
    c.allreduce(vhi.data(), static_cast<int>(J), MPI_DOUBLE, MPI_MAX);
  } else {
    m.origin = mean;
    if (!gram) m.sum_n = add_folds(fs, folds, J, m.sum_d, m.sum_dd);
    for (std::size_t k = 0; k < J; ++k) {
      vlo[k] = lo[keep[k]];
      vhi[k] = hi[keep[k]];
    }
  }
  // Reference histograms: equal bins over the reference's range cut to centre ± 3 scale (so
  // that one outlier does not squeeze the good wafers into a bin or two); integer counts,
  // all-reduced, the same for any P.
  m.hist_lo.resize(J);
  m.hist_hi.resize(J);
  for (std::size_t k = 0; k < J; ++k) {
    m.hist_lo[k] = std::max(vlo[k], m.centre[k] - 3.0 * m.scale[k]);
    m.hist_hi[k] = std::min(vhi[k], m.centre[k] + 3.0 * m.scale[k]);
  }
  // The same per reference lot, for drift over a few lots (drift.hpp): lots indexed in the
  // sorted union of the ranks' keys, counts all-reduced. Skipped (the method says so) where
  // they would take more than kMaxLotCountBytes.
  bool lots_skipped = false;
  std::vector<std::string> lnames;
  if (!local.lot_by.empty()) {
    lnames = group_union(local.lot, c);
    lots_skipped = lnames.size() * J * kReferenceBins * sizeof(std::uint64_t) > kMaxLotCountBytes;
    if (!lots_skipped) {
      m.lot_by = local.lot_by;
      m.lot_names = lnames;
      m.lot_wafers.assign(lnames.size(), 0);
      m.lot_counts.assign(lnames.size() * J * kReferenceBins, 0);
    }
  }
  // Each value binned once, into the reference's histograms and its lot's.
  m.hist_counts.assign(J * kReferenceBins, 0);
  for (std::size_t r = 0; r < rows; ++r) {
    std::uint64_t* lot = nullptr;
    if (m.has_lot_histograms()) {
      const auto l = static_cast<std::size_t>(
          std::lower_bound(lnames.begin(), lnames.end(), local.lot[r]) - lnames.begin());
      ++m.lot_wafers[l];
      lot = m.lot_counts.data() + l * J * kReferenceBins;
    }
    for (std::size_t k = 0; k < J; ++k) {
      const std::size_t b = reference_bin(m, k, value(r, k));
      if (b >= kReferenceBins) continue;
      ++m.hist_counts[k * kReferenceBins + b];
      if (lot != nullptr) ++lot[k * kReferenceBins + b];
    }
  }
  c.allreduce(m.hist_counts.data(), static_cast<int>(m.hist_counts.size()), MPI_UINT64_T, MPI_SUM);
  if (m.has_lot_histograms()) {
    c.allreduce(m.lot_wafers.data(), static_cast<int>(m.lot_wafers.size()), MPI_UINT64_T, MPI_SUM);
    for (std::size_t a = 0; a < m.lot_counts.size(); a += kAllreduceChunk)
      c.allreduce(m.lot_counts.data() + a,
                  static_cast<int>(std::min(kAllreduceChunk, m.lot_counts.size() - a)),
                  MPI_UINT64_T, MPI_SUM);
  }
  // Limits: T² and SPE, each divided by its held-out median, are combined by their maximum;
  // the conformal (1-A) quantile of that maximum over the held-out wafers is the one limit,
  // so a good wafer the model has not seen is flagged with probability ≤ A (either statistic).
  std::vector<double> t2(n), spe(n), zmax(n), u(n);
  for (std::size_t i = 0; i < n; ++i) {
    t2[i] = all[3 * i];
    spe[i] = all[3 * i + 1];
    zmax[i] = all[3 * i + 2];
  }
  auto median = [](std::vector<double> v) {
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
    const double med = v[v.size() / 2];
    return med > 0.0 ? med : 1.0;
  };
  // With --univariate the largest |z| of a wafer, divided by its held-out median, is a third
  // term of the maximum: one conformal limit for the three, so A holds for the three together.
  const double mt = median(t2), mq = median(spe), mz = median(zmax);
  for (std::size_t i = 0; i < n; ++i)
    u[i] = std::max({t2[i] / mt, spe[i] / mq, o.univariate ? zmax[i] / mz : 0.0});
  bool too_few = false;
  const double limit = conformal_quantile(u, o.false_alarm_rate, &too_few);
  m.t2_limit = limit * mt;
  m.spe_limit = limit * mq;
  m.univariate_limit = o.univariate ? limit * mz : 0.0;
  std::uint64_t over = 0;
  for (double v : u) over += v > limit;
  m.heldout_false_alarm_rate = static_cast<double>(over) / static_cast<double>(n);
  if (too_few)
    m.warning =
        "the reference's " + std::to_string(n) + " wafers cannot calibrate a false-alarm rate of " +
        std::to_string(o.false_alarm_rate) + " (at least " +
        std::to_string(static_cast<std::uint64_t>(std::ceil(1.0 / o.false_alarm_rate)) - 1) +
        " are needed): the limit is the largest held-out value, and the rate is not guaranteed";
  // The final model on its own wafers, for the record (optimistic, unlike the held-out rate).
  std::uint64_t flagged = 0;
  {
    std::vector<double> x(J);
    for (std::size_t r = 0; r < rows; ++r) {
      for (std::size_t k = 0; k < J; ++k) x[k] = value(r, k);
      flagged += score_wafer(m, x).reason != kReasonNone;
    }
  }
  c.allreduce(&flagged, 1, MPI_UINT64_T, MPI_SUM);
  m.insample_false_alarm_rate = static_cast<double>(flagged) / static_cast<double>(n);
  m.false_alarm_rate = o.false_alarm_rate;
  m.variance_target = o.variance_target;
  m.folds = o.folds;
  // The fold models score the wafers (docs/MONITORING.md "fit"): what score_wafer needs of them.
  for (PcaModel& fm : kept) fm.explained.clear();
  m.fold_models = std::move(kept);
  share_with_folds(m);
  m.method =
      gram ? "Gram matrix of the autoscaled reference rows (the wafers' space: " +
                 std::to_string(J) + " columns, " + std::to_string(n) +
                 " wafers; rows gathered on rank 0, column sums exact over ranks), cblas_dsyrk and "
                 "LAPACKE_dsyevd on rank 0 with one OpenBLAS thread, loadings Z'U normalised"
           : "covariance of the autoscaled features (exact sums over ranks), LAPACKE_dsyevd on "
             "rank 0 "
             "with one OpenBLAS thread";
  m.method += "; limits from " + std::to_string(folds) + "-fold cross-validation";
  if (m.fold_scored())
    m.method += "; a wafer scored by the fold model of its index mod " + std::to_string(folds) +
                " (cross-conformal)";
  if (o.univariate)
    m.method += "; a univariate limit on every column's |z|, calibrated with T² and SPE";
  if (grouped)
    m.method += "; each of the " + std::to_string(gnames.size()) + " groups of /wafers/" +
                o.group_by + " centred and scaled by its own statistics first (per training set)";
  if (m.has_lot_histograms())
    m.method += "; reference histograms per lot of /wafers/" + m.lot_by + " (" +
                std::to_string(m.lot_names.size()) + " lots) for drift over a few lots";
  if (lots_skipped)
    m.method += "; no histograms per lot of /wafers/" + local.lot_by + ": more than " +
                std::to_string(kMaxLotCountBytes >> 20) + " MiB";
  return m;
}

}  // namespace wafermill::model
