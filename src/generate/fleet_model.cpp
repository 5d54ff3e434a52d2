#include "fleet_model.hpp"

#include <array>
#include <cmath>
#include <string_view>

#include "random.hpp"
#include "wafermill/error.hpp"

namespace wafermill::generate {
namespace {

/// Nominal levels and noise of a plasma-etch chamber's usual sensors (illustrative
/// magnitudes in each sensor's engineering unit); sensors beyond the table get
/// "sensor_<i>" with a drawn level.
struct SensorSpec {
  std::string_view name;
  double base;
  double sigma;
};
constexpr std::array<SensorSpec, 16> kSensorTable = {{
    {"chamber_pressure_mtorr", 45.0, 0.4},
    {"rf_forward_power_w", 1200.0, 6.0},
    {"rf_reflected_power_w", 12.0, 0.8},
    {"dc_bias_v", -350.0, 3.0},
    {"esc_temperature_c", 60.0, 0.25},
    {"wall_temperature_c", 80.0, 0.3},
    {"gas_flow_ar_sccm", 200.0, 1.2},
    {"gas_flow_cf4_sccm", 80.0, 0.6},
    {"gas_flow_o2_sccm", 20.0, 0.2},
    {"throttle_valve_pct", 35.0, 0.5},
    {"he_backside_torr", 10.0, 0.08},
    {"match_load_cap_pct", 52.0, 0.35},
    {"match_tune_cap_pct", 47.0, 0.35},
    {"endpoint_oes_counts", 3000.0, 25.0},
    {"lid_temperature_c", 70.0, 0.3},
    {"chiller_flow_lpm", 8.0, 0.05},
}};

}  // namespace

FleetModel::FleetModel(const GeneratorOptions& options)
    : seed_(options.seed), drift_per_wafer_(options.drift) {
  Random rng(options.seed, Stream::fleet, 0);
  const std::uint32_t n_steps = options.n_steps;

  // Recipe steps take different shares of the trace: weights in [0.5, 1.5), normalised.
  double total = 0.0;
  for (std::uint32_t k = 0; k < n_steps; ++k) {
    step_weights_.push_back(rng.uniform(0.5, 1.5));
    total += step_weights_.back();
  }
  for (double& w : step_weights_) w /= total;

  sensors_.resize(options.n_sensors);
  for (std::uint32_t s = 0; s < options.n_sensors; ++s) {
    SensorModel& m = sensors_[s];
    if (s < kSensorTable.size()) {
      m.name = kSensorTable[s].name;
      m.base = kSensorTable[s].base;
      m.sigma = kSensorTable[s].sigma;
    } else {
      m.name = "sensor_" + std::to_string(s);
      m.base = rng.uniform(10.0, 1000.0);
      m.sigma = m.base * rng.uniform(0.002, 0.02);
    }
    // The logged resolution: the power of two nearest sigma/8, as an ADC count scaled by a
    // binary factor. Values are exact multiples of it, which also lets shuffle+deflate
    // compress the low mantissa bits away.
    m.resolution = std::exp2(std::round(std::log2(m.sigma / 8.0)));
    m.ar_phi = rng.uniform(0.3, 0.8);
    m.settle_samples = rng.uniform(3.0, 12.0);
    // Step levels within ±1.5 sigmas of nominal and noise ×0.6–1.6: steps are visible in
    // the trace without dwarfing the wafer-to-wafer effects.
    for (std::uint32_t k = 0; k < n_steps; ++k) {
      m.step_level.push_back(rng.uniform(-1.5, 1.5));
      m.step_noise.push_back(rng.uniform(0.6, 1.6));
    }
    // Tools differ by about 0.3 sigma; each drifts in its own direction at 0.5–1× the
    // nominal rate.
    for (std::uint32_t t = 0; t < kToolCount; ++t) {
      m.tool_offset.push_back(0.3 * rng.normal());
      m.tool_drift.push_back(rng.sign() * rng.uniform(0.5, 1.0));
    }
  }
  for (std::uint32_t t = 0; t < kToolCount; ++t) {
    maintenance_phase_.push_back(rng.below(kMaintenanceInterval));
  }
  // The planted drift and step sensors, by name (after every draw, so naming them changes
  // no other value of the file).
  auto sensor_named = [&](const std::string& name, const char* option) {
    std::string names;
    for (std::size_t s = 0; s < sensors_.size(); ++s) {
      if (sensors_[s].name == name) return s;
      names += (s ? ", " : "") + sensors_[s].name;
    }
    throw UsageError(std::string("generate: ") + option + " " + name +
                     ": no such sensor (the file's sensors: " + names + ")");
  };
  if (!options.drift_sensor.empty())
    drift_sensor_ = sensor_named(options.drift_sensor, "--drift-sensor");
  if (!options.step_sensor.empty()) {
    step_sensor_ = sensor_named(options.step_sensor, "--step-sensor");
    step_size_ = options.step_size;
    step_first_wafer_ = options.step_night * options.n_wafers;
  }
}

LotModel FleetModel::lot(std::uint64_t lot_index) const {
  Random rng(seed_, Stream::lot, lot_index);
  LotModel lot;
  lot.tool = static_cast<std::uint32_t>(rng.below(kToolCount));
  lot.offset.reserve(sensors_.size());
  // Incoming-material variation: about 0.15 sigma from lot to lot.
  for (std::size_t s = 0; s < sensors_.size(); ++s) lot.offset.push_back(0.15 * rng.normal());
  return lot;
}

double FleetModel::drift(std::uint64_t wafer, std::uint32_t tool, std::size_t sensor) const {
  if (drift_sensor_ != kNoSensor)
    return sensor == drift_sensor_ ? drift_per_wafer_ * static_cast<double>(wafer) : 0.0;
  const std::uint64_t since_maintenance = (wafer + maintenance_phase_[tool]) % kMaintenanceInterval;
  return drift_per_wafer_ * static_cast<double>(since_maintenance) *
         sensors_[sensor].tool_drift[tool];
}

double FleetModel::step(std::uint64_t wafer, std::size_t sensor) const {
  return sensor == step_sensor_ && wafer >= step_first_wafer_ ? step_size_ : 0.0;
}

}  // namespace wafermill::generate
