/// @file divergence.cpp
/// @brief Kullback–Leibler divergence between two histograms.
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "wafermill/metrics/metrics.hpp"

namespace wafermill::metrics {

namespace {

// (x_i + alpha) / Σ (x_j + alpha): additive (Laplace / Lidstone) smoothing, then normalising.
std::vector<double> smoothed_distribution(std::span<const double> x, double alpha, const char* which) {
  double sum = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (!(x[i] >= 0.0) || !std::isfinite(x[i])) {
      throw std::invalid_argument(std::string("kl_divergence: ") + which + "[" + std::to_string(i) +
                                  "] = " + std::to_string(x[i]) + " is not a finite non-negative weight");
    }
    sum += x[i] + alpha;
  }
  if (!(sum > 0.0)) {
    throw std::invalid_argument(std::string("kl_divergence: ") + which + " sums to 0");
  }
  std::vector<double> out(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) out[i] = (x[i] + alpha) / sum;
  return out;
}

}  // namespace

std::vector<double> distribution(std::span<const double> counts) {
  double sum = 0.0;
  for (double c : counts) sum += c;
  std::vector<double> out(counts.begin(), counts.end());
  for (double& c : out) c = sum > 0 ? c / sum : 0.0;
  return out;
}

double kl_divergence(std::span<const double> p, std::span<const double> q, double alpha) {
  if (p.size() != q.size()) {
    throw std::invalid_argument("kl_divergence: p has " + std::to_string(p.size()) + " bins, q " +
                                std::to_string(q.size()));
  }
  if (!(alpha >= 0.0) || !std::isfinite(alpha)) {
    throw std::invalid_argument("kl_divergence: alpha = " + std::to_string(alpha) + " must be >= 0");
  }
  const std::vector<double> ps = smoothed_distribution(p, alpha, "p");
  const std::vector<double> qs = smoothed_distribution(q, alpha, "q");
  // D_KL(P ‖ Q) = Σ p_i ln(p_i / q_i) (Kullback & Leibler 1951; Cover & Thomas, Elements of
  // Information Theory, 2.3), with 0 ln(0 / q) = 0 and p ln(p / 0) = +inf for p > 0.
  double d = 0.0;
  for (std::size_t i = 0; i < ps.size(); ++i) {
    if (ps[i] == 0.0) continue;
    if (qs[i] == 0.0) return std::numeric_limits<double>::infinity();
    d += ps[i] * std::log(ps[i] / qs[i]);
  }
  return d;
}

double population_stability_index(std::span<const double> p, std::span<const double> q, double alpha) {
  if (p.size() != q.size())
    throw std::invalid_argument("population_stability_index: p has " + std::to_string(p.size()) + " bins, q " +
                                std::to_string(q.size()));
  if (!(alpha > 0.0) || !std::isfinite(alpha))
    throw std::invalid_argument("population_stability_index: alpha = " + std::to_string(alpha) + " must be > 0");
  const std::vector<double> ps = smoothed_distribution(p, alpha, "p");
  const std::vector<double> qs = smoothed_distribution(q, alpha, "q");
  // PSI = Σ (p_i − q_i) ln(p_i / q_i) (Yurdakul 2018, "Statistical properties of the population
  // stability index"): every term is ≥ 0; smoothing keeps every p_i, q_i > 0.
  double d = 0.0;
  for (std::size_t i = 0; i < ps.size(); ++i) d += (ps[i] - qs[i]) * std::log(ps[i] / qs[i]);
  return d;
}

}  // namespace wafermill::metrics
