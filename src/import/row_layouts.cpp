/// @file row_layouts.cpp
/// @brief One wafer per row: UCR-style traces (a class, then the samples of one sensor) and
/// SECOM-style samples (every sensor once, the label in a separate file).
#include <filesystem>

#include "passes.hpp"
#include "wafermill/error.hpp"

namespace wafermill::import {

std::optional<LabelsReader> open_labels(const ImportOptions& o) {
  if (o.labels_file.empty()) return std::nullopt;
  const std::string format =
      o.timestamp_type == TimestampType::unix_seconds ? o.timestamp_format : std::string();
  return std::optional<LabelsReader>(std::in_place, o.labels_file, o.text, o.label_map, format);
}

WaferMeta next_label(LabelsReader& labels, const std::string& data_where, std::uint64_t wafer) {
  const auto row = labels.next();
  if (!row) {
    throw InputError(labels.path() + ": has " + std::to_string(wafer) +
                     " label rows, but the data has more wafers (" + data_where + " is wafer " +
                     std::to_string(wafer + 1) + ")");
  }
  WaferMeta meta;
  meta.label = row->label;
  meta.timestamp_text = row->timestamp_text;
  meta.unix_s = row->unix_s.value_or(0);
  return meta;
}

void expect_labels_end(LabelsReader& labels, std::uint64_t n_wafers) {
  if (labels.next()) {
    throw InputError(labels.path() + ":" + std::to_string(labels.line_number()) + ": label row " +
                     std::to_string(n_wafers + 1) + " has no wafer: the data has only " +
                     std::to_string(n_wafers) + " wafers");
  }
}

PassResult pass_rows(const ImportOptions& o, const std::vector<std::string>& files,
                     TraceSink* sink) {
  const bool traces = o.layout == Layout::trace_per_row;
  const std::size_t first = o.label_column ? 1 : 0;
  auto labels = open_labels(o);
  PassResult r;
  r.has_labels = o.label_column || labels.has_value();
  r.n_sensors = traces ? 1 : 0;
  std::uint64_t trace_length = 0;  // trace_per_row without --ragged: the common length
  std::string reference;           // "FILE:LINE" that fixed n_sensors or trace_length
  std::vector<double> values;
  for (std::size_t f = 0; f < files.size(); ++f) {
    TableReader table(files[f], o.text, first);
    if (table.empty()) throw InputError(files[f] + ": empty file (no rows)");
    const std::string where_header = files[f] + ":" + std::to_string(table.header_line());
    if (!traces && !table.header().empty()) {
      // sample_per_row: the header names the sensors (after the label column, if any).
      const auto& h = table.header();
      std::vector<std::string> names(
          h.begin() + static_cast<std::ptrdiff_t>(std::min(first, h.size())), h.end());
      if (r.n_sensors != 0 && names.size() != r.n_sensors) {
        throw InputError(where_header + ": header has " + std::to_string(names.size()) +
                         " sensor names, expected " + std::to_string(r.n_sensors) + " as in " +
                         reference);
      }
      if (!r.sensor_names.empty() && names != r.sensor_names) {
        throw InputError(where_header + ": header names differ from those of " + files.front());
      }
      if (r.n_sensors == 0) reference = where_header + " (header)";
      r.n_sensors = names.size();
      r.sensor_names = std::move(names);
    }
    std::uint64_t rows_in_file = 0;
    while (table.next_row()) {
      ++rows_in_file;
      const auto fields = table.fields();
      const std::string where = files[f] + ":" + std::to_string(table.line_number());
      if (fields.size() <= first && !(traces && o.ragged)) {
        throw InputError(where + ": the row has no values after its class");
      }
      const std::uint64_t n_values = fields.size() > first ? fields.size() - first : 0;
      WaferMeta meta;
      if (o.label_column) {
        const auto label = o.label_map.map(fields[0]);
        if (!label) {
          throw InputError(where + ": class \"" + std::string(fields[0]) +
                           "\" is not in the label map " + o.label_map.text() +
                           " (set --label-map)");
        }
        meta.label = *label;
      } else if (labels) {
        meta = next_label(*labels, where, r.n_wafers);
      }
      if (traces && !o.ragged) {
        if (trace_length == 0) {
          trace_length = n_values;
          reference = where;
        } else if (n_values != trace_length) {
          throw InputError(where + ": ragged row: " + std::to_string(n_values) +
                           " samples, expected " + std::to_string(trace_length) + " as on " +
                           reference + " (pass --ragged for traces of different lengths)");
        }
      }
      if (!traces) {
        if (r.n_sensors == 0) {
          r.n_sensors = n_values;
          reference = where;
        } else if (n_values != r.n_sensors) {
          throw InputError(where + ": ragged row: " + std::to_string(n_values) +
                           " values, expected " + std::to_string(r.n_sensors) + " as on " +
                           reference);
        }
      }
      values.resize(n_values);
      r.n_missing += table.parse_values(first, values);
      r.n_samples += traces ? n_values : 1;
      r.n_bad += meta.label;
      if (sink) {
        meta.source_line = static_cast<std::int64_t>(table.line_number());
        meta.source_file_index = static_cast<std::int64_t>(f);
        sink->append_rows(values);
        sink->end_wafer(meta);
      }
      ++r.n_wafers;
    }
    if (rows_in_file == 0) throw InputError(files[f] + ": no data rows (only a header)");
  }
  if (labels) {
    expect_labels_end(*labels, r.n_wafers);
    r.has_timestamps = labels->has_timestamps();
  }
  return r;
}

}  // namespace wafermill::import
