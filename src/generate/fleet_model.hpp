/// @file fleet_model.hpp
/// @brief What every wafer of a generated file shares: the sensors and their recipe-step
/// levels, the tools with their offsets and maintenance-cycle drift, lots of 25 wafers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "wafermill/generate/generator.hpp"

namespace wafermill::generate {

/// @brief Wafers per lot (a FOUP holds 25).
inline constexpr std::uint64_t kLotSize = 25;
/// @brief Process tools (chambers) the lots are spread over.
inline constexpr std::uint32_t kToolCount = 4;
/// @brief Wafers between preventive maintenances of a tool; the drift restarts at each.
inline constexpr std::uint64_t kMaintenanceInterval = 500;

/// @brief One sensor: its name, nominal level and noise in engineering units, and how it
/// behaves per recipe step.
struct SensorModel {
  std::string name;
  double base = 0.0;                ///< nominal level
  double sigma = 1.0;               ///< noise scale; every effect below is in these units
  double resolution = 0.125;        ///< samples are multiples of this (a power of two)
  double ar_phi = 0.5;              ///< AR(1) coefficient of the noise
  double settle_samples = 5.0;      ///< time constant of the transient after a step change
  std::vector<double> step_level;   ///< level of step k, in sigmas from base
  std::vector<double> step_noise;   ///< noise multiplier in step k
  std::vector<double> tool_offset;  ///< offset of tool t, in sigmas
  std::vector<double> tool_drift;   ///< drift direction and rate factor of tool t
};

/// @brief Lot-level draws shared by the 25 wafers of a lot.
struct LotModel {
  std::uint32_t tool = 0;
  std::vector<double> offset;  ///< per sensor, in sigmas
};

/// @brief Everything derived from the options and the seed that is not per wafer.
class FleetModel {
 public:
  /// @brief Draws the sensor table, step levels and tool effects from the fleet stream.
  explicit FleetModel(const GeneratorOptions& options);

  /// @brief The sensors, in column order.
  const std::vector<SensorModel>& sensors() const { return sensors_; }
  /// @brief Mean relative duration of each recipe step (sums to 1; empty without steps).
  const std::vector<double>& step_weights() const { return step_weights_; }
  /// @brief The lot of wafer w's lot (lot index w / kLotSize), drawn from its own stream.
  LotModel lot(std::uint64_t lot_index) const;
  /// @brief Tool drift of sensor s on wafer w run on `tool`, in sigmas: a sawtooth that
  /// grows by options.drift per wafer and restarts at each maintenance. The wafer index
  /// stands for time (the fab runs lots in order); each tool has its own maintenance phase.
  /// With options.drift_sensor, only that sensor drifts: drift · wafer on every tool.
  double drift(std::uint64_t wafer, std::uint32_t tool, std::size_t sensor) const;
  /// @brief The planted step of sensor s on wafer w, in sigmas: step_size for the step
  /// sensor from wafer step_night · n_wafers on, else 0.
  double step(std::uint64_t wafer, std::size_t sensor) const;

 private:
  std::uint64_t seed_;
  double drift_per_wafer_;
  static constexpr std::size_t kNoSensor = SIZE_MAX;
  std::size_t drift_sensor_ = kNoSensor;  ///< the only drifting sensor, if named
  std::size_t step_sensor_ = kNoSensor;   ///< the stepped sensor, if named
  double step_size_ = 0.0;
  std::uint64_t step_first_wafer_ = 0;
  std::vector<SensorModel> sensors_;
  std::vector<double> step_weights_;
  std::vector<std::uint64_t> maintenance_phase_;  ///< per tool
};

}  // namespace wafermill::generate
