/// @file generator.hpp
/// @brief Synthetic "wafermill traces v1" files with realistic structure and planted
/// anomalies, deterministic by seed and streamed to disk in bounded memory.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

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
  /// ≥ 0: every planted anomaly lies within this recipe step of its wafer (planted over the
  /// step's rows as it would be over a wafer of that length); a wafer whose step has fewer than
  /// kMinStepAnomalyLength samples gets none. -1: anomalies over the whole wafer.
  std::int64_t anomaly_step = -1;
  bool float64 = false;              ///< sample type
  int gzip_level = 0;                ///< 0: no filter; 1-9: shuffle + deflate
  std::uint64_t chunk_rows = 65536;  ///< HDF5 chunk rows (also the write batch)
  std::uint64_t seed = 1;
  std::uint64_t target_bytes = 0;  ///< if > 0, choose n_wafers so values reach this size
  /// 0: one file at `output`. N ≥ 1: the same wafers split over N files of consecutive wafers
  /// (file k holds wafers [k·W/N, (k+1)·W/N) of the W), named by set_file_name(), and the
  /// manifest set_manifest_name() listing them in order (docs/FORMAT.md "Sets of files").
  std::uint64_t n_files = 0;
  /// Sensors (by name) left out of the file(s): every other column, and every other dataset,
  /// is bitwise what it is without them. /truth/anomaly_sensor counts the columns written
  /// and is -1 where the planted sensor was dropped (the label still says anomalous).
  std::vector<std::string> drop_sensors;
};

/// @brief What was written.
struct GeneratorResult {
  std::uint64_t n_wafers = 0;
  std::uint64_t n_samples = 0;
  std::uint64_t n_anomalous = 0;
  std::uint64_t bytes = 0;         ///< file size (with n_files: all files and the manifest)
  std::vector<std::string> files;  ///< the files written, in wafer order
  std::string manifest;            ///< with n_files: the manifest, else empty
};

/// @brief File k (0-based) of a set of n_files generated for `output`: the output without
/// its ".h5"/".hdf5" extension, "-", k in at least 5 digits (zero-padded; more digits only
/// when n_files > 100000) and the extension (".h5" when the output has none of those):
/// "night.h5" → "night-00000.h5", "night-00001.h5", …
std::string set_file_name(const std::string& output, std::uint64_t k, std::uint64_t n_files);

/// @brief The manifest of a set: the output with ".list" for its ".h5"/".hdf5" extension
/// ("night.h5" → "night.list"). One file name per line, in wafer order, relative to the
/// manifest's directory (the set's files lie beside it).
std::string set_manifest_name(const std::string& output);

/// @brief Writes the file. Anomalies are recorded in /wafers/label (0 good, 1 bad) and
/// /truth/anomaly_kind (0 none, 1 level shift, 2 spikes, 3 drift ramp, 4 noise burst,
/// 5 stuck sensor) with /truth/anomaly_sensor.
/// The file is written as `<output>.tmp.<pid>` and renamed into place when complete. With
/// n_files, every file of the set is written under its temporary name first; they are renamed
/// into place only once all are complete, the manifest last, and a failure removes the set's
/// files renamed so far (an existing manifest is removed before the first rename).
/// @throws UsageError for impossible options (n_files above the wafer count, an unknown or
/// every sensor dropped) or an existing output (any file of a set) without force;
/// HdfError if HDF5 fails while writing; InputError if the final fsync or rename fails
/// (the temporary file is removed in every failing case).
GeneratorResult generate_traces(const GeneratorOptions& options);

}  // namespace wafermill::generate
