/// @file scaling.cpp
/// @brief Speedup, efficiency, the Karp–Flatt serial fraction, load balance, and the
/// weighted combined score of the report.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "wafermill/metrics/metrics.hpp"

namespace wafermill::metrics {

Scaling scaling(double t_seq, double t_par, int ranks) {
  if (!(t_seq > 0.0) || !(t_par > 0.0) || !std::isfinite(t_seq) || !std::isfinite(t_par)) {
    throw std::invalid_argument("scaling: wall times must be finite and positive (t_seq = " +
                                std::to_string(t_seq) + ", t_par = " + std::to_string(t_par) + ")");
  }
  if (ranks < 1) throw std::invalid_argument("scaling: ranks = " + std::to_string(ranks) + " < 1");
  Scaling s;
  const double p = static_cast<double>(ranks);
  s.speedup = t_seq / t_par;    // S = T_1 / T_P
  s.efficiency = s.speedup / p;  // E = S / P
  // Karp & Flatt, "Measuring parallel processor performance", CACM 33(5), 1990: the
  // experimentally determined serial fraction e = (1/S - 1/P) / (1 - 1/P), undefined at P = 1.
  if (ranks > 1) s.karp_flatt = (1.0 / s.speedup - 1.0 / p) / (1.0 - 1.0 / p);
  return s;
}

LoadBalance load_balance(std::span<const double> busy_seconds) {
  if (busy_seconds.empty()) throw std::invalid_argument("load_balance: no ranks");
  LoadBalance lb;
  for (std::size_t i = 0; i < busy_seconds.size(); ++i) {
    const double t = busy_seconds[i];
    if (!(t >= 0.0) || !std::isfinite(t)) {
      throw std::invalid_argument("load_balance: busy time of rank " + std::to_string(i) + " = " +
                                  std::to_string(t) + " is not finite and non-negative");
    }
    lb.sum += t;
    lb.max = std::max(lb.max, t);
  }
  lb.mean = lb.sum / static_cast<double>(busy_seconds.size());
  // λ = max / mean (Zoltan2's imbalance); Σ t / max t is the speedup over one rank doing all
  // of the work that the balance alone allows. With no work at all both stay at 1.
  if (lb.max > 0.0) {
    lb.imbalance = lb.max / lb.mean;
    lb.model_speedup = lb.sum / lb.max;
  }
  return lb;
}

std::optional<double> combined_score(std::span<const ScoreTerm> terms) {
  double weighted = 0.0;
  double weights = 0.0;
  for (std::size_t i = 0; i < terms.size(); ++i) {
    const ScoreTerm& t = terms[i];
    if (!(t.weight >= 0.0) || !std::isfinite(t.weight)) {
      throw std::invalid_argument("combined_score: weight of term " + std::to_string(i) + " = " +
                                  std::to_string(t.weight) + " is not finite and non-negative");
    }
    if (!t.value) continue;  // not measured: its weight is spread over the others
    weighted += t.weight * *t.value;
    weights += t.weight;
  }
  if (!(weights > 0.0)) return std::nullopt;
  return weighted / weights;
}

}  // namespace wafermill::metrics
