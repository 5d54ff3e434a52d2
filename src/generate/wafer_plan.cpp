#include "wafer_plan.hpp"

#include <algorithm>
#include <cmath>

#include "random.hpp"

namespace wafermill::generate {
namespace {

/// A row in [lo·length, hi·length).
std::uint64_t row_at(Random& rng, std::uint64_t length, double lo, double hi) {
  const auto row = static_cast<std::uint64_t>(rng.uniform(lo, hi) * static_cast<double>(length));
  return std::min(row, length - 1);
}

/// Magnitudes are in sigmas and chosen so that one planted anomaly moves at least one
/// per-sensor feature (mean, std, min/max, kurtosis or slope) by several fleet standard
/// deviations; tests/generate checks that a max-|z| detector finds most of them.
AnomalyPlan plan_anomaly(Random& rng, std::uint32_t n_sensors, std::uint64_t length) {
  AnomalyPlan a;
  a.kind = static_cast<AnomalyKind>(1 + rng.below(5));
  a.sensor = static_cast<std::int32_t>(rng.below(n_sensors));
  a.end = length;
  switch (a.kind) {
    case AnomalyKind::level_shift:
      a.begin = row_at(rng, length, 0.15, 0.45);
      a.magnitude = rng.sign() * rng.uniform(6.0, 10.0);
      break;
    case AnomalyKind::spikes: {
      const std::uint64_t count = 3 + rng.below(8);
      for (std::uint64_t i = 0; i < count; ++i) {
        a.spikes.push_back({rng.below(length), rng.sign() * rng.uniform(10.0, 20.0)});
      }
      std::sort(a.spikes.begin(), a.spikes.end(),
                [](const Spike& x, const Spike& y) { return x.row < y.row; });
      a.begin = a.spikes.front().row;
      a.end = a.spikes.back().row + 1;
      break;
    }
    case AnomalyKind::drift_ramp:
      a.begin = row_at(rng, length, 0.0, 0.25);
      a.magnitude = rng.sign() * rng.uniform(10.0, 16.0);
      break;
    case AnomalyKind::noise_burst: {
      const auto span =
          static_cast<std::uint64_t>(rng.uniform(0.3, 0.6) * static_cast<double>(length));
      a.begin = rng.below(length - span + 1);
      a.end = a.begin + span;
      a.magnitude = rng.uniform(5.0, 8.0);
      break;
    }
    case AnomalyKind::stuck:
      a.begin = row_at(rng, length, 0.05, 0.3);
      break;
    case AnomalyKind::none:
      break;
  }
  return a;
}

}  // namespace

std::uint64_t wafer_length(const GeneratorOptions& options, std::uint64_t wafer) {
  Random rng(options.seed, Stream::length, wafer);
  // Both draws are always taken so that a wafer's length does not depend on whether
  // empty_fraction is zero.
  const double u = rng.uniform();
  const double z = rng.normal();
  if (u < options.empty_fraction) return 0;
  const double sigma = options.length_sigma;
  const double mu = std::log(options.mean_length) - 0.5 * sigma * sigma;
  const double length = std::round(std::exp(mu + sigma * z));
  // Far tails are clamped to keep a single wafer from exhausting memory or disk.
  return static_cast<std::uint64_t>(std::clamp(length, 1.0, 1.0e12));
}

WaferPlan plan_wafer(const GeneratorOptions& options, const FleetModel& fleet, std::uint64_t wafer,
                     std::uint64_t length, double anomaly_probability) {
  Random rng(options.seed, Stream::plan, wafer);
  WaferPlan plan;
  plan.index = wafer;
  plan.length = length;
  plan.lot = wafer / kLotSize;
  plan.tool = fleet.lot(plan.lot).tool;

  // Step k ends at the cumulative share of the recipe weights, each jittered by a factor
  // e^{0.15 Z}: steps keep their order and rough proportions but vary wafer to wafer.
  const auto& weights = fleet.step_weights();
  if (!weights.empty()) {
    std::vector<double> share;
    double total = 0.0;
    for (double w : weights) {
      share.push_back(w * std::exp(0.15 * rng.normal()));
      total += share.back();
    }
    plan.step_begin.push_back(0);
    double cumulative = 0.0;
    for (std::size_t k = 0; k + 1 < share.size(); ++k) {
      cumulative += share[k];
      const auto boundary = static_cast<std::uint64_t>(
          std::llround(cumulative / total * static_cast<double>(length)));
      plan.step_begin.push_back(std::clamp(boundary, plan.step_begin.back(), length));
    }
    plan.step_begin.push_back(length);
  }

  const double u = rng.uniform();
  if (length >= kMinAnomalyLength && u < anomaly_probability) {
    if (options.anomaly_step < 0 || plan.step_begin.empty()) {
      plan.anomaly = plan_anomaly(rng, options.n_sensors, length);
    } else {
      // Within one recipe step: planted over the step's rows, then moved to where it begins.
      const auto k = static_cast<std::size_t>(options.anomaly_step);
      const std::uint64_t b = plan.step_begin[k], e = plan.step_begin[k + 1];
      if (e - b >= kMinStepAnomalyLength) {
        plan.anomaly = plan_anomaly(rng, options.n_sensors, e - b);
        plan.anomaly.begin += b;
        plan.anomaly.end += b;
        for (Spike& s : plan.anomaly.spikes) s.row += b;
      }
    }
  }
  return plan;
}

}  // namespace wafermill::generate
