/// @file backend.hpp
/// @brief The feature backend interface (CPU, CUDA), the chunk of rows it consumes and the
/// block of per-wafer results it fills.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "wafermill/features/feature_set.hpp"
#include "wafermill/reduce/moments.hpp"

namespace wafermill::features {

/// @brief Element type of the sample buffer (the file's own type: no conversion on read).
enum class SampleType : std::uint8_t { float32, float64 };

/// @brief What a run extracts: shape of the result arrays.
struct FeatureLayout {
  std::size_t n_sensors = 0;  ///< sensors in the file
  std::size_t n_steps = 0;    ///< recipe steps; 0 when the file has no /traces/step
  FeatureSet features = FeatureSet::all();
};

/// @brief Rows of whole wafers [first_wafer, first_wafer + n_wafers()) held in memory,
/// for the sensor columns [first_sensor, first_sensor + n_columns).
struct TraceChunk {
  std::uint64_t first_wafer = 0;
  /// Absolute row offsets of the chunk's wafers: n_wafers() + 1 entries, as in the file.
  std::span<const std::uint64_t> offsets;
  SampleType type = SampleType::float32;
  /// Row-major [offsets.back() - offsets.front(), n_columns] samples of `type`; row 0 is
  /// the file's row offsets.front().
  const void* values = nullptr;
  std::size_t first_sensor = 0;
  std::size_t n_columns = 0;
  /// Recipe step of each row (same rows as values), or empty when the file has no steps.
  /// Values are already validated to lie in [0, n_steps).
  std::span<const std::int32_t> steps;

  /// @brief Number of wafers in the chunk.
  std::uint64_t n_wafers() const { return offsets.empty() ? 0 : offsets.size() - 1; }
  /// @brief Number of rows in the chunk.
  std::uint64_t n_rows() const { return offsets.empty() ? 0 : offsets.back() - offsets.front(); }
};

/// @brief Per-wafer results for the wafers [first_wafer, first_wafer + n_wafers).
/// Arrays are row-major; F = layout.features.size(), S = n_sensors, K = n_steps.
struct FeatureBlock {
  std::uint64_t first_wafer = 0;
  std::uint64_t n_wafers = 0;
  FeatureLayout layout;
  std::vector<double> values;            ///< [n_wafers, S, F]
  std::vector<double> by_step;           ///< [n_wafers, K, S, F]; empty when K == 0
  std::vector<reduce::Moments> moments;  ///< [n_wafers, S]: each wafer-sensor segment
  /// [n_wafers]: backend time per wafer, summed over the extract() calls since reset() (a
  /// wafer processed one sensor column at a time gets the time of all its columns).
  std::vector<double> compute_seconds;

  /// @brief Sizes the arrays for n wafers starting at `first`: features NaN, moments empty,
  /// compute_seconds 0.
  void reset(std::uint64_t first, std::uint64_t n, const FeatureLayout& l);
  /// @brief Pointer to the F features of (wafer, sensor); wafer is global.
  double* at(std::uint64_t wafer, std::size_t sensor);
  /// @brief Pointer to the F features of (wafer, step, sensor); wafer is global.
  double* at_step(std::uint64_t wafer, std::size_t step, std::size_t sensor);
};

/// @brief A feature extractor. Implementations: CpuBackend (features/cpu_backend.cpp) and
/// CudaBackend (features/cuda/), chosen by name through make_backend().
class FeatureBackend {
 public:
  virtual ~FeatureBackend() = default;
  /// @brief "cpu" or "cuda".
  virtual std::string_view name() const = 0;
  /// @brief Computes features and moments of every (wafer, sensor in the chunk's columns)
  /// and, when the layout has steps, of every (wafer, step, sensor). Writes into `out`,
  /// which the caller sized to cover the chunk's wafers. Results for one segment are
  /// bitwise the same however the wafers are grouped into chunks.
  virtual void extract(const TraceChunk& chunk, FeatureBlock& out) = 0;
  /// @brief Seconds the device spent computing (kernel time) since construction; the CPU
  /// backend reports its compute time.
  virtual double busy_seconds() const = 0;
  /// @brief Bytes of rows the caller may hand over at a time with no loss (wafers are
  /// independent, so any grouping gives the same bits): a CPU backend takes a few hundred KiB,
  /// which stay in cache between a caller's pass over them (the result store's content hash)
  /// and the extraction; 0 (the default) means whole chunks (a device wants them large).
  virtual std::uint64_t slice_bytes() const { return 0; }
};

/// @brief Options that pick and tune a backend.
struct BackendOptions {
  std::string name = "cpu";                        ///< "cpu", "cuda" or "auto"
  int device = -1;                                 ///< CUDA device; -1: node-local rank
  std::uint64_t device_memory_bytes = 1ULL << 30;  ///< bound on device buffers
  /// CPU backend: bound on the median's buffers (a third holds copied columns; a longer
  /// column is selected in place). The job gives it an eighth of --memory-budget.
  std::uint64_t host_scratch_bytes = 16ULL << 20;
};

/// @brief Builds the backend `options.name` for `layout`.
/// @throws UsageError for an unknown name, or "cuda" when this build or machine has none.
std::unique_ptr<FeatureBackend> make_backend(const BackendOptions& options,
                                             const FeatureLayout& layout);

/// @brief The CPU backend, always available; its median buffers stay within
/// scratch_bytes (BackendOptions::host_scratch_bytes).
std::unique_ptr<FeatureBackend> make_cpu_backend(const FeatureLayout& layout,
                                                 std::uint64_t scratch_bytes = 16ULL << 20);

/// @brief Number of CUDA devices visible to this process (0 in a CPU-only build).
int cuda_device_count();

}  // namespace wafermill::features
