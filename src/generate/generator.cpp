/// @file generator.cpp
/// @brief generate_traces: checks the options, draws every wafer's length, then streams the
/// samples through one chunk-sized buffer into a temporary file renamed into place at the end.
#include "wafermill/generate/generator.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <system_error>
#include <vector>

#include "fleet_model.hpp"
#include "trace_file_writer.hpp"
#include "wafer_plan.hpp"
#include "wafer_sampler.hpp"
#include "wafermill/error.hpp"
#include "wafermill/format/atomic_output.hpp"

namespace wafermill::generate {
namespace {

namespace fs = std::filesystem;

/// Wafers whose /wafers and /truth entries are buffered before one write.
constexpr std::size_t kWaferBatchSize = 65536;
/// Largest chunk the format accepts (docs/FORMAT.md, validation rule 3).
constexpr std::uint64_t kMaxChunkBytes = 256ULL << 20;

void require(bool ok, const std::string& what) {
  if (!ok) throw UsageError("generate: " + what);
}

bool is_fraction(double x) { return std::isfinite(x) && x >= 0.0 && x <= 1.0; }

void check_options(const GeneratorOptions& o) {
  require(!o.output.empty(), "an output file is required");
  require(o.n_sensors >= 1, "--sensors must be at least 1");
  require(o.n_wafers >= 1 || o.target_bytes > 0, "--wafers must be at least 1");
  require(std::isfinite(o.mean_length) && o.mean_length >= 1.0,
          "--mean-length must be at least 1 sample");
  require(std::isfinite(o.length_sigma) && o.length_sigma >= 0.0 && o.length_sigma <= 4.0,
          "--length-sigma must be in [0, 4]");
  require(is_fraction(o.empty_fraction) && o.empty_fraction < 1.0,
          "--empty-fraction must be in [0, 1)");
  require(is_fraction(o.anomaly_fraction), "--anomaly-fraction must be in [0, 1]");
  require(is_fraction(o.nan_fraction), "--nan-fraction must be in [0, 1]");
  require(std::isfinite(o.drift) && std::abs(o.drift) <= 1.0, "--drift must be in [-1, 1]");
  require(o.drift_sensor.empty() ||
              o.drift * static_cast<double>(o.night + 1) * static_cast<double>(o.n_wafers) <= 1e6,
          "--drift × wafers × (--night + 1) must be at most 1e6 sigmas");
  require(std::isfinite(o.step_size) && std::abs(o.step_size) <= 1e3,
          "--step-size must be in [-1000, 1000] sigmas");
  require(o.night <= (1ULL << 40) / std::max<std::uint64_t>(1, o.n_wafers) &&
              o.step_night <= (1ULL << 40) / std::max<std::uint64_t>(1, o.n_wafers),
          "--night and --step-night times --wafers must be at most 2^40");
  require(o.gzip_level >= 0 && o.gzip_level <= 9, "--gzip must be in [0, 9]");
  require(o.n_steps <= 1024, "--steps must be at most 1024");
  require(o.chunk_rows >= 1, "--chunk-rows must be at least 1");
  const std::uint64_t elem = o.float64 ? 8 : 4;
  require(o.chunk_rows <= kMaxChunkBytes / (elem * o.n_sensors),
          "--chunk-rows × sensors × value size must be at most 256 MiB (docs/FORMAT.md)");
}

/// Wafers whose expected values reach target_bytes: target / (E[length] · row bytes), with
/// E[length] = mean_length · (1 − empty_fraction).
std::uint64_t wafers_for_target(const GeneratorOptions& o) {
  const double row_bytes = static_cast<double>(o.n_sensors) * (o.float64 ? 8.0 : 4.0);
  const double per_wafer = o.mean_length * (1.0 - o.empty_fraction) * row_bytes;
  return std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(std::llround(static_cast<double>(o.target_bytes) / per_wafer)));
}

/// Row offsets from every wafer's length; also counts the wafers long enough to carry an
/// anomaly.
std::vector<std::int64_t> draw_offsets(const GeneratorOptions& o, std::uint64_t& n_eligible) {
  std::vector<std::int64_t> offsets(o.n_wafers + 1, 0);
  n_eligible = 0;
  std::uint64_t total = 0;
  const std::uint64_t first = o.night * o.n_wafers;
  for (std::uint64_t w = 0; w < o.n_wafers; ++w) {
    const std::uint64_t length = wafer_length(o, first + w);
    if (length >= kMinAnomalyLength) ++n_eligible;
    require(total <= (1ULL << 62) - length, "the requested file has more than 2^62 samples");
    total += length;
    offsets[w + 1] = static_cast<std::int64_t>(total);
  }
  return offsets;
}

void record(WaferBatch& batch, const WaferPlan& plan) {
  const AnomalyPlan& a = plan.anomaly;
  const bool bad = a.kind != AnomalyKind::none;
  batch.lot_id.push_back(static_cast<std::int64_t>(plan.lot));
  batch.wafer_id.push_back(static_cast<std::int64_t>(plan.index));
  batch.tool_id.push_back(plan.tool);
  batch.label.push_back(bad ? 1 : 0);
  batch.anomaly_kind.push_back(static_cast<std::uint8_t>(a.kind));
  batch.anomaly_sensor.push_back(a.sensor);
  batch.anomaly_begin.push_back(bad ? static_cast<std::int64_t>(a.begin) : -1);
  batch.anomaly_end.push_back(bad ? static_cast<std::int64_t>(a.end) : -1);
}

/// Draws every wafer in order into one buffer of chunk_rows rows, written whenever it is
/// full, so memory stays at one chunk whatever the file size; returns the anomalous count.
template <typename T>
std::uint64_t write_samples(TraceFileWriter& writer, const GeneratorOptions& o,
                            const FleetModel& fleet, const std::vector<std::int64_t>& offsets,
                            double anomaly_probability) {
  const std::uint64_t batch_rows = o.chunk_rows;
  std::vector<T> values(batch_rows * o.n_sensors);
  std::vector<std::int32_t> steps(o.n_steps > 0 ? batch_rows : 0);
  std::uint64_t batch_first_row = 0;
  std::uint64_t filled = 0;
  auto flush_rows = [&] {
    writer.write_rows<T>(batch_first_row, filled, values, steps);
    batch_first_row += filled;
    filled = 0;
  };

  WaferBatch wafers;
  std::uint64_t batch_first_wafer = 0;
  std::uint64_t n_anomalous = 0;
  const std::uint64_t first = o.night * o.n_wafers;  // the night's first wafer of the fleet
  for (std::uint64_t w = 0; w < o.n_wafers; ++w) {
    const auto length = static_cast<std::uint64_t>(offsets[w + 1] - offsets[w]);
    const WaferPlan plan = plan_wafer(o, fleet, first + w, length, anomaly_probability);
    if (plan.anomaly.kind != AnomalyKind::none) ++n_anomalous;
    record(wafers, plan);

    WaferSampler sampler(o, fleet, plan);
    while (sampler.remaining() > 0) {
      const std::uint64_t take = std::min(sampler.remaining(), batch_rows - filled);
      sampler.next_rows(take, values.data() + filled * o.n_sensors,
                        steps.empty() ? nullptr : steps.data() + filled);
      filled += take;
      if (filled == batch_rows) flush_rows();
    }
    if (wafers.size() == kWaferBatchSize) {
      writer.write_wafers(batch_first_wafer, wafers);
      batch_first_wafer += wafers.size();
      wafers.clear();
    }
  }
  flush_rows();
  writer.write_wafers(batch_first_wafer, wafers);
  return n_anomalous;
}

}  // namespace

GeneratorResult generate_traces(const GeneratorOptions& options) {
  check_options(options);
  GeneratorOptions o = options;
  if (o.target_bytes > 0) o.n_wafers = wafers_for_target(o);

  const fs::path output(o.output);
  std::error_code ec;
  require(!fs::is_directory(output, ec), o.output + " is a directory");
  const fs::path parent = output.has_parent_path() ? output.parent_path() : fs::path(".");
  require(fs::is_directory(parent, ec), "directory " + parent.string() + " does not exist");

  std::uint64_t n_eligible = 0;
  const std::vector<std::int64_t> offsets = draw_offsets(o, n_eligible);
  const auto n_samples = static_cast<std::uint64_t>(offsets.back());
  // Only wafers of kMinAnomalyLength samples or more carry anomalies; raising their
  // probability keeps the planted share of all wafers at anomaly_fraction where possible.
  const double anomaly_probability =
      n_eligible == 0 ? 0.0
                      : std::min(1.0, o.anomaly_fraction * static_cast<double>(o.n_wafers) /
                                          static_cast<double>(n_eligible));

  const FleetModel fleet(o);
  std::vector<std::string> sensor_names;
  for (const SensorModel& s : fleet.sensors()) sensor_names.push_back(s.name);

  // Refuses an existing output without force; removes the temporary file on any failure.
  format::AtomicOutput atomic(o.output, o.force);
  TraceFileWriter writer(atomic.temp_path(), o, n_samples, sensor_names);
  writer.write_offsets(offsets);
  const std::uint64_t n_anomalous =
      o.float64 ? write_samples<double>(writer, o, fleet, offsets, anomaly_probability)
                : write_samples<float>(writer, o, fleet, offsets, anomaly_probability);
  writer.write_run_attributes(o, n_anomalous);
  writer.close();
  atomic.commit();

  GeneratorResult result;
  result.n_wafers = o.n_wafers;
  result.n_samples = n_samples;
  result.n_anomalous = n_anomalous;
  result.bytes = fs::file_size(output);
  return result;
}

}  // namespace wafermill::generate
