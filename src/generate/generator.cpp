/// @file generator.cpp
/// @brief generate_traces: checks the options, draws every wafer's length, then streams the
/// samples through one chunk-sized buffer into a temporary file renamed into place at the end
/// (with n_files, into one temporary file per file of the set, all renamed at the end).
#include "wafermill/generate/generator.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <utility>
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
  require(o.anomaly_step < 0 || o.anomaly_step < static_cast<std::int64_t>(o.n_steps),
          "--anomaly-step must be a recipe step below --steps (or -1: the whole wafer)");
  require(o.chunk_rows >= 1, "--chunk-rows must be at least 1");
  const std::uint64_t elem = o.float64 ? 8 : 4;
  require(o.chunk_rows <= kMaxChunkBytes / (elem * o.n_sensors),
          "--chunk-rows × sensors × value size must be at most 256 MiB (docs/FORMAT.md)");
  // Bounds k·(W mod N) < N² of the split below to 64 bits.
  require(o.n_files <= (1ULL << 31), "--files must be at most 2^31");
  for (std::size_t i = 0; i < o.drop_sensors.size(); ++i) {
    require(std::find(o.drop_sensors.begin(), o.drop_sensors.begin() + static_cast<long>(i),
                      o.drop_sensors[i]) == o.drop_sensors.begin() + static_cast<long>(i),
            "--drop-sensor names " + o.drop_sensors[i] + " twice");
  }
  require(o.drop_sensors.size() < o.n_sensors, "--drop-sensor would leave no sensor");
}

/// The columns written: the fleet's sensors less the dropped ones, in fleet order.
struct Columns {
  std::vector<std::string> names;
  std::vector<std::size_t> kept;     ///< fleet sensor of each column
  std::vector<std::int32_t> column;  ///< column of each fleet sensor, or -1 if dropped
  bool dropping() const { return kept.size() < column.size(); }
};

Columns written_columns(const GeneratorOptions& o, const FleetModel& fleet) {
  Columns c;
  std::string all;
  for (const SensorModel& s : fleet.sensors()) all += (all.empty() ? "" : ", ") + s.name;
  for (const std::string& name : o.drop_sensors) {
    const bool known = std::any_of(fleet.sensors().begin(), fleet.sensors().end(),
                                   [&](const SensorModel& s) { return s.name == name; });
    require(known, "--drop-sensor " + name + ": no such sensor (the file's sensors: " + all + ")");
  }
  for (std::size_t s = 0; s < fleet.sensors().size(); ++s) {
    const std::string& name = fleet.sensors()[s].name;
    const bool dropped =
        std::find(o.drop_sensors.begin(), o.drop_sensors.end(), name) != o.drop_sensors.end();
    c.column.push_back(dropped ? -1 : static_cast<std::int32_t>(c.kept.size()));
    if (!dropped) {
      c.kept.push_back(s);
      c.names.push_back(name);
    }
  }
  return c;
}

/// Wafers whose expected values reach target_bytes: target / (E[length] · row bytes), with
/// E[length] = mean_length · (1 − empty_fraction).
std::uint64_t wafers_for_target(const GeneratorOptions& o) {
  const double row_bytes =
      static_cast<double>(o.n_sensors - o.drop_sensors.size()) * (o.float64 ? 8.0 : 4.0);
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

void record(WaferBatch& batch, const WaferPlan& plan, const Columns& columns) {
  const AnomalyPlan& a = plan.anomaly;
  const bool bad = a.kind != AnomalyKind::none;
  batch.lot_id.push_back(static_cast<std::int64_t>(plan.lot));
  batch.wafer_id.push_back(static_cast<std::int64_t>(plan.index));
  batch.tool_id.push_back(plan.tool);
  batch.label.push_back(bad ? 1 : 0);
  batch.anomaly_kind.push_back(static_cast<std::uint8_t>(a.kind));
  batch.anomaly_sensor.push_back(a.sensor >= 0 ? columns.column[static_cast<std::size_t>(a.sensor)]
                                               : a.sensor);
  batch.anomaly_begin.push_back(bad ? static_cast<std::int64_t>(a.begin) : -1);
  batch.anomaly_end.push_back(bad ? static_cast<std::int64_t>(a.end) : -1);
}

/// Draws the wafers of one file in order into one buffer of up to chunk_rows rows (fewer
/// when the file has fewer), written whenever it is full, so memory stays at one chunk
/// whatever the file size; returns the anomalous count. `offsets` are the set's offsets of the
/// file's wafers (n + 1 entries), `first` the set's number of its first wafer.
template <typename T>
std::uint64_t write_samples(TraceFileWriter& writer, const GeneratorOptions& o,
                            const FleetModel& fleet, const Columns& columns,
                            std::span<const std::int64_t> offsets, std::uint64_t first,
                            double anomaly_probability) {
  const std::uint64_t n_wafers = offsets.size() - 1;
  const auto file_rows = static_cast<std::uint64_t>(offsets.back() - offsets.front());
  const std::uint64_t batch_rows = std::clamp<std::uint64_t>(file_rows, 1, o.chunk_rows);
  std::vector<T> values(batch_rows * o.n_sensors);
  std::vector<std::int32_t> steps(o.n_steps > 0 ? batch_rows : 0);
  std::uint64_t batch_first_row = 0;
  std::uint64_t filled = 0;
  auto flush_rows = [&] {
    if (columns.dropping()) {
      // Rows close up in place: column j of row r moves to r·kept + j, never past its source.
      const std::size_t n_kept = columns.kept.size();
      for (std::uint64_t r = 0; r < filled; ++r) {
        for (std::size_t j = 0; j < n_kept; ++j) {
          values[r * n_kept + j] = values[r * o.n_sensors + columns.kept[j]];
        }
      }
    }
    writer.write_rows<T>(batch_first_row, filled, values, steps);
    batch_first_row += filled;
    filled = 0;
  };

  WaferBatch wafers;
  std::uint64_t batch_first_wafer = 0;
  std::uint64_t n_anomalous = 0;
  // The fleet's index of the file's first wafer.
  const std::uint64_t fleet_first = o.night * o.n_wafers + first;
  for (std::uint64_t w = 0; w < n_wafers; ++w) {
    const auto length = static_cast<std::uint64_t>(offsets[w + 1] - offsets[w]);
    const WaferPlan plan = plan_wafer(o, fleet, fleet_first + w, length, anomaly_probability);
    if (plan.anomaly.kind != AnomalyKind::none) ++n_anomalous;
    record(wafers, plan, columns);

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

/// What every file of a run shares.
struct Plan {
  const GeneratorOptions& o;
  const FleetModel& fleet;
  const Columns& columns;
  const std::vector<std::int64_t>& offsets;  ///< of the whole set
  double anomaly_probability;
};

/// Writes the set's wafers [part.first_wafer, + part.n_wafers) as one complete file at
/// `path`; returns its anomalous count.
std::uint64_t write_file(const std::string& path, const Plan& plan, const SetPart& part) {
  const std::span<const std::int64_t> offsets(plan.offsets.data() + part.first_wafer,
                                              part.n_wafers + 1);
  const auto n_samples = static_cast<std::uint64_t>(offsets.back() - offsets.front());
  TraceFileWriter writer(path, plan.o, part.n_wafers, n_samples, plan.columns.names);
  if (offsets.front() == 0) {
    writer.write_offsets(offsets);
  } else {
    std::vector<std::int64_t> own(offsets.begin(), offsets.end());
    for (std::int64_t& x : own) x -= offsets.front();
    writer.write_offsets(own);
  }
  const std::uint64_t n_anomalous =
      plan.o.float64 ? write_samples<double>(writer, plan.o, plan.fleet, plan.columns, offsets,
                                             part.first_wafer, plan.anomaly_probability)
                     : write_samples<float>(writer, plan.o, plan.fleet, plan.columns, offsets,
                                            part.first_wafer, plan.anomaly_probability);
  writer.write_run_attributes(plan.o, n_anomalous, part);
  writer.close();
  return n_anomalous;
}

/// The extension a set's names keep, and the output without it.
std::pair<std::string, std::string> split_extension(const std::string& output) {
  const fs::path p(output);
  const std::string ext = p.extension().string();
  if (ext == ".h5" || ext == ".hdf5") {
    return {output.substr(0, output.size() - ext.size()), ext};
  }
  return {output, ".h5"};
}

/// Writes every file of the set under its temporary name, then the manifest, then renames
/// them all into place (the manifest last); a failing rename removes those renamed before.
void write_set(const Plan& plan, GeneratorResult& result) {
  const GeneratorOptions& o = plan.o;
  const std::uint64_t n_files = o.n_files;
  // Every name is checked (and refused if it exists without force) before anything is written.
  std::vector<std::unique_ptr<format::AtomicOutput>> outputs;
  outputs.reserve(n_files);
  for (std::uint64_t k = 0; k < n_files; ++k) {
    outputs.push_back(
        std::make_unique<format::AtomicOutput>(set_file_name(o.output, k, n_files), o.force));
  }
  format::AtomicOutput manifest(set_manifest_name(o.output), o.force);

  const std::uint64_t w = o.n_wafers;
  auto first_wafer = [&](std::uint64_t k) {  // k·W/N without overflow: k·(W mod N) < N²
    return k * (w / n_files) + k * (w % n_files) / n_files;
  };
  {
    std::ofstream list(manifest.temp_path(), std::ios::trunc);
    for (std::uint64_t k = 0; k < n_files; ++k) {
      SetPart part;
      part.n_files = n_files;
      part.index = k;
      part.first_wafer = first_wafer(k);
      part.n_wafers = first_wafer(k + 1) - part.first_wafer;
      result.n_anomalous += write_file(outputs[k]->temp_path(), plan, part);
      list << fs::path(outputs[k]->final_path()).filename().string() << '\n';
    }
    list.close();
    if (!list) throw InputError(manifest.temp_path() + ": cannot write the manifest");
  }

  std::error_code ec;
  // No manifest may list a set that is half old, half new.
  if (fs::exists(manifest.final_path(), ec) && !fs::remove(manifest.final_path(), ec)) {
    throw InputError(manifest.final_path() + ": cannot remove the old manifest: " + ec.message());
  }
  std::size_t renamed = 0;
  try {
    for (; renamed < outputs.size(); ++renamed) outputs[renamed]->commit();
    manifest.commit();
  } catch (...) {
    for (std::size_t k = 0; k < renamed; ++k) fs::remove(outputs[k]->final_path(), ec);
    fs::remove(manifest.final_path(), ec);
    throw;
  }
  for (const auto& out : outputs) {
    result.files.push_back(out->final_path());
    result.bytes += fs::file_size(out->final_path());
  }
  result.manifest = manifest.final_path();
  result.bytes += fs::file_size(result.manifest);
}

}  // namespace

std::string set_file_name(const std::string& output, std::uint64_t k, std::uint64_t n_files) {
  const auto [base, ext] = split_extension(output);
  std::string number = std::to_string(k);
  const std::size_t width = std::max<std::size_t>(5, std::to_string(n_files - 1).size());
  if (number.size() < width) number.insert(0, width - number.size(), '0');
  return base + "-" + number + ext;
}

std::string set_manifest_name(const std::string& output) {
  return split_extension(output).first + ".list";
}

GeneratorResult generate_traces(const GeneratorOptions& options) {
  check_options(options);
  GeneratorOptions o = options;
  if (o.target_bytes > 0) o.n_wafers = wafers_for_target(o);
  require(o.n_files <= o.n_wafers, "--files " + std::to_string(o.n_files) + " is more than the " +
                                       std::to_string(o.n_wafers) +
                                       " wafers: every file of a set holds at least one wafer");

  const fs::path output(o.output);
  std::error_code ec;
  require(!fs::is_directory(output, ec), o.output + " is a directory");
  const fs::path parent = output.has_parent_path() ? output.parent_path() : fs::path(".");
  require(fs::is_directory(parent, ec), "directory " + parent.string() + " does not exist");

  std::uint64_t n_eligible = 0;
  const std::vector<std::int64_t> offsets = draw_offsets(o, n_eligible);
  // Only wafers of kMinAnomalyLength samples or more carry anomalies; raising their
  // probability keeps the planted share of all wafers at anomaly_fraction where possible.
  // It is the whole set's, so a wafer is the same in one file or split over several.
  const double anomaly_probability =
      n_eligible == 0 ? 0.0
                      : std::min(1.0, o.anomaly_fraction * static_cast<double>(o.n_wafers) /
                                          static_cast<double>(n_eligible));

  const FleetModel fleet(o);
  const Columns columns = written_columns(o, fleet);
  const Plan plan{o, fleet, columns, offsets, anomaly_probability};

  GeneratorResult result;
  result.n_wafers = o.n_wafers;
  result.n_samples = static_cast<std::uint64_t>(offsets.back());
  if (o.n_files > 0) {
    write_set(plan, result);
    return result;
  }
  // Refuses an existing output without force; removes the temporary file on any failure.
  format::AtomicOutput atomic(o.output, o.force);
  SetPart whole;
  whole.n_wafers = o.n_wafers;
  result.n_anomalous = write_file(atomic.temp_path(), plan, whole);
  atomic.commit();
  result.files.push_back(o.output);
  result.bytes = fs::file_size(output);
  return result;
}

}  // namespace wafermill::generate
