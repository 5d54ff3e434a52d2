/// @file percentile.cpp
/// @brief Percentiles by numpy's default ('linear', Hyndman & Fan 1996 definition 7) and the
/// latency summary built on them.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "wafermill/metrics/metrics.hpp"

namespace wafermill::metrics {

double percentile(std::span<const double> values, double p) {
  if (!(p >= 0.0 && p <= 100.0)) {
    throw std::invalid_argument("percentile: p = " + std::to_string(p) + " is outside [0, 100]");
  }
  if (values.empty()) return NAN;
  // numpy propagates NaN; sorting NaN with operator< would also be undefined behaviour.
  if (std::any_of(values.begin(), values.end(), [](double v) { return std::isnan(v); })) return NAN;
  std::vector<double> sorted(values.begin(), values.end());
  std::sort(sorted.begin(), sorted.end());
  // numpy.percentile, method 'linear' (numpy/lib/function_base.py, 1.24): virtual index
  // h = (n - 1) * (p / 100), below = floor(h), gamma = h - below, and _lerp(a, b, gamma) =
  // a + (b - a) * gamma, taken as b - (b - a) * (1 - gamma) when gamma >= 0.5, which keeps
  // the result exact at the upper end.
  const double h = static_cast<double>(sorted.size() - 1) * (p / 100.0);
  const double below = std::floor(h);
  const auto i = static_cast<std::size_t>(below);
  const std::size_t j = std::min(i + 1, sorted.size() - 1);
  const double gamma = h - below;
  const double a = sorted[i];
  const double b = sorted[j];
  const double diff = b - a;
  return gamma >= 0.5 ? b - diff * (1.0 - gamma) : a + diff * gamma;
}

LatencySummary summarize_latencies(std::span<const double> latencies) {
  LatencySummary s;
  s.n = latencies.size();
  if (latencies.empty()) return s;
  double sum = 0.0;
  for (double t : latencies) sum += t;
  s.mean = sum / static_cast<double>(s.n);
  s.p50 = percentile(latencies, 50.0);
  s.p95 = percentile(latencies, 95.0);
  s.p99 = percentile(latencies, 99.0);
  s.max = *std::max_element(latencies.begin(), latencies.end());
  return s;
}

}  // namespace wafermill::metrics
