/// @file trace_set.cpp
/// @brief An index over several trace files (trace_index.hpp, docs/FORMAT.md "Several input
/// files").
#include <algorithm>
#include <map>
#include <set>

#include "wafermill/error.hpp"
#include "wafermill/format/trace_index.hpp"

namespace wafermill::format {

std::size_t TraceIndex::source_of_wafer(std::uint64_t w) const {
  if (sources.empty()) return 0;
  // The last file whose first wafer is <= w and that holds w (files of no wafer are skipped).
  auto it =
      std::upper_bound(sources.begin(), sources.end(), w,
                       [](std::uint64_t x, const TraceSource& s) { return x < s.first_wafer; });
  std::size_t k = static_cast<std::size_t>(it - sources.begin());
  while (k > 0 && sources[k - 1].n_wafers == 0) --k;
  return k == 0 ? 0 : k - 1;
}

std::uint64_t TraceIndex::source_end_wafer(std::uint64_t w) const {
  if (sources.empty()) return n_wafers;
  const TraceSource& s = sources[source_of_wafer(w)];
  return s.first_wafer + s.n_wafers;
}

std::vector<TraceSource> TraceIndex::files() const {
  if (!sources.empty()) return sources;
  TraceSource s;
  s.path = path;
  s.file_size = file_size;
  s.n_wafers = n_wafers;
  s.n_rows = n_samples;
  s.n_sensors = n_sensors;
  s.value_type = value_type;
  s.values_filtered = values_filtered;
  s.values_chunk_rows = values_chunk_rows;
  s.values_chunk_cols = values_chunk_cols;
  s.has_steps = has_steps && time_windows == 0;  // windows are not the file's
  s.n_steps = s.has_steps ? n_steps : 0;
  s.values_at = values_at;
  s.steps_at = steps_at;
  return {s};
}

std::vector<std::uint64_t> TraceIndex::source_first_wafers() const {
  if (sources.empty()) return {0};
  std::vector<std::uint64_t> out;
  out.reserve(sources.size());
  for (const auto& s : sources) out.push_back(s.first_wafer);
  return out;
}

std::pair<const std::string*, std::uint64_t> TraceIndex::wafer_source(std::uint64_t w) const {
  if (sources.empty()) return {&path, w};
  const TraceSource& s = sources[source_of_wafer(w)];
  return {&s.path, w - s.first_wafer};
}

void use_time_windows(TraceIndex& index, std::uint32_t n) {
  if (n == 0) return;
  if (n > kMaxSteps)
    throw UsageError("--time-windows must be in [0, " + std::to_string(kMaxSteps) + "]");
  if (index.has_steps) {
    // A file's recipe steps are the better windows; mixing them with windows would number two
    // different things as one step.
    std::string which = index.path;
    for (const auto& s : index.sources)
      if (s.has_steps) {
        which = s.path;
        break;
      }
    throw InputError(which + ": /traces/step holds recipe steps; --time-windows is for traces "
                     "that record none (leave it out to use the steps)");
  }
  index.has_steps = true;
  index.n_steps = n;
  index.time_windows = n;
}

std::string TraceIndex::wafer_where(std::uint64_t w) const {
  const auto [file, local] = wafer_source(w);
  return *file + ": /traces/values wafer " + std::to_string(local);
}

TraceIndex merge_trace_indexes(std::vector<TraceIndex> files, const std::string& display) {
  if (files.empty()) throw InputError("no input file");
  if (files.size() == 1) return std::move(files.front());
  {
    std::map<std::string, std::size_t> seen;
    for (std::size_t k = 0; k < files.size(); ++k) {
      auto [it, fresh] = seen.emplace(files[k].path, k);
      if (!fresh)
        throw InputError(files[k].path + ": named twice among the inputs (files " +
                         std::to_string(it->second + 1) + " and " + std::to_string(k + 1) + ")");
    }
  }
  TraceIndex job;
  job.path = display;
  // The sensors: the union, in order of first appearance.
  std::map<std::string, std::size_t> column_of;
  for (const auto& f : files)
    for (const auto& name : f.sensor_names)
      if (column_of.emplace(name, job.sensor_names.size()).second) job.sensor_names.push_back(name);
  job.n_sensors = job.sensor_names.size();
  job.value_type =
      std::all_of(files.begin(), files.end(),
                  [](const TraceIndex& f) { return f.value_type == ValueType::float32; })
          ? ValueType::float32
          : ValueType::float64;
  // The /wafers fields every file holds with the same kind, in the first file's order.
  for (const auto& field : files.front().wafer_fields) {
    const bool everywhere = std::all_of(files.begin() + 1, files.end(), [&](const TraceIndex& f) {
      return std::any_of(f.wafer_fields.begin(), f.wafer_fields.end(), [&](const WaferField& g) {
        return g.name == field.name && g.is_string == field.is_string;
      });
    });
    if (everywhere) job.wafer_fields.push_back(field);
  }
  std::uint64_t total_wafers = 0;
  for (const auto& f : files) total_wafers += f.n_wafers;
  // Labels when every file has them (as numbers), file after file.
  job.has_labels =
      std::all_of(files.begin(), files.end(), [](const TraceIndex& f) { return f.has_labels; });
  if (job.has_labels) {
    job.labels.reserve(total_wafers);
    for (const auto& f : files)
      job.labels.insert(job.labels.end(), f.labels.begin(), f.labels.end());
  }
  job.offsets.reserve(total_wafers + 1);
  job.offsets.push_back(0);
  for (auto& f : files) {
    TraceSource s;
    s.path = f.path;
    s.file_size = f.file_size;
    s.first_wafer = job.n_wafers;
    s.n_wafers = f.n_wafers;
    s.first_row = job.n_samples;
    s.n_rows = f.n_samples;
    s.n_sensors = f.n_sensors;
    s.value_type = f.value_type;
    s.values_filtered = f.values_filtered;
    s.values_chunk_rows = f.values_chunk_rows;
    s.values_chunk_cols = f.values_chunk_cols;
    s.has_steps = f.has_steps;
    s.n_steps = f.n_steps;
    s.values_at = f.values_at;
    s.steps_at = f.steps_at;
    bool identity = f.sensor_names.size() == job.n_sensors;
    for (std::size_t c = 0; identity && c < f.sensor_names.size(); ++c)
      identity = column_of.at(f.sensor_names[c]) == c;
    if (!identity) {
      s.columns.assign(job.n_sensors, -1);
      for (std::size_t c = 0; c < f.sensor_names.size(); ++c)
        s.columns[column_of.at(f.sensor_names[c])] = static_cast<std::int64_t>(c);
    }
    for (std::uint64_t w = 0; w < f.n_wafers; ++w)
      job.offsets.push_back(s.first_row + f.offsets[w + 1]);
    job.n_wafers += f.n_wafers;
    job.n_samples += f.n_samples;
    job.file_size += f.file_size;
    job.values_chunked = job.values_chunked || f.values_chunked;
    job.values_filtered = job.values_filtered || f.values_filtered;
    job.values_chunk_rows = std::max(job.values_chunk_rows, f.values_chunk_rows);
    job.values_chunk_cols = std::max(job.values_chunk_cols, f.values_chunk_cols);
    job.has_steps = job.has_steps || f.has_steps;
    job.n_steps = std::max(job.n_steps, f.n_steps);
    job.sources.push_back(std::move(s));
    f.offsets = {};  // the merged offsets hold them
  }
  return job;
}

}  // namespace wafermill::format
