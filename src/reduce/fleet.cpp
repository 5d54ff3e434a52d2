/// @file fleet.cpp
/// @brief Per-sensor fleet moments from per-wafer moments, reduced reproducibly over ranks.
///
/// Reproducibility rests on each wafer's contribution being computed from that wafer alone
/// (with a shift every rank shares) and on exact sums across wafers: neither depends on which
/// rank holds a wafer, in which order, or in which block or file, so the result is bitwise the
/// same for any rank count, order and block boundaries (FIELD_NOTES "Reproducible reductions").
#include "wafermill/reduce/fleet.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

namespace wafermill::reduce {

double shift_of_samples(std::span<double> samples) {
  const auto finite_end =
      std::partition(samples.begin(), samples.end(), [](double x) { return std::isfinite(x); });
  const std::size_t n = static_cast<std::size_t>(finite_end - samples.begin());
  if (n == 0) return 0.0;
  const auto mid = samples.begin() + static_cast<std::ptrdiff_t>(n / 2);
  std::nth_element(samples.begin(), mid, finite_end);
  return *mid;
}

FleetMoments::FleetMoments(std::vector<double> shift)
    : shift_(std::move(shift)),
      count_(shift_.size(), 0),
      sums_(4 * shift_.size()),
      lo_(shift_.size(), HUGE_VAL),
      hi_(shift_.size(), -HUGE_VAL) {
  for (double& c : shift_)
    if (!std::isfinite(c)) c = 0.0;
}

void FleetMoments::add(std::span<const Moments> per_wafer) {
  const std::size_t S = shift_.size();
  if (S == 0) {
    if (!per_wafer.empty())
      throw std::invalid_argument("FleetMoments: no sensors, but moments were given");
    return;
  }
  if (per_wafer.size() % S != 0) {
    throw std::invalid_argument("FleetMoments: " + std::to_string(per_wafer.size()) +
                                " moments are not a whole number of rows of " + std::to_string(S) +
                                " sensors");
  }
  const std::size_t rows = per_wafer.size() / S;
  // Sensor by sensor: each wafer's four terms into one array each, then the span adds (the
  // same exact sums as adding them one by one, in a fraction of the time).
  if (terms_.size() < 4 * rows) terms_.resize(4 * rows);
  double* terms = terms_.data();
  for (std::size_t s = 0; s < S; ++s) {
    std::size_t k = 0;
    double lo = lo_[s], hi = hi_[s];
    for (std::size_t w = 0; w < rows; ++w) {
      const Moments& p = per_wafer[w * S + s];
      if (p.n == 0.0) continue;
      // The wafer's samples sit at mean + deviations: expand (dev + d)^k, d = mean - c. Each
      // term is rounded from this wafer's numbers alone, then added exactly. One rounding per
      // term costs no accuracy: the even terms are >= 0, so their rounding errors stay below
      // 2^-52 of the sum; all are far below the rounding the wafer's own moments carry.
      const double d = p.mean - shift_[s];
      const double nd = p.n * d;
      count_[s] += static_cast<std::uint64_t>(p.n);
      terms[k] = nd;
      terms[rows + k] = p.m2 + nd * d;
      terms[2 * rows + k] = p.m3 + d * (3.0 * p.m2 + nd * d);
      terms[3 * rows + k] = p.m4 + d * (4.0 * p.m3 + d * (6.0 * p.m2 + nd * d));
      ++k;
      lo = std::min(lo, p.min);
      hi = std::max(hi, p.max);
    }
    for (std::size_t j = 0; j < 4; ++j)
      sums_[4 * s + j].add(std::span<const double>(terms + j * rows, k));
    lo_[s] = lo;
    hi_[s] = hi;
  }
  wafers_ += rows;
}

std::vector<Moments> FleetMoments::result(MPI_Comm comm) const {
  const std::size_t S = shift_.size();
  std::vector<ExactSum> sums = sums_;
  std::vector<std::uint64_t> count = count_;
  std::vector<double> lo = lo_, hi = hi_;
  allreduce_exact(sums.data(), sums.size(), comm);
  if (comm != MPI_COMM_NULL && S > 0) {
    MPI_Allreduce(MPI_IN_PLACE, count.data(), static_cast<int>(S), MPI_UINT64_T, MPI_SUM, comm);
    MPI_Allreduce(MPI_IN_PLACE, lo.data(), static_cast<int>(S), MPI_DOUBLE, MPI_MIN, comm);
    MPI_Allreduce(MPI_IN_PLACE, hi.data(), static_cast<int>(S), MPI_DOUBLE, MPI_MAX, comm);
  }
  std::vector<Moments> out(S);
  for (std::size_t s = 0; s < S; ++s) {
    if (count[s] == 0) continue;
    const double N = static_cast<double>(count[s]);
    const double s1 = sums[4 * s].value(), s2 = sums[4 * s + 1].value();
    const double s3 = sums[4 * s + 2].value(), s4 = sums[4 * s + 3].value();
    const double a = s1 / N;  // mean - c
    Moments& m = out[s];
    m.n = N;
    m.mean = shift_[s] + a;
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
