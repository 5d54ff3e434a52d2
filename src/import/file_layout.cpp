/// @file file_layout.cpp
/// @brief One file per wafer: each non-blank, non-header row is one sample, each column one
/// sensor; every file must have the same columns. Files named by --transpose are stored the
/// other way round (rows are sensors) and are read whole, then emitted column by column.
#include <algorithm>
#include <filesystem>
#include <map>

#include "passes.hpp"
#include "wafermill/error.hpp"

namespace wafermill::import {
namespace {

/// Rows and columns of a file as read untransposed (columns: those of its first data row).
struct FileShape {
  std::uint64_t rows = 0;
  std::uint64_t columns = 0;
};

FileShape shape_of(const std::string& path, const TextFormat& text) {
  TableReader table(path, text);
  FileShape s;
  while (table.next_row()) {
    if (s.rows == 0) s.columns = table.fields().size();
    ++s.rows;
  }
  if (s.rows == 0) s.columns = table.header().size();
  return s;
}

std::string file_name(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

/// Called when files disagree on their columns. A file stored transposed among files that
/// agree (Tennessee Eastman: d00.dat is 52 x 500 among files of 480 x 52) shows up as a file
/// whose row count is the others' column count; the disagreement is reported at whichever
/// file comes second, so name the transposed one instead. Returns without throwing when no
/// file looks transposed.
void blame_transposed_file(const ImportOptions& o, const std::vector<std::string>& files) {
  std::vector<FileShape> shapes;
  shapes.reserve(files.size());
  std::map<std::uint64_t, std::uint64_t> files_with_columns;
  for (const auto& f : files) {
    shapes.push_back(o.transposed(f) ? FileShape{} : shape_of(f, o.text));
    if (!o.transposed(f)) ++files_with_columns[shapes.back().columns];
  }
  if (files_with_columns.empty()) return;
  const auto common = std::max_element(
      files_with_columns.begin(), files_with_columns.end(),
      [](const auto& a, const auto& b) { return a.second < b.second; });
  const std::uint64_t n_columns = common->first;
  if (common->second < 2) return;  // no agreement to measure against
  for (std::size_t i = 0; i < files.size(); ++i) {
    const FileShape& s = shapes[i];
    if (o.transposed(files[i]) || s.columns == n_columns || s.rows != n_columns) continue;
    throw InputError(files[i] + ": " + std::to_string(s.rows) + " rows of " +
                     std::to_string(s.columns) + " values, while " +
                     std::to_string(common->second) + " other files have " +
                     std::to_string(n_columns) + " columns: this file looks stored transposed " +
                     "(its rows are the sensors); pass --transpose-file " + file_name(files[i]) +
                     " to read it column by column (--transpose: every file)");
  }
}

/// A transposed file: its rows are sensors, its columns samples, read whole.
struct TransposedTable {
  std::uint64_t n_sensors = 0;
  std::uint64_t n_samples = 0;
  std::vector<double> values;  // [n_sensors][n_samples]
  std::uint64_t n_missing = 0;
};

TransposedTable read_transposed(TableReader& table) {
  TransposedTable t;
  std::string reference;
  while (table.next_row()) {
    const auto fields = table.fields();
    const std::string where = table.path() + ":" + std::to_string(table.line_number());
    if (t.n_sensors == 0) {
      t.n_samples = fields.size();
      reference = where;
    } else if (fields.size() != t.n_samples) {
      throw InputError(where + ": ragged row of a transposed file: " +
                       std::to_string(fields.size()) + " samples, expected " +
                       std::to_string(t.n_samples) + " as on " + reference);
    }
    t.values.resize(t.values.size() + fields.size());
    t.n_missing += table.parse_values(
        0, std::span<double>(t.values).subspan(t.values.size() - fields.size()));
    ++t.n_sensors;
  }
  return t;
}

}  // namespace

PassResult pass_files(const ImportOptions& o, const std::vector<std::string>& files,
                      TraceSink* sink) {
  auto labels = open_labels(o);
  PassResult r;
  r.has_labels = labels.has_value();
  std::string reference;  // "FILE:LINE" that fixed n_sensors
  std::vector<double> values;
  bool every_file_wide = true;  // every non-empty file, read untransposed, has rows < columns
  std::string first_wide;       // the first such file, for the note
  FileShape first_wide_shape;
  for (const auto& path : files) {
    TableReader table(path, o.text);
    if (table.empty()) throw InputError(path + ": empty file (no header and no rows)");
    WaferMeta meta;
    if (labels) meta = next_label(*labels, path, r.n_wafers);
    if (o.transposed(path)) {
      // A header row of a transposed file names samples, not sensors: it is skipped.
      const TransposedTable t = read_transposed(table);
      if (r.n_sensors == 0) {
        r.n_sensors = t.n_sensors;
        reference = path + " (transposed: " + std::to_string(t.n_sensors) + " rows)";
      } else if (t.n_sensors != 0 && t.n_sensors != r.n_sensors) {
        throw InputError(path + ": transposed file has " + std::to_string(t.n_sensors) +
                         " rows (sensors), expected " + std::to_string(r.n_sensors) + " as in " +
                         reference);
      }
      r.n_missing += t.n_missing;
      r.n_samples += t.n_samples;
      values.resize(t.n_sensors);
      for (std::uint64_t j = 0; sink && j < t.n_samples; ++j) {
        for (std::uint64_t i = 0; i < t.n_sensors; ++i) values[i] = t.values[i * t.n_samples + j];
        sink->append_rows(values);
      }
    } else {
      const std::string where_header = path + ":" + std::to_string(table.header_line());
      if (!table.header().empty()) {
        const auto& names = table.header();
        if (r.n_sensors != 0 && names.size() != r.n_sensors) {
          blame_transposed_file(o, files);
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
      FileShape shape;
      while (table.next_row()) {
        const auto fields = table.fields();
        const std::string where = path + ":" + std::to_string(table.line_number());
        if (shape.rows == 0) shape.columns = fields.size();
        if (r.n_sensors == 0) {
          r.n_sensors = fields.size();
          reference = where;
        } else if (fields.size() != r.n_sensors) {
          // Only a file's first row can disagree because of a transposed file.
          if (shape.rows == 0) blame_transposed_file(o, files);
          throw InputError(where + ": ragged row: " + std::to_string(fields.size()) +
                           " values, expected " + std::to_string(r.n_sensors) + " as on " +
                           reference);
        }
        values.resize(fields.size());
        r.n_missing += table.parse_values(0, values);
        ++r.n_samples;
        ++shape.rows;
        if (sink) sink->append_rows(values);
      }
      if (shape.rows > 0 && shape.rows >= shape.columns) every_file_wide = false;
      if (shape.rows > 0 && shape.rows < shape.columns && first_wide.empty()) {
        first_wide = path;
        first_wide_shape = shape;
      }
    }
    r.n_bad += meta.label;
    if (sink) {
      meta.source_file = file_name(path);
      sink->end_wafer(meta);
    }
    ++r.n_wafers;
  }
  // Alone (or all alike) a transposed file cannot be told by disagreement; a fleet in which
  // every wafer has fewer samples than sensors is unusual enough to say so.
  if (every_file_wide && !first_wide.empty()) {
    r.notes.push_back(first_wide + ": " + std::to_string(first_wide_shape.rows) + " rows of " +
                      std::to_string(first_wide_shape.columns) +
                      " values read as samples x sensors; every file has fewer rows than "
                      "columns: if the rows are the sensors, pass --transpose");
  }
  if (labels) {
    expect_labels_end(*labels, r.n_wafers);
    r.has_timestamps = labels->has_timestamps();
  }
  return r;
}

}  // namespace wafermill::import
