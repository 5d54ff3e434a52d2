/// @file wafer_sampler.hpp
/// @brief Draws one wafer's samples row by row, so a wafer may span several write
/// batches and still come out the same whatever the batch size.
#pragma once

#include <cstdint>
#include <vector>

#include "fleet_model.hpp"
#include "random.hpp"
#include "wafer_plan.hpp"
#include "wafermill/generate/generator.hpp"

namespace wafermill::generate {

/// @brief The sample model of one wafer. Sensor s in recipe step k, row r, reads
///   base_s + sigma_s · (level_{s,k} + tool_{t,s} + lot_{l,s} + drift_{t,s}(w) + step_s(w)
///                       + transient + e_r + anomaly_r)
/// where the transient (level_{s,k-1} − level_{s,k}) · e^{−r_k / tau_s} settles the
/// change from the previous step (r_k: row within step k) and the noise is AR(1),
/// e_r = phi_s e_{r−1} + sqrt(1 − phi_s²) · noise_{s,k} · Z_r. Afterwards each element
/// is independently replaced, with probability nan_fraction, by NaN (80 %), +Inf (10 %)
/// or −Inf (10 %).
class WaferSampler {
 public:
  /// @brief Prepares wafer plan.index; the fleet and the plan must outlive the sampler.
  WaferSampler(const GeneratorOptions& options, const FleetModel& fleet, const WaferPlan& plan);

  /// @brief Rows of this wafer not yet drawn.
  std::uint64_t remaining() const { return plan_.length - row_; }

  /// @brief Draws the next n ≤ remaining() rows into `values` (row-major, n × n_sensors)
  /// and, when the file has steps, their step numbers into `steps` (n entries; may be
  /// null without steps).
  template <typename T>
  void next_rows(std::uint64_t n, T* values, std::int32_t* steps);

 private:
  double draw(std::size_t s);  // the next value of sensor s at row_, before NaN/Inf
  void enter_step(std::size_t k);

  const FleetModel& fleet_;
  const WaferPlan& plan_;
  Random noise_rng_;
  Random invalid_rng_;
  double invalid_probability_;
  std::uint64_t next_invalid_ = UINT64_MAX;  // element index row · n_sensors + s

  std::uint64_t row_ = 0;
  std::size_t step_ = 0;
  std::uint64_t row_in_step_ = 0;
  std::vector<double> wafer_offset_;  // per sensor: tool + lot + drift + step, in sigmas
  std::vector<double> ar_state_;      // per sensor
  std::size_t next_spike_ = 0;
  double last_value_ = 0.0;  // of the anomalous sensor, for a stuck sensor
  bool frozen_ = false;
  double frozen_value_ = 0.0;
};

}  // namespace wafermill::generate
