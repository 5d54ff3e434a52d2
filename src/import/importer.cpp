/// @file importer.cpp
/// @brief Options, presets and the two passes of an import (importer.hpp).
#include "wafermill/import/importer.hpp"

#include <algorithm>
#include <filesystem>

#include "passes.hpp"
#include "wafermill/error.hpp"
#include "wafermill/format/atomic_output.hpp"
#include "wafermill/format/trace_index.hpp"

namespace wafermill::import {
namespace {

namespace fs = std::filesystem;

/// The data files of an import: for file_per_wafer a single directory stands for its
/// regular, non-hidden files in name order (a stable wafer order on every file system).
std::vector<std::string> resolve_inputs(const ImportOptions& o) {
  std::error_code ec;
  if (o.layout == Layout::file_per_wafer && o.inputs.size() == 1 &&
      fs::is_directory(o.inputs[0], ec)) {
    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(o.inputs[0], ec)) {
      const std::string name = entry.path().filename().string();
      if (!name.empty() && name[0] != '.' && entry.is_regular_file(ec)) {
        files.push_back(entry.path().string());
      }
    }
    if (ec) throw InputError(o.inputs[0] + ": cannot list the directory: " + ec.message());
    std::sort(files.begin(), files.end());
    if (files.empty()) throw InputError(o.inputs[0] + ": the directory holds no files");
    return files;
  }
  for (const auto& f : o.inputs) {
    if (!fs::is_regular_file(f, ec)) throw InputError(f + ": no such file");
  }
  return o.inputs;
}

PassResult run_pass(const ImportOptions& o, const std::vector<std::string>& files,
                    TraceSink* sink) {
  return o.layout == Layout::file_per_wafer ? pass_files(o, files, sink)
                                            : pass_rows(o, files, sink);
}

}  // namespace

Layout parse_layout(std::string_view name) {
  if (name == "trace-per-row") return Layout::trace_per_row;
  if (name == "sample-per-row") return Layout::sample_per_row;
  if (name == "file-per-wafer") return Layout::file_per_wafer;
  throw UsageError("--layout \"" + std::string(name) +
                   "\": expected trace-per-row, sample-per-row or file-per-wafer");
}

std::string_view to_string(Layout layout) {
  switch (layout) {
    case Layout::trace_per_row:
      return "trace-per-row";
    case Layout::sample_per_row:
      return "sample-per-row";
    case Layout::file_per_wafer:
      return "file-per-wafer";
  }
  return "unknown";
}

void ImportOptions::validate() const {
  if (inputs.empty()) throw UsageError("import: no input files given");
  if (output.empty()) throw UsageError("import: --output is required");
  if (label_column && !labels_file.empty()) {
    throw UsageError("import: --label-column and --labels both give labels; choose one");
  }
  if (label_column && layout == Layout::file_per_wafer) {
    throw UsageError(
        "import: --label-column needs a row layout (one wafer per row); "
        "give --labels FILE with one row per wafer file instead");
  }
  if (ragged && layout != Layout::trace_per_row) {
    throw UsageError("import: --ragged applies to --layout trace-per-row only");
  }
  if ((transpose_all || !transpose_files.empty()) && layout != Layout::file_per_wafer) {
    throw UsageError(
        "import: --transpose and --transpose-file apply to --layout file-per-wafer only");
  }
  if (gzip_level < 0 || gzip_level > 9) throw UsageError("import: --gzip must be 0-9");
  if (buffer_bytes == 0) throw UsageError("import: --buffer-mb must be positive");
  if (time_windows > format::kMaxSteps) {
    throw UsageError("import: --time-windows must be at most " + std::to_string(format::kMaxSteps) +
                     " (0: none)");
  }
}

bool ImportOptions::transposed(const std::string& path) const {
  if (transpose_all) return true;
  const std::string name = fs::path(path).filename().string();
  return std::any_of(transpose_files.begin(), transpose_files.end(),
                     [&](const std::string& t) { return t == path || t == name; });
}

ImportOptions preset(std::string_view name) {
  ImportOptions o;
  if (name == "ucr") {
    // UCR archive 2018 TSV: class first, then the series; no header. Wafer: 1 normal, -1
    // abnormal.
    o.layout = Layout::trace_per_row;
    o.label_column = true;
    o.label_map = LabelMap::parse("1=0,-1=1");
    o.text.header = HeaderMode::absent;
    // The archive's series are z-normalised one by one: their whole-trace mean and std say
    // nothing, their shape does. Per-window features see it (docs/MONITORING.md, UCR Wafer).
    o.time_windows = 8;
    o.citation =
        "UCR Time Series Classification Archive (2018), "
        "www.cs.ucr.edu/~eamonn/time_series_data_2018";
    return o;
  }
  if (name == "secom") {
    o.layout = Layout::sample_per_row;
    o.text.delimiter = kWhitespace;
    o.text.header = HeaderMode::absent;
    o.label_map = LabelMap::parse("-1=0,1=1");
    o.citation =
        "UCI Machine Learning Repository, SECOM, M. McCann and A. Johnston (2008), "
        "DOI 10.24432/C54305, CC BY 4.0";
    return o;
  }
  throw UsageError("--preset \"" + std::string(name) + "\": expected ucr or secom");
}

ImportSummary import_traces(const ImportOptions& o) {
  o.validate();
  const std::vector<std::string> files = resolve_inputs(o);
  for (const auto& t : o.transpose_files) {
    const bool found = std::any_of(files.begin(), files.end(), [&](const std::string& f) {
      return f == t || fs::path(f).filename().string() == t;
    });
    if (!found) throw UsageError("import: --transpose-file \"" + t + "\" is not an input file");
  }
  // Before the scan: an existing output without --force, or one that is an input, fails at once.
  std::vector<std::string> read = files;
  if (!o.labels_file.empty()) read.push_back(o.labels_file);
  format::AtomicOutput out(o.output, o.force, read);

  const PassResult scan = run_pass(o, files, nullptr);
  if (scan.n_sensors == 0) throw InputError(files.front() + ": no sensor columns found");

  SinkShape shape;
  shape.n_wafers = scan.n_wafers;
  shape.n_samples = scan.n_samples;
  shape.n_sensors = scan.n_sensors;
  shape.sensor_names = scan.sensor_names;
  shape.float32 = o.float32;
  shape.gzip_level = o.gzip_level;
  shape.buffer_bytes = o.buffer_bytes;
  shape.labels = scan.has_labels;
  if (scan.has_timestamps) shape.timestamps = o.timestamp_type;
  shape.source_line = o.layout != Layout::file_per_wafer;
  shape.source_file_index = shape.source_line && files.size() > 1;
  shape.source_file = o.layout == Layout::file_per_wafer;
  shape.time_windows = o.time_windows;
  {
    TraceSink sink(out.temp_path(), shape);
    sink.attribute("importer", "wafermill import");
    sink.attribute("import_layout", std::string(to_string(o.layout)));
    sink.attribute("import_sources", shape.source_file ? o.inputs : files);
    if (!o.labels_file.empty()) sink.attribute("import_labels_file", o.labels_file);
    if (scan.has_labels) sink.attribute("import_label_map", o.label_map.text());
    if (scan.has_timestamps && o.timestamp_type == TimestampType::unix_seconds) {
      sink.attribute("import_timestamp_format", o.timestamp_format);
    }
    sink.attribute("import_missing_tokens", missing_tokens_text(o.text.missing_tokens));
    if (!o.citation.empty()) sink.attribute("source_citation", o.citation);
    run_pass(o, files, &sink);  // the sink checks the counts against the scan's
    sink.close();
  }
  out.commit();

  ImportSummary s;
  s.n_wafers = scan.n_wafers;
  s.n_samples = scan.n_samples;
  s.n_sensors = scan.n_sensors;
  s.n_missing = scan.n_missing;
  s.has_labels = scan.has_labels;
  s.n_bad = scan.n_bad;
  s.has_timestamps = scan.has_timestamps;
  s.n_files = files.size();
  s.notes = scan.notes;
  std::error_code ec;
  s.output_bytes = fs::file_size(o.output, ec);
  return s;
}

}  // namespace wafermill::import
