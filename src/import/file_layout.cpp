/// @file file_layout.cpp
/// @brief One file per wafer: each non-blank, non-header row is one sample, each column one
/// sensor; every file must have the same columns.
#include <filesystem>

#include "passes.hpp"
#include "wafermill/error.hpp"

namespace wafermill::import {

PassResult pass_files(const ImportOptions& o, const std::vector<std::string>& files,
                      TraceSink* sink) {
  auto labels = open_labels(o);
  PassResult r;
  r.has_labels = labels.has_value();
  std::string reference;  // "FILE:LINE" that fixed n_sensors
  std::vector<double> values;
  for (const auto& path : files) {
    TableReader table(path, o.text);
    if (table.empty()) throw InputError(path + ": empty file (no header and no rows)");
    const std::string where_header = path + ":" + std::to_string(table.header_line());
    if (!table.header().empty()) {
      const auto& names = table.header();
      if (r.n_sensors != 0 && names.size() != r.n_sensors) {
        throw InputError(where_header + ": header has " + std::to_string(names.size()) +
                         " sensor names, expected " + std::to_string(r.n_sensors) + " as in " +
                         reference);
      }
      if (!r.sensor_names.empty() && names != r.sensor_names) {
        throw InputError(where_header + ": header names differ from those of " + reference);
      }
      if (r.n_sensors == 0) reference = where_header + " (header)";
      r.n_sensors = names.size();
      r.sensor_names = names;
    }
    WaferMeta meta;
    if (labels) meta = next_label(*labels, path, r.n_wafers);
    while (table.next_row()) {
      const auto fields = table.fields();
      const std::string where = path + ":" + std::to_string(table.line_number());
      if (r.n_sensors == 0) {
        r.n_sensors = fields.size();
        reference = where;
      } else if (fields.size() != r.n_sensors) {
        throw InputError(where + ": ragged row: " + std::to_string(fields.size()) +
                         " values, expected " + std::to_string(r.n_sensors) + " as on " +
                         reference);
      }
      values.resize(fields.size());
      r.n_missing += table.parse_values(0, values);
      ++r.n_samples;
      if (sink) sink->append_rows(values);
    }
    r.n_bad += meta.label;
    if (sink) {
      meta.source_file = std::filesystem::path(path).filename().string();
      sink->end_wafer(meta);
    }
    ++r.n_wafers;
  }
  if (labels) {
    expect_labels_end(*labels, r.n_wafers);
    r.has_timestamps = labels->has_timestamps();
  }
  return r;
}

}  // namespace wafermill::import
