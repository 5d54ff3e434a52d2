/// @file generator.hpp
/// @brief Synthetic "wafermill traces v1" files with realistic structure and planted
/// anomalies, deterministic by seed and streamed to disk in bounded memory.
#pragma once

#include <cstdint>
#include <string>

namespace wafermill::generate {

/// @brief What to generate.
struct GeneratorOptions {
  std::string output;  ///< file to write (temp name, then renamed)
  bool force = false;  ///< overwrite an existing output
  std::uint64_t n_wafers = 1000;
  std::uint32_t n_sensors = 16;
  std::uint32_t n_steps = 4;       ///< 0: no /traces/step
  double mean_length = 500.0;      ///< mean samples per wafer
  double length_sigma = 0.5;       ///< lognormal sigma of the lengths (0: all equal)
  double empty_fraction = 0.0;     ///< fraction of wafers with no samples
  double anomaly_fraction = 0.05;  ///< planted anomalous wafers
  double nan_fraction = 0.001;     ///< NaN/Inf samples
  double drift = 0.002;            ///< slow tool drift per wafer, in sensor std units
  /// Night K of a series: the file holds wafers K·n_wafers … (K+1)·n_wafers − 1 of the
  /// fleet's history (their ids, lots, draws and drift), so night K continues night K − 1.
  std::uint64_t night = 0;
  /// If set, `drift` applies to this sensor only (by name), in the same direction on every
  /// tool and without the maintenance reset: drift · (wafer index) sensor sigmas, a slow
  /// drift that grows night over night. Empty: every sensor's per-tool sawtooth.
  std::string drift_sensor;
  /// If set, this sensor (by name) is shifted by step_size sensor sigmas on every wafer from
  /// the first wafer of night step_night on (a step change, e.g. after a part swap).
  std::string step_sensor;
  double step_size = 1.0;
  std::uint64_t step_night = 1;
  bool float64 = false;              ///< sample type
  int gzip_level = 0;                ///< 0: no filter; 1-9: shuffle + deflate
  std::uint64_t chunk_rows = 65536;  ///< HDF5 chunk rows (also the write batch)
  std::uint64_t seed = 1;
  std::uint64_t target_bytes = 0;  ///< if > 0, choose n_wafers so values reach this size
};

/// @brief What was written.
struct GeneratorResult {
  std::uint64_t n_wafers = 0;
  std::uint64_t n_samples = 0;
  std::uint64_t n_anomalous = 0;
  std::uint64_t bytes = 0;  ///< file size
};

/// @brief Writes the file. Anomalies are recorded in /wafers/label (0 good, 1 bad) and
/// /truth/anomaly_kind (0 none, 1 level shift, 2 spikes, 3 drift ramp, 4 noise burst,
/// 5 stuck sensor) with /truth/anomaly_sensor.
/// The file is written as `<output>.tmp.<pid>` and renamed into place when complete.
/// @throws UsageError for impossible options or an existing output without force;
/// HdfError if HDF5 fails while writing; InputError if the final fsync or rename fails
/// (the temporary file is removed in every failing case).
GeneratorResult generate_traces(const GeneratorOptions& options);

}  // namespace wafermill::generate
