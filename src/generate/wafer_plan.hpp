/// @file wafer_plan.hpp
/// @brief Per-wafer decisions taken before any sample is drawn: length, lot and tool,
/// recipe-step boundaries and the planted anomaly. Each depends only on the seed, the
/// wafer index and (for anomalies) one fleet-wide probability, never on other wafers.
#pragma once

#include <cstdint>
#include <vector>

#include "fleet_model.hpp"
#include "wafermill/generate/generator.hpp"

namespace wafermill::generate {

/// @brief The kinds recorded in /truth/anomaly_kind.
enum class AnomalyKind : std::uint8_t {
  none = 0,
  level_shift = 1,  ///< the sensor jumps and stays shifted to the end of the trace
  spikes = 2,       ///< a few isolated samples far from the level
  drift_ramp = 3,   ///< a linear ramp from some point to the end
  noise_burst = 4,  ///< a stretch with several times the usual noise
  stuck = 5,        ///< the sensor repeats one value from some point to the end
};

/// @brief Shortest wafer that can carry a planted anomaly: below this the per-wafer
/// statistics are too noisy for an anomaly to be told from chance.
inline constexpr std::uint64_t kMinAnomalyLength = 64;

/// @brief Shortest recipe step that carries an anomaly planted with `--anomaly-step`.
inline constexpr std::uint64_t kMinStepAnomalyLength = 8;

/// @brief One isolated spike.
struct Spike {
  std::uint64_t row = 0;  ///< within the wafer
  double size = 0.0;      ///< in sigmas, signed
};

/// @brief A planted anomaly on one sensor of one wafer (rows are within the wafer).
struct AnomalyPlan {
  AnomalyKind kind = AnomalyKind::none;
  std::int32_t sensor = -1;
  std::uint64_t begin = 0;    ///< first affected row
  std::uint64_t end = 0;      ///< one past the last affected row
  double magnitude = 0.0;     ///< shift or ramp end in sigmas (signed), or noise multiplier
  std::vector<Spike> spikes;  ///< sorted by row
};

/// @brief Everything about wafer w except its samples.
struct WaferPlan {
  std::uint64_t index = 0;
  std::uint64_t length = 0;
  std::uint64_t lot = 0;
  std::uint32_t tool = 0;
  std::vector<std::uint64_t> step_begin;  ///< n_steps + 1 row boundaries (empty: no steps)
  AnomalyPlan anomaly;
};

/// @brief Samples of wafer w: 0 with probability empty_fraction, else
/// round(exp(mu + sigma·Z)) ≥ 1 with mu = ln(mean_length) − sigma²/2, so that the
/// lognormal's mean is mean_length (E[e^{mu+sigma Z}] = e^{mu + sigma²/2}).
std::uint64_t wafer_length(const GeneratorOptions& options, std::uint64_t wafer);

/// @brief Plans wafer w of the given length. `anomaly_probability` applies to wafers of at
/// least kMinAnomalyLength samples (the caller scales it so that about anomaly_fraction of
/// all wafers are planted).
WaferPlan plan_wafer(const GeneratorOptions& options, const FleetModel& fleet, std::uint64_t wafer,
                     std::uint64_t length, double anomaly_probability);

}  // namespace wafermill::generate
