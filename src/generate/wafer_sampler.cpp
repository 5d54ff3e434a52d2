#include "wafer_sampler.hpp"

#include <cmath>
#include <limits>

namespace wafermill::generate {
namespace {

/// base + sigma·x rounded to the sensor's resolution.
double to_units(const SensorModel& m, double x) {
  return std::nearbyint((m.base + m.sigma * x) / m.resolution) * m.resolution;
}

}  // namespace

WaferSampler::WaferSampler(const GeneratorOptions& options, const FleetModel& fleet,
                           const WaferPlan& plan)
    : fleet_(fleet),
      plan_(plan),
      noise_rng_(options.seed, Stream::samples, plan.index),
      invalid_rng_(options.seed, Stream::invalid, plan.index),
      invalid_probability_(options.nan_fraction) {
  const auto& sensors = fleet.sensors();
  const LotModel lot = fleet.lot(plan.lot);
  wafer_offset_.resize(sensors.size());
  ar_state_.resize(sensors.size());
  for (std::size_t s = 0; s < sensors.size(); ++s) {
    wafer_offset_[s] = sensors[s].tool_offset[plan.tool] + lot.offset[s] +
                       fleet.drift(plan.index, plan.tool, s) + fleet.step(plan.index, s);
    const double noise = sensors[s].step_noise.empty() ? 1.0 : sensors[s].step_noise[0];
    ar_state_[s] = noise * noise_rng_.normal();  // start in the stationary distribution
  }
  if (invalid_probability_ >= 1.0) {
    next_invalid_ = 0;
  } else if (invalid_probability_ > 0.0) {
    next_invalid_ = invalid_rng_.geometric(invalid_probability_);
  }
  if (!plan.step_begin.empty()) enter_step(0);
}

void WaferSampler::enter_step(std::size_t k) {
  step_ = k;
  row_in_step_ = 0;
  // Skip steps that are empty on this (short) wafer.
  while (step_ + 1 < plan_.step_begin.size() - 1 && plan_.step_begin[step_ + 1] <= row_) ++step_;
}

double WaferSampler::draw(std::size_t s) {
  const SensorModel& m = fleet_.sensors()[s];
  const bool has_steps = !m.step_level.empty();
  double level = wafer_offset_[s];
  double noise = 1.0;
  if (has_steps) {
    level += m.step_level[step_];
    noise = m.step_noise[step_];
    // e^{-x} < 1e-6 past 14 time constants: skip the exponential there.
    const double age = static_cast<double>(row_in_step_) / m.settle_samples;
    if (step_ > 0 && age < 14.0) {
      level += (m.step_level[step_ - 1] - m.step_level[step_]) * std::exp(-age);
    }
  }

  const AnomalyPlan& a = plan_.anomaly;
  const bool anomalous = a.sensor == static_cast<std::int32_t>(s);
  if (anomalous && a.kind == AnomalyKind::noise_burst && row_ >= a.begin && row_ < a.end) {
    noise *= a.magnitude;
  }
  double& e = ar_state_[s];
  e = m.ar_phi * e + std::sqrt(1.0 - m.ar_phi * m.ar_phi) * noise * noise_rng_.normal();
  double x = level + e;

  if (anomalous) {
    switch (a.kind) {
      case AnomalyKind::level_shift:
        if (row_ >= a.begin && row_ < a.end) x += a.magnitude;
        break;
      case AnomalyKind::drift_ramp:
        if (row_ >= a.begin && row_ < a.end && a.end - 1 > a.begin) {
          x += a.magnitude * static_cast<double>(row_ - a.begin) /
               static_cast<double>(a.end - 1 - a.begin);
        }
        break;
      case AnomalyKind::spikes:
        while (next_spike_ < a.spikes.size() && a.spikes[next_spike_].row == row_) {
          x += a.spikes[next_spike_++].size;
        }
        break;
      case AnomalyKind::stuck: {
        const double value = to_units(m, x);
        if (row_ >= a.begin && row_ < a.end && row_ > 0) {
          if (!frozen_) {
            frozen_ = true;
            frozen_value_ = last_value_;
          }
          return frozen_value_;
        }
        last_value_ = value;
        return value;
      }
      case AnomalyKind::noise_burst:
      case AnomalyKind::none:
        break;
    }
  }
  return to_units(m, x);
}

template <typename T>
void WaferSampler::next_rows(std::uint64_t n, T* values, std::int32_t* steps) {
  const std::size_t n_sensors = wafer_offset_.size();
  const bool has_steps = !plan_.step_begin.empty();
  for (std::uint64_t i = 0; i < n; ++i, ++row_, ++row_in_step_) {
    if (has_steps && row_ >= plan_.step_begin[step_ + 1] && step_ + 2 < plan_.step_begin.size()) {
      enter_step(step_ + 1);
    }
    T* row = values + i * n_sensors;
    for (std::size_t s = 0; s < n_sensors; ++s) row[s] = static_cast<T>(draw(s));
    if (steps != nullptr && has_steps) steps[i] = static_cast<std::int32_t>(step_);

    // Replace the elements picked by the geometric gaps of a Bernoulli(p) process.
    const std::uint64_t row_end = (row_ + 1) * n_sensors;
    while (next_invalid_ < row_end) {
      const double kind = invalid_rng_.uniform();
      T bad = std::numeric_limits<T>::quiet_NaN();
      if (kind >= 0.9) {
        bad = -std::numeric_limits<T>::infinity();
      } else if (kind >= 0.8) {
        bad = std::numeric_limits<T>::infinity();
      }
      row[next_invalid_ - row_ * n_sensors] = bad;
      next_invalid_ = invalid_probability_ >= 1.0
                          ? next_invalid_ + 1
                          : next_invalid_ + 1 + invalid_rng_.geometric(invalid_probability_);
    }
  }
}

template void WaferSampler::next_rows<float>(std::uint64_t, float*, std::int32_t*);
template void WaferSampler::next_rows<double>(std::uint64_t, double*, std::int32_t*);

}  // namespace wafermill::generate
