/// @file trace_sink.cpp
/// @brief Batched hyperslab writes of an imported trace file (trace_sink.hpp).
#include "trace_sink.hpp"

#include <algorithm>
#include <stdexcept>

#include "wafermill/error.hpp"

namespace wafermill::import {

namespace h5 = format::h5;

namespace {

/// Target bytes of one /traces/values chunk: about 1 MiB, HDF5's default chunk cache, so a
/// reader's cache holds a whole chunk (FIELD_NOTES "Parallel HDF5").
constexpr std::uint64_t kChunkBytes = 1ULL << 20;
/// Wafers whose metadata is queued before a write (bounded whatever the wafer count).
constexpr std::uint64_t kWaferBatch = 1ULL << 16;
/// Time-window steps queued before a write (4 MiB of int32, whatever a wafer's length).
constexpr std::uint64_t kStepBatch = 1ULL << 20;

}  // namespace

TraceSink::TraceSink(const std::string& path, SinkShape shape)
    : path_(path), shape_(std::move(shape)), file_(h5::File::create(path)) {
  const std::uint64_t row_bytes = shape_.n_sensors * (shape_.float32 ? 4 : 8);
  const std::uint64_t chunk_rows = std::max<std::uint64_t>(1, kChunkBytes / row_bytes);
  // The buffer holds whole chunks, so every write but the last fills complete chunks.
  const std::uint64_t budget_rows = shape_.buffer_bytes / (shape_.n_sensors * sizeof(double));
  buffer_rows_ = std::max<std::uint64_t>(1, budget_rows / chunk_rows) * chunk_rows;
  wafer_batch_ = kWaferBatch;

  file_.write_string_attribute("format", "wafermill traces v1");
  h5::Group traces = file_.create_group("traces");
  h5::DatasetOptions layout;
  layout.chunk = {chunk_rows, shape_.n_sensors};
  layout.deflate_level = shape_.gzip_level;
  values_ = traces.create_dataset("values", shape_.float32 ? h5::Elem::f32 : h5::Elem::f64,
                                  {shape_.n_samples, shape_.n_sensors}, layout);
  if (!shape_.sensor_names.empty()) {
    values_.write_strings_attribute("sensor_names", shape_.sensor_names);
  }
  offsets_ = traces.create_dataset("offsets", h5::Elem::i64, {shape_.n_wafers + 1});
  const std::int64_t zero = 0;
  offsets_.write(std::span<const std::int64_t>(&zero, 1), {0}, {1});

  const std::uint64_t n = shape_.n_wafers;
  h5::Group wafers = file_.create_group("wafers");
  if (shape_.labels) {
    label_ = wafers.create_dataset("label", h5::Elem::u8, {n});
    label_.write_string_attribute("meaning", "0 good, 1 bad");
  }
  if (shape_.timestamps == TimestampType::unix_seconds) {
    timestamp_ = wafers.create_dataset("timestamp", h5::Elem::i64, {n});
    timestamp_.write_string_attribute("units", "seconds since 1970-01-01 00:00:00 UTC");
  } else if (shape_.timestamps == TimestampType::string) {
    timestamp_ = wafers.create_string_dataset("timestamp", n);
  }
  if (shape_.source_line) {
    source_line_ = wafers.create_dataset("source_line", h5::Elem::i64, {n});
    source_line_.write_string_attribute("meaning", "1-based line of the wafer's row in its file");
  }
  if (shape_.source_file_index) {
    source_file_index_ = wafers.create_dataset("source_file_index", h5::Elem::i64, {n});
    source_file_index_.write_string_attribute("meaning",
                                              "index into the root attribute import_sources");
  }
  if (shape_.source_file) source_file_ = wafers.create_string_dataset("source_file", n);
  if (shape_.time_windows > 0) {
    h5::DatasetOptions steps;
    steps.chunk = {std::clamp<std::uint64_t>(shape_.n_samples, 1, kChunkBytes / 4)};
    steps.deflate_level = shape_.gzip_level;
    step_ = traces.create_dataset("step", h5::Elem::i32, {shape_.n_samples}, steps);
    step_.write_int_attribute("n_steps", shape_.time_windows);
    step_.write_string_attribute(
        "meaning", "time windows (wafermill import --time-windows " +
                       std::to_string(shape_.time_windows) +
                       "): row i of a wafer of n rows is in window floor(i * n_steps / n)");
  }
}

void TraceSink::attribute(const std::string& name, const std::string& value) {
  file_.write_string_attribute(name, value);
}

void TraceSink::attribute(const std::string& name, const std::vector<std::string>& values) {
  file_.write_strings_attribute(name, values);
}

void TraceSink::append_rows(std::span<const double> values) {
  const std::uint64_t s = shape_.n_sensors;
  if (values.size() % s != 0) throw std::logic_error("TraceSink: partial row");
  std::uint64_t rows = values.size() / s;
  if (rows_appended_ + rows > shape_.n_samples) {
    throw InputError(
        path_ +
        ": more sample rows than the scan pass counted; did an input change during the import?");
  }
  rows_appended_ += rows;
  while (rows > 0) {
    const std::uint64_t buffered = rows_.size() / s;
    const std::uint64_t take = std::min(rows, buffer_rows_ - buffered);
    rows_.insert(rows_.end(), values.begin(),
                 values.begin() + static_cast<std::ptrdiff_t>(take * s));
    values = values.subspan(take * s);
    rows -= take;
    if (rows_.size() / s == buffer_rows_) flush_rows();
  }
}

void TraceSink::flush_rows() {
  const std::uint64_t s = shape_.n_sensors;
  const std::uint64_t n = rows_.size() / s;
  if (n == 0) return;
  if (shape_.float32) {
    rows32_.assign(rows_.begin(), rows_.end());
    values_.write(std::span<const float>(rows32_), {rows_written_, 0}, {n, s});
  } else {
    values_.write(std::span<const double>(rows_), {rows_written_, 0}, {n, s});
  }
  rows_written_ += n;
  rows_.clear();
}

void TraceSink::end_wafer(const WaferMeta& meta) {
  if (wafers_written_ + offsets_buf_.size() >= shape_.n_wafers) {
    throw InputError(
        path_ + ": more wafers than the scan pass counted; did an input change during the import?");
  }
  if (shape_.time_windows > 0) {
    // Window of each of the wafer's rows, queued in bounded batches (a wafer may be long).
    const std::uint64_t n = rows_appended_ - wafer_first_row_, N = shape_.time_windows;
    for (std::uint64_t i = 0; i < n; ++i) {
      step_buf_.push_back(static_cast<std::int32_t>(i * N / n));  // i·N < 2^40 · 2^12
      if (step_buf_.size() == kStepBatch) flush_steps();
    }
    wafer_first_row_ = rows_appended_;
  }
  offsets_buf_.push_back(static_cast<std::int64_t>(rows_appended_));
  if (shape_.labels) label_buf_.push_back(meta.label);
  if (shape_.timestamps == TimestampType::unix_seconds) unix_buf_.push_back(meta.unix_s);
  if (shape_.timestamps == TimestampType::string) text_buf_.push_back(meta.timestamp_text);
  if (shape_.source_line) line_buf_.push_back(meta.source_line);
  if (shape_.source_file_index) file_index_buf_.push_back(meta.source_file_index);
  if (shape_.source_file) file_buf_.push_back(meta.source_file);
  if (offsets_buf_.size() == wafer_batch_) flush_wafers();
}

void TraceSink::flush_wafers() {
  const std::uint64_t n = offsets_buf_.size();
  if (n == 0) return;
  const std::uint64_t w = wafers_written_;
  offsets_.write(std::span<const std::int64_t>(offsets_buf_), {w + 1}, {n});
  if (shape_.labels) label_.write(std::span<const std::uint8_t>(label_buf_), {w}, {n});
  if (shape_.timestamps == TimestampType::unix_seconds) {
    timestamp_.write(std::span<const std::int64_t>(unix_buf_), {w}, {n});
  }
  if (shape_.timestamps == TimestampType::string) timestamp_.write_strings(w, text_buf_);
  if (shape_.source_line) source_line_.write(std::span<const std::int64_t>(line_buf_), {w}, {n});
  if (shape_.source_file_index) {
    source_file_index_.write(std::span<const std::int64_t>(file_index_buf_), {w}, {n});
  }
  if (shape_.source_file) source_file_.write_strings(w, file_buf_);
  wafers_written_ += n;
  offsets_buf_.clear();
  label_buf_.clear();
  unix_buf_.clear();
  line_buf_.clear();
  file_index_buf_.clear();
  text_buf_.clear();
  file_buf_.clear();
}

void TraceSink::flush_steps() {
  if (step_buf_.empty()) return;
  step_.write(std::span<const std::int32_t>(step_buf_), {steps_written_}, {step_buf_.size()});
  steps_written_ += step_buf_.size();
  step_buf_.clear();
}

void TraceSink::close() {
  flush_rows();
  flush_wafers();
  flush_steps();
  if (rows_written_ != shape_.n_samples || wafers_written_ != shape_.n_wafers ||
      (shape_.time_windows > 0 && steps_written_ != shape_.n_samples)) {
    throw InputError(path_ + ": the write pass produced " + std::to_string(wafers_written_) +
                     " wafers and " + std::to_string(rows_written_) +
                     " rows, the scan pass counted " + std::to_string(shape_.n_wafers) + " and " +
                     std::to_string(shape_.n_samples) + "; did an input change during the import?");
  }
  // Datasets first: File::close refuses while objects of the file are still open.
  for (h5::Dataset* d : {&values_, &offsets_, &label_, &timestamp_, &source_line_,
                         &source_file_index_, &source_file_, &step_}) {
    *d = h5::Dataset();
  }
  file_.close();
}

}  // namespace wafermill::import
