/// @file input_wafers.cpp
/// @brief The input's /wafers/* copied into an output (input_wafers.hpp).
#include "wafermill/format/input_wafers.hpp"

#include <algorithm>
#include <optional>
#include <vector>

#include "wafermill/error.hpp"
#include "wafermill/format/h5.hpp"

namespace wafermill::format {
namespace {

/// Rows of a field copied per read.
constexpr std::uint64_t kCopyRows = 1ULL << 16;

/// Name of an input field inside the trace output's /wafers: score and flag are the job's own.
std::string legacy_name(const std::string& name) {
  // The names the job writes under /wafers (with a model: docs/MONITORING.md).
  static const char* const kJob[] = {"score",         "flag",        "t2",
                                     "spe",           "reason",      "contrib_column",
                                     "contrib_share", "source_file", "source_index"};
  for (const char* j : kJob)
    if (name == j) return "input_" + name;
  return name;
}

void copy_strings(const h5::Dataset& src, std::uint64_t n, std::vector<h5::Group*> into,
                  const std::vector<std::string>& names) {
  std::vector<h5::Dataset> dst;
  for (std::size_t i = 0; i < into.size(); ++i)
    dst.push_back(into[i]->create_string_dataset(names[i], n));
  for (std::uint64_t first = 0; first < n; first += kCopyRows) {
    const auto values = src.read_strings(first, std::min(kCopyRows, n - first));
    for (auto& d : dst) d.write_strings(first, values);
  }
}

// Numbers keep their stored type; they pass through memory in its native form.
void copy_numbers(const std::string& input_path, const h5::Dataset& src, std::uint64_t n,
                  std::vector<h5::Group*> into, const std::vector<std::string>& names) {
  std::vector<h5::Dataset> dst;
  for (std::size_t i = 0; i < into.size(); ++i)
    dst.push_back(into[i]->create_dataset_like(names[i], src, {n}));
  const h5::Handle mem = src.memory_type();
  const std::size_t elem = H5Tget_size(mem.id());
  if (elem == 0) h5::fail(input_path, src.path(), "H5Tget_size");
  std::vector<unsigned char> buf(std::max<std::uint64_t>(1, std::min(kCopyRows, n)) * elem);
  for (std::uint64_t first = 0; first < n; first += kCopyRows) {
    const std::uint64_t count = std::min(kCopyRows, n - first);
    src.read_hyperslab(mem.id(), buf.data(), {first}, {count});
    for (auto& d : dst) d.write_hyperslab(mem.id(), buf.data(), {first}, {count});
  }
}

}  // namespace

void copy_input_wafers(const std::string& input_path, h5::Group& output_root,
                       h5::Group* also_into) {
  const h5::File in = h5::File::open_read(input_path);
  if (in.link_kind("wafers") == h5::LinkKind::none) return;
  if (in.link_kind("wafers") != h5::LinkKind::hard ||
      in.object_kind("wafers") != h5::ObjectKind::group)
    throw InputError(input_path + ": /wafers is not a group");
  const h5::Group wafers = in.open_group("wafers");
  const std::vector<std::string> names = wafers.link_names();
  if (names.empty()) return;
  h5::Group input = output_root.has_group("input") ? output_root.open_group("input")
                                                   : output_root.create_group("input");
  h5::Group copy = input.create_group("wafers");
  for (const auto& name : names) {
    if (!wafers.has_dataset(name))
      throw InputError(input_path + ": /wafers/" + name + " is not a dataset (a hard link to one)");
    const h5::Dataset src = wafers.open_dataset(name);
    const auto dims = src.dims();
    const auto type = src.type();
    if (dims.size() != 1)
      throw InputError(input_path + ": /wafers/" + name + " has " + std::to_string(dims.size()) +
                       " dimensions, expected 1 (one entry per wafer)");
    std::vector<h5::Group*> into = {&copy};
    std::vector<std::string> out_names = {name};
    if (also_into) {
      into.push_back(also_into);
      out_names.push_back(legacy_name(name));
    }
    if (type.type_class == h5::TypeClass::string) {
      copy_strings(src, dims[0], into, out_names);
    } else if (type.type_class == h5::TypeClass::integer ||
               type.type_class == h5::TypeClass::floating) {
      copy_numbers(input_path, src, dims[0], into, out_names);
    } else {
      throw InputError(input_path + ": /wafers/" + name + " is neither numbers nor strings");
    }
  }
}

void copy_source_wafers(const TraceIndex& index, h5::Group& output_root, h5::Group& wafers) {
  const std::uint64_t W = index.n_wafers;
  const std::vector<TraceSource> sources = index.files();
  // Which file and which of its wafers: /wafers/source_file indexes /inputs/files.
  {
    h5::Group inputs = output_root.create_group("inputs");
    h5::Dataset files = inputs.create_string_dataset("files", sources.size());
    std::vector<std::string> names;
    for (const auto& s : sources) names.push_back(s.path);
    files.write_strings(0, names);
    h5::Dataset file_of = wafers.create_dataset("source_file", h5::Elem::i64, {W});
    h5::Dataset index_in = wafers.create_dataset("source_index", h5::Elem::i64, {W});
    std::vector<std::int64_t> a, b;
    for (std::size_t k = 0; k < sources.size(); ++k) {
      for (std::uint64_t first = 0; first < sources[k].n_wafers; first += kCopyRows) {
        const std::uint64_t n = std::min(kCopyRows, sources[k].n_wafers - first);
        a.assign(n, static_cast<std::int64_t>(k));
        b.resize(n);
        for (std::uint64_t i = 0; i < n; ++i) b[i] = static_cast<std::int64_t>(first + i);
        file_of.write(std::span<const std::int64_t>(a), {sources[k].first_wafer + first}, {n});
        index_in.write(std::span<const std::int64_t>(b), {sources[k].first_wafer + first}, {n});
      }
    }
  }
  if (index.sources.empty() || index.wafer_fields.empty()) return;
  // Several files: the fields they all hold, each file's rows at its wafers (merge_trace_indexes).
  h5::Group input = output_root.has_group("input") ? output_root.open_group("input")
                                                   : output_root.create_group("input");
  h5::Group copy = input.create_group("wafers");
  // The datasets, shaped after the first file's; then each file opened once for all its fields.
  struct Target {
    std::vector<h5::Dataset> dst;
    std::optional<h5::Handle> mem;
    std::size_t elem = 0;
  };
  std::vector<Target> targets(index.wafer_fields.size());
  {
    const h5::File in = h5::File::open_read(sources.front().path);
    const h5::Group g = in.open_group("wafers");
    for (std::size_t i = 0; i < targets.size(); ++i) {
      const WaferField& field = index.wafer_fields[i];
      const h5::Dataset src = g.open_dataset(field.name);
      for (auto* group : {&copy, &wafers}) {
        const std::string name = group == &wafers ? legacy_name(field.name) : field.name;
        targets[i].dst.push_back(field.is_string ? group->create_string_dataset(name, W)
                                                 : group->create_dataset_like(name, src, {W}));
      }
      if (!field.is_string) {
        targets[i].mem.emplace(src.memory_type());
        targets[i].elem = H5Tget_size(targets[i].mem->id());
        if (targets[i].elem == 0) h5::fail(sources.front().path, src.path(), "H5Tget_size");
      }
    }
  }
  std::vector<unsigned char> buf;
  for (const auto& s : sources) {
    if (s.n_wafers == 0) continue;
    const h5::File in = h5::File::open_read(s.path);
    const h5::Group g = in.open_group("wafers");
    for (std::size_t i = 0; i < targets.size(); ++i) {
      const h5::Dataset src = g.open_dataset(index.wafer_fields[i].name);
      Target& t = targets[i];
      for (std::uint64_t first = 0; first < s.n_wafers; first += kCopyRows) {
        const std::uint64_t n = std::min(kCopyRows, s.n_wafers - first);
        if (index.wafer_fields[i].is_string) {
          const auto values = src.read_strings(first, n);
          for (auto& d : t.dst) d.write_strings(s.first_wafer + first, values);
        } else {
          // Converted to the first file's type where the files' types differ.
          buf.resize(n * t.elem);
          src.read_hyperslab(t.mem->id(), buf.data(), {first}, {n});
          for (auto& d : t.dst)
            d.write_hyperslab(t.mem->id(), buf.data(), {s.first_wafer + first}, {n});
        }
      }
    }
  }
}

}  // namespace wafermill::format
