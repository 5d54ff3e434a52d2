/// @file metrics.hpp
/// @brief Timers, memory high-water marks, latency percentiles, KL divergence and the scaling
/// figures of the report. Formulas and sources: docs/METRICS.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <optional>
#include <span>
#include <vector>

namespace wafermill::metrics {

/// @brief Seconds on a monotonic clock since an arbitrary epoch.
double now_seconds();

/// @brief Measures elapsed seconds; accumulates into a double on stop().
class Stopwatch {
 public:
  Stopwatch() : start_(now_seconds()) {}
  /// @brief Seconds since construction or the last restart().
  double elapsed() const { return now_seconds() - start_; }
  /// @brief Restarts and returns the seconds that had elapsed.
  double restart() {
    const double t = now_seconds();
    const double e = t - start_;
    start_ = t;
    return e;
  }

 private:
  double start_;
};

/// @brief Adds the seconds of a scope to a counter.
class ScopedTimer {
 public:
  explicit ScopedTimer(double& sink) : sink_(sink) {}
  ~ScopedTimer() { sink_ += watch_.elapsed(); }
  ScopedTimer(const ScopedTimer&) = delete;
  ScopedTimer& operator=(const ScopedTimer&) = delete;

 private:
  double& sink_;
  Stopwatch watch_;
};

/// @brief This process's peak resident set (VmHWM, bytes), 0 if unknown.
std::uint64_t peak_rss_bytes();
/// @brief This process's current resident set (VmRSS, bytes), 0 if unknown.
std::uint64_t current_rss_bytes();
/// @brief The current UTC time as ISO 8601, e.g. "2026-11-21T22:40:00Z" (reports, locks).
std::string utc_now();
/// @brief This machine's host name (reports, messages and lock files).
std::string host_name();

/// @brief Percentile p (0..100) with linear interpolation between closest ranks (numpy's
/// default). Sorts a copy. NaN for an empty input or one holding a NaN (as numpy).
/// @throws std::invalid_argument if p is outside [0, 100] or NaN.
double percentile(std::span<const double> values, double p);

/// @brief Latency figures of a run, seconds.
struct LatencySummary {
  std::uint64_t n = 0;
  double mean = 0.0, p50 = 0.0, p95 = 0.0, p99 = 0.0, max = 0.0;
};
/// @brief Summary of per-wafer latencies; all zero (n = 0) for an empty input.
LatencySummary summarize_latencies(std::span<const double> latencies);

/// @brief counts / Σ counts: the shares of each bin (all 0 when the counts sum to 0).
std::vector<double> distribution(std::span<const double> counts);

/// @brief D_KL(p ‖ q) = Σ p_i log(p_i / q_i), natural log. Both are normalised to sum 1
/// after additive (Laplace) smoothing with `alpha` added to every bin of both; alpha = 0
/// uses them as given, and then a bin with p_i > 0 and q_i == 0 gives +inf; bins with
/// p_i == 0 contribute 0. @throws std::invalid_argument on different sizes, negative or
/// non-finite entries, a negative alpha or zero sums (an empty input sums to 0).
double kl_divergence(std::span<const double> p, std::span<const double> q, double alpha = 0.0);
/// @brief Population stability index of two histograms, Σ (p_i − q_i) ln(p_i / q_i) after the
/// same additive smoothing as kl_divergence (the symmetric KL, KL(p‖q) + KL(q‖p)).
/// @throws std::invalid_argument as kl_divergence.
double population_stability_index(std::span<const double> p, std::span<const double> q, double alpha);

/// @brief The scaling figures of a parallel run against the sequential baseline.
struct Scaling {
  double speedup = 0.0;        ///< S = T_seq / T_par
  double efficiency = 0.0;     ///< S / P
  std::optional<double> karp_flatt;  ///< e = (1/S - 1/P) / (1 - 1/P), P > 1
};
/// @brief Scaling figures from the two wall times and P. @throws std::invalid_argument if a
/// time is not finite and positive or ranks < 1.
Scaling scaling(double t_seq, double t_par, int ranks);

/// @brief Busy-time figures over ranks (the analysis's task model).
struct LoadBalance {
  double sum = 0.0;        ///< Σ t_i
  double max = 0.0;        ///< max t_i
  double mean = 0.0;
  double imbalance = 1.0;  ///< λ = max / mean (1 is perfect)
  double model_speedup = 1.0;  ///< Σ t_i / max t_i: speedup that the balance alone allows
};
/// @brief Load-balance figures of per-rank busy times (imbalance and model_speedup stay 1
/// when every time is 0). @throws std::invalid_argument on an empty input or a negative or
/// non-finite time.
LoadBalance load_balance(std::span<const double> busy_seconds);

/// @brief One term of the combined score: its weight and value, absent when not measured.
struct ScoreTerm {
  double weight = 0.0;
  std::optional<double> value;
};
/// @brief Σ w_i v_i / Σ w_i over the terms that have a value (weights renormalised).
/// nullopt when no term has a value or their weights sum to 0.
/// @throws std::invalid_argument on a negative or non-finite weight.
std::optional<double> combined_score(std::span<const ScoreTerm> terms);

}  // namespace wafermill::metrics
