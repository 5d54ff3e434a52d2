#include "wafermill/model/fleet_calibration.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

namespace wafermill::model {

std::uint64_t conformal_rank(std::uint64_t n, double a) {
  if (!(a > 0.0 && a < 1.0))
    throw std::invalid_argument("conformal_rank: the false-alarm rate must be in (0, 1)");
  // ⌈(n+1)(1−a)⌉ = (n+1) − ⌊(n+1)a⌋ for integer n+1: one rounding (of the product) instead of two.
  const double m = static_cast<double>(n + 1);
  return (n + 1) - static_cast<std::uint64_t>(std::floor(m * a));
}

std::uint64_t smallest_calibration_set(double a) {
  if (!(a > 0.0 && a < 1.0))
    throw std::invalid_argument("smallest_calibration_set: the false-alarm rate must be in (0, 1)");
  // n + 1 ≥ 1/a in exact terms is conformal_rank(n, a) ≤ n: start from the real bound and let
  // the rank decide the rounding either way.
  auto n = static_cast<std::uint64_t>(std::max(1.0, std::ceil(1.0 / a - 1.0)));
  while (conformal_rank(n, a) > n) ++n;
  while (n > 1 && conformal_rank(n - 1, a) <= n - 1) --n;
  return n;
}

std::uint64_t order_key(double x) {
  if (x == 0.0) x = 0.0;  // −0 → +0
  if (std::isnan(x)) return std::numeric_limits<std::uint64_t>::max();
  const std::uint64_t b = std::bit_cast<std::uint64_t>(x);
  constexpr std::uint64_t sign = 1ULL << 63;
  return (b & sign) ? ~b : (b | sign);
}

double exact_order_statistic(std::span<const double> local, std::uint64_t k, MPI_Comm comm) {
  std::uint64_t n = local.size();
  if (comm != MPI_COMM_NULL) MPI_Allreduce(MPI_IN_PLACE, &n, 1, MPI_UINT64_T, MPI_SUM, comm);
  if (k == 0 || k > n)
    throw std::invalid_argument("exact_order_statistic: rank " + std::to_string(k) +
                                " outside 1.." + std::to_string(n));
  constexpr int kBits = 16;
  constexpr std::size_t kBins = std::size_t{1} << kBits;
  std::vector<std::uint64_t> keys(local.size());
  for (std::size_t i = 0; i < local.size(); ++i) keys[i] = order_key(local[i]);
  // Radix select from the top digit: the prefix (the digits fixed so far) and the rank left within
  // the values that share it.
  std::uint64_t prefix = 0;
  std::vector<std::uint64_t> hist(kBins);
  for (int shift = 64 - kBits; shift >= 0; shift -= kBits) {
    std::fill(hist.begin(), hist.end(), 0);
    const int above = shift + kBits;  // bits already fixed sit above this position
    for (const std::uint64_t key : keys)
      if (above == 64 || (key >> above) == (prefix >> above)) ++hist[(key >> shift) & (kBins - 1)];
    if (comm != MPI_COMM_NULL)
      MPI_Allreduce(MPI_IN_PLACE, hist.data(), static_cast<int>(kBins), MPI_UINT64_T, MPI_SUM,
                    comm);
    std::size_t bin = 0;
    while (hist[bin] < k) k -= hist[bin++];
    prefix |= static_cast<std::uint64_t>(bin) << shift;
  }
  // The value back from its key (order_key is one-to-one on everything but −0 and the NaNs).
  if (prefix == std::numeric_limits<std::uint64_t>::max())
    return std::numeric_limits<double>::quiet_NaN();
  constexpr std::uint64_t sign = 1ULL << 63;
  return std::bit_cast<double>((prefix & sign) ? (prefix & ~sign) : ~prefix);
}

FleetCalibration calibrate_fleet_scores(std::span<double> scores, std::span<std::uint8_t> flags,
                                        std::span<const std::uint8_t> ranked, double a, bool apply,
                                        MPI_Comm comm) {
  if (scores.size() != flags.size() || scores.size() != ranked.size())
    throw std::invalid_argument("calibrate_fleet_scores: scores, flags and ranked wafers differ");
  std::vector<double> ref;
  for (std::size_t i = 0; i < scores.size(); ++i)
    if (ranked[i]) ref.push_back(scores[i]);
  FleetCalibration c;
  std::uint64_t counts[2] = {ref.size(), 0};
  for (const std::uint8_t f : flags) counts[1] += f != 0;
  if (comm != MPI_COMM_NULL) MPI_Allreduce(MPI_IN_PLACE, counts, 2, MPI_UINT64_T, MPI_SUM, comm);
  c.reference = counts[0];
  c.flagged_parametric = counts[1];
  c.rank = conformal_rank(c.reference, a);
  if (c.rank > c.reference) {
    c.quantile = std::numeric_limits<double>::quiet_NaN();
    return c;
  }
  c.quantile = exact_order_statistic(ref, c.rank, comm);
  if (!apply || !(c.quantile > 1.0)) return c;
  c.factor = c.quantile;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    scores[i] /= c.factor;
    flags[i] = scores[i] > 1.0 ? 1 : 0;
  }
  return c;
}

}  // namespace wafermill::model
