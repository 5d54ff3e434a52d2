#include "trace_file_writer.hpp"

#include <algorithm>

#include "fleet_model.hpp"
#include "untimed_objects.hpp"

namespace wafermill::generate {

namespace h5 = format::h5;

void WaferBatch::clear() {
  lot_id.clear();
  wafer_id.clear();
  tool_id.clear();
  label.clear();
  anomaly_kind.clear();
  anomaly_sensor.clear();
  anomaly_begin.clear();
  anomaly_end.clear();
}

TraceFileWriter::TraceFileWriter(const std::string& path, const GeneratorOptions& options,
                                 std::uint64_t n_wafers, std::uint64_t n_samples,
                                 const std::vector<std::string>& sensor_names)
    : path_(path),
      n_sensors_(static_cast<std::uint32_t>(sensor_names.size())),
      file_(create_untimed_file(path)) {
  file_.write_string_attribute("format", "wafermill traces v1");

  h5::Group traces = create_untimed_group(file_, "traces");
  // Chunks of chunk_rows whole rows, so each write batch fills whole chunks (the layer
  // clamps a chunk to the dataset and leaves a dataset without rows contiguous).
  h5::DatasetOptions rows_layout;
  rows_layout.chunk = {options.chunk_rows, n_sensors_};
  rows_layout.deflate_level = options.gzip_level;
  // Uncompressed values are allocated at once, in order and page-aligned, so readers map them
  // in place instead of copying (docs/BENCHMARKS.md "Item 3").
  rows_layout.no_fill = options.gzip_level == 0;
  values_ =
      create_untimed_dataset(traces, "values", options.float64 ? h5::Elem::f64 : h5::Elem::f32,
                             {n_samples, n_sensors_}, rows_layout);
  values_.write_strings_attribute("sensor_names", sensor_names);
  offsets_ = create_untimed_dataset(traces, "offsets", h5::Elem::i64, {n_wafers + 1});
  if (options.n_steps > 0) {
    h5::DatasetOptions step_layout;
    step_layout.chunk = {options.chunk_rows};
    step_layout.deflate_level = options.gzip_level;
    has_steps_ = true;
    steps_ = create_untimed_dataset(traces, "step", h5::Elem::i32, {n_samples}, step_layout);
    steps_.write_int_attribute("n_steps", options.n_steps);
  }

  const std::uint64_t n = n_wafers;
  h5::Group wafers = create_untimed_group(file_, "wafers");
  h5::Group truth = create_untimed_group(file_, "truth");
  wafer_columns_.push_back(create_untimed_dataset(wafers, "lot_id", h5::Elem::i64, {n}));
  wafer_columns_.push_back(create_untimed_dataset(wafers, "wafer_id", h5::Elem::i64, {n}));
  wafer_columns_.push_back(create_untimed_dataset(wafers, "tool_id", h5::Elem::i64, {n}));
  wafer_columns_.push_back(create_untimed_dataset(wafers, "label", h5::Elem::u8, {n}));
  wafer_columns_.push_back(create_untimed_dataset(truth, "anomaly_kind", h5::Elem::u8, {n}));
  wafer_columns_.push_back(create_untimed_dataset(truth, "anomaly_sensor", h5::Elem::i32, {n}));
  wafer_columns_.push_back(create_untimed_dataset(truth, "anomaly_begin", h5::Elem::i64, {n}));
  wafer_columns_.push_back(create_untimed_dataset(truth, "anomaly_end", h5::Elem::i64, {n}));
  wafer_columns_[4].write_string_attribute(
      "kinds", "0 none, 1 level shift, 2 spikes, 3 drift ramp, 4 noise burst, 5 stuck sensor");
}

template <typename T>
void TraceFileWriter::write_rows(std::uint64_t first_row, std::uint64_t n_rows,
                                 std::span<const T> values, std::span<const std::int32_t> steps) {
  if (n_rows == 0) return;
  values_.write(values.first(n_rows * n_sensors_), {first_row, 0}, {n_rows, n_sensors_});
  if (has_steps_) steps_.write(steps.first(n_rows), {first_row}, {n_rows});
}

template void TraceFileWriter::write_rows<float>(std::uint64_t, std::uint64_t,
                                                 std::span<const float>,
                                                 std::span<const std::int32_t>);
template void TraceFileWriter::write_rows<double>(std::uint64_t, std::uint64_t,
                                                  std::span<const double>,
                                                  std::span<const std::int32_t>);

void TraceFileWriter::write_wafers(std::uint64_t first_wafer, const WaferBatch& batch) {
  const std::uint64_t n = batch.size();
  if (n == 0) return;
  auto put = [&](std::size_t column, const auto& data) {
    wafer_columns_[column].write(std::span(data.data(), data.size()), {first_wafer}, {n});
  };
  put(0, batch.lot_id);
  put(1, batch.wafer_id);
  put(2, batch.tool_id);
  put(3, batch.label);
  put(4, batch.anomaly_kind);
  put(5, batch.anomaly_sensor);
  put(6, batch.anomaly_begin);
  put(7, batch.anomaly_end);
}

void TraceFileWriter::write_offsets(std::span<const std::int64_t> offsets) {
  offsets_.write_all(offsets);
}

void TraceFileWriter::write_run_attributes(const GeneratorOptions& o, std::uint64_t n_anomalous,
                                           const SetPart& part) {
  // Everything needed to regenerate the file. The seed is stored as the int64 with the
  // same bits (seeds above 2^63 read back negative).
  file_.write_string_attribute("generator", "wafermill generate");
  file_.write_int_attribute("generator_seed", static_cast<std::int64_t>(o.seed));
  file_.write_int_attribute("generator_n_wafers", static_cast<std::int64_t>(o.n_wafers));
  file_.write_int_attribute("generator_n_sensors", o.n_sensors);
  file_.write_int_attribute("generator_n_steps", o.n_steps);
  file_.write_double_attribute("generator_mean_length", o.mean_length);
  file_.write_double_attribute("generator_length_sigma", o.length_sigma);
  file_.write_double_attribute("generator_empty_fraction", o.empty_fraction);
  file_.write_double_attribute("generator_anomaly_fraction", o.anomaly_fraction);
  file_.write_double_attribute("generator_nan_fraction", o.nan_fraction);
  file_.write_double_attribute("generator_drift", o.drift);
  file_.write_int_attribute("generator_night", static_cast<std::int64_t>(o.night));
  // The fleet's index of the file's first wafer (generator_n_wafers is the whole set's).
  file_.write_int_attribute("generator_first_wafer",
                            static_cast<std::int64_t>(o.night * o.n_wafers + part.first_wafer));
  file_.write_string_attribute("generator_drift_sensor", o.drift_sensor);
  file_.write_string_attribute("generator_step_sensor", o.step_sensor);
  file_.write_double_attribute("generator_step_size", o.step_size);
  file_.write_int_attribute("generator_step_night", static_cast<std::int64_t>(o.step_night));
  file_.write_string_attribute("generator_value_type", o.float64 ? "float64" : "float32");
  file_.write_int_attribute("generator_gzip_level", o.gzip_level);
  file_.write_int_attribute("generator_chunk_rows", static_cast<std::int64_t>(o.chunk_rows));
  file_.write_int_attribute("generator_lot_size", static_cast<std::int64_t>(kLotSize));
  file_.write_int_attribute("generator_n_tools", kToolCount);
  file_.write_int_attribute("generator_maintenance_interval",
                            static_cast<std::int64_t>(kMaintenanceInterval));
  file_.write_int_attribute("generator_n_anomalous", static_cast<std::int64_t>(n_anomalous));
  if (o.anomaly_step >= 0) file_.write_int_attribute("generator_anomaly_step", o.anomaly_step);
  if (!o.drop_sensors.empty()) {
    std::string dropped;
    for (const std::string& name : o.drop_sensors) dropped += (dropped.empty() ? "" : ",") + name;
    file_.write_string_attribute("generator_dropped_sensors", dropped);
  }
  if (part.n_files > 0) {
    file_.write_int_attribute("generator_n_files", static_cast<std::int64_t>(part.n_files));
    file_.write_int_attribute("generator_file_index", static_cast<std::int64_t>(part.index));
    file_.write_int_attribute("generator_file_first_wafer",
                              static_cast<std::int64_t>(part.first_wafer));
    file_.write_int_attribute("generator_file_n_wafers", static_cast<std::int64_t>(part.n_wafers));
  }
}

void TraceFileWriter::close() {
  // Datasets first: File::close refuses while objects of the file are still open.
  values_ = h5::Dataset();
  steps_ = h5::Dataset();
  offsets_ = h5::Dataset();
  wafer_columns_.clear();
  file_.close();
}

}  // namespace wafermill::generate
