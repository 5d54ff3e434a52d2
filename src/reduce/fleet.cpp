/// @file fleet.cpp
/// @brief Block partials of per-sensor moments and their reproducible reduction over ranks.
///
/// Reproducibility rests on a fixed order inside a block (wafers folded left to right) and
/// exact sums across blocks: neither depends on which rank computed a block or when, so the
/// result is bitwise the same for any rank count and order (FIELD_NOTES "Reproducible
/// reductions").
#include "wafermill/reduce/fleet.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace wafermill::reduce {

std::vector<Moments> fold_wafers(std::span<const Moments> per_wafer, std::size_t n_sensors) {
  if (n_sensors == 0) {
    if (!per_wafer.empty()) throw std::invalid_argument("fold_wafers: n_sensors is 0 but moments were given");
    return {};
  }
  if (per_wafer.size() % n_sensors != 0) {
    throw std::invalid_argument("fold_wafers: " + std::to_string(per_wafer.size()) +
                                " moments are not a whole number of rows of " +
                                std::to_string(n_sensors) + " sensors");
  }
  std::vector<Moments> folded(n_sensors);
  const std::size_t n_wafers = per_wafer.size() / n_sensors;
  for (std::size_t w = 0; w < n_wafers; ++w) {
    for (std::size_t s = 0; s < n_sensors; ++s) {
      folded[s] = merge(folded[s], per_wafer[w * n_sensors + s]);
    }
  }
  return folded;
}

void FleetMoments::add_block(std::span<const Moments> partial) {
  if (partial.size() != n_sensors_) {
    throw std::invalid_argument("FleetMoments: a block partial has " + std::to_string(partial.size()) +
                                " sensors, expected " + std::to_string(n_sensors_));
  }
  partials_.insert(partials_.end(), partial.begin(), partial.end());
}

std::vector<Moments> FleetMoments::result(MPI_Comm comm) const {
  const std::size_t S = n_sensors_;
  const std::uint64_t B = blocks();
  // (1) Counts, exact Σ n_b·mean_b, min and max: the shift c per sensor.
  std::vector<ExactSum> first(2 * S);
  std::vector<double> lo(S, HUGE_VAL), hi(S, -HUGE_VAL);
  for (std::uint64_t b = 0; b < B; ++b)
    for (std::size_t s = 0; s < S; ++s) {
      const Moments& p = partials_[b * S + s];
      if (p.n == 0.0) continue;
      first[2 * s].add(p.n);
      first[2 * s + 1].add_product(p.n, p.mean);
      lo[s] = std::min(lo[s], p.min);
      hi[s] = std::max(hi[s], p.max);
    }
  allreduce_exact(first.data(), first.size(), comm);
  if (comm != MPI_COMM_NULL && S > 0) {
    MPI_Allreduce(MPI_IN_PLACE, lo.data(), static_cast<int>(S), MPI_DOUBLE, MPI_MIN, comm);
    MPI_Allreduce(MPI_IN_PLACE, hi.data(), static_cast<int>(S), MPI_DOUBLE, MPI_MAX, comm);
  }
  std::vector<double> n(S), c(S);
  for (std::size_t s = 0; s < S; ++s) {
    n[s] = first[2 * s].value();
    c[s] = n[s] > 0.0 ? first[2 * s + 1].value() / n[s] : 0.0;
  }
  // (2) Per block, Σ (x - c)^k from its central moments (a block's samples sit at
  // mean_b + deviations: expand (dev + d)^k, d = mean_b - c), each term added exactly.
  std::vector<ExactSum> shifted(4 * S);
  for (std::uint64_t b = 0; b < B; ++b)
    for (std::size_t s = 0; s < S; ++s) {
      const Moments& p = partials_[b * S + s];
      if (p.n == 0.0) continue;
      const double d = p.mean - c[s];
      ExactSum* t = &shifted[4 * s];
      t[0].add_product(p.n, d);
      t[1].add(p.m2);
      t[1].add_product(p.n * d, d);
      t[2].add(p.m3);
      t[2].add_product(3.0 * d, p.m2);
      t[2].add_product(p.n * d * d, d);
      t[3].add(p.m4);
      t[3].add_product(4.0 * d, p.m3);
      t[3].add_product(6.0 * d * d, p.m2);
      t[3].add_product(p.n * d * d * d, d);
    }
  allreduce_exact(shifted.data(), shifted.size(), comm);
  std::vector<Moments> out(S);
  for (std::size_t s = 0; s < S; ++s) {
    if (n[s] == 0.0) continue;
    const double N = n[s];
    const double s1 = shifted[4 * s].value(), s2 = shifted[4 * s + 1].value();
    const double s3 = shifted[4 * s + 2].value(), s4 = shifted[4 * s + 3].value();
    const double a = s1 / N;  // mean - c
    Moments& m = out[s];
    m.n = N;
    m.mean = c[s] + a;
    // Central moments about the mean from power sums about c (binomial expansion).
    m.m2 = s2 - s1 * a;
    m.m3 = s3 - 3.0 * a * s2 + 2.0 * a * a * s1;
    m.m4 = s4 - 4.0 * a * s3 + 6.0 * a * a * s2 - 3.0 * a * a * a * s1;
    m.min = lo[s];
    m.max = hi[s];
  }
  return out;
}

}  // namespace wafermill::reduce
