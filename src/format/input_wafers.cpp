/// @file input_wafers.cpp
/// @brief The input's /wafers/* copied into an output (input_wafers.hpp).
#include "wafermill/format/input_wafers.hpp"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <optional>
#include <span>
#include <stdexcept>
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

// One output field of copy_input_wafers and copy_source_wafers: rows buffered from the file(s),
// then written to every destination at once. Three kinds: a generated int64 column
// (source_file, source_index), strings, and numbers kept in the memory form of the first file's
// type (others converted); numbers pass through memory in that type's native form.
class Field {
 public:
  explicit Field(h5::Dataset dst) : kind_(Kind::ints) { dst_.push_back(std::move(dst)); }
  explicit Field(std::vector<h5::Dataset> dst) : kind_(Kind::strings), dst_(std::move(dst)) {}
  Field(std::vector<h5::Dataset> dst, h5::Handle mem, const std::string& file,
        const std::string& object)
      : kind_(Kind::numbers), dst_(std::move(dst)), mem_(std::move(mem)) {
    elem_ = H5Tget_size(mem_->id());
    if (elem_ == 0) h5::fail(file, object, "H5Tget_size");
  }

  /// Appends v0, v0 + stride, … (n values) to an int64 column.
  void append_sequence(std::int64_t v0, std::int64_t stride, std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i)
      ints_.push_back(v0 + stride * static_cast<std::int64_t>(i));
  }

  /// Appends rows [first, first + n) of a carried field (of the same kind: strings or numbers).
  void append(const WaferFieldValues& v, std::uint64_t first, std::uint64_t n) {
    if (kind_ == Kind::strings) {
      if (v.kind != WaferFieldValues::Kind::strings || first + n > v.strings.size())
        throw std::runtime_error("copy_source_wafers: carried field " + v.name + " does not fit");
      strings_.insert(strings_.end(), v.strings.begin() + static_cast<std::ptrdiff_t>(first),
                      v.strings.begin() + static_cast<std::ptrdiff_t>(first + n));
      return;
    }
    if (v.kind == WaferFieldValues::Kind::strings || first + n > v.words.size())
      throw std::runtime_error("copy_source_wafers: carried field " + v.name + " does not fit");
    const hid_t from = v.kind == WaferFieldValues::Kind::f64   ? H5T_NATIVE_DOUBLE
                       : v.kind == WaferFieldValues::Kind::i64 ? H5T_NATIVE_INT64
                                                               : H5T_NATIVE_UINT64;
    // Converted in place by HDF5 (as a read converts the file's own values), in a buffer wide
    // enough for either type; then the converted rows are kept.
    std::vector<unsigned char> conv(n * std::max<std::size_t>(8, elem_));
    std::memcpy(conv.data(), v.words.data() + first, n * 8);
    if (n > 0 && H5Tconvert(from, mem_->id(), n, conv.data(), nullptr, H5P_DEFAULT) < 0)
      throw std::runtime_error("copy_source_wafers: converting carried field " + v.name +
                               " failed");
    bytes_.insert(bytes_.end(), conv.begin(),
                  conv.begin() + static_cast<std::ptrdiff_t>(n * elem_));
  }

  /// Appends rows [first, first + n) of `src`.
  void append(const h5::Dataset& src, std::uint64_t first, std::uint64_t n) {
    if (kind_ == Kind::strings) {
      auto values = src.read_strings(first, n);
      std::move(values.begin(), values.end(), std::back_inserter(strings_));
      return;
    }
    const std::size_t at = bytes_.size();
    bytes_.resize(at + n * elem_);
    src.read_hyperslab(mem_->id(), bytes_.data() + at, {first}, {n});
  }

  /// Writes the n buffered rows at output wafer `first` and empties the buffer.
  void flush(std::uint64_t first, std::uint64_t n) {
    if (n == 0) return;
    for (auto& d : dst_) {
      switch (kind_) {
        case Kind::ints:
          d.write(std::span<const std::int64_t>(ints_), {first}, {n});
          break;
        case Kind::strings:
          d.write_strings(first, strings_);
          break;
        case Kind::numbers:
          d.write_hyperslab(mem_->id(), bytes_.data(), {first}, {n});
          break;
      }
    }
    ints_.clear();
    strings_.clear();
    bytes_.clear();
  }

 private:
  enum class Kind { ints, strings, numbers };
  Kind kind_;
  std::vector<h5::Dataset> dst_;
  std::optional<h5::Handle> mem_;
  std::size_t elem_ = 0;
  std::vector<std::int64_t> ints_;
  std::vector<std::string> strings_;
  std::vector<unsigned char> bytes_;
};

// The output field `src` (of `file`) is copied to: n rows under `into` (group, name) each, in
// that order, as variable-length strings or in src's stored type.
Field input_field(const std::string& file, const h5::Dataset& src, bool is_string, std::uint64_t n,
                  const std::vector<std::pair<h5::Group*, std::string>>& into) {
  std::vector<h5::Dataset> dst;
  for (const auto& [group, name] : into)
    dst.push_back(is_string ? group->create_string_dataset(name, n)
                            : group->create_dataset_like(name, src, {n}));
  if (is_string) return Field(std::move(dst));
  return Field(std::move(dst), src.memory_type(), file, src.path());
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
    if (type.type_class != h5::TypeClass::string && type.type_class != h5::TypeClass::integer &&
        type.type_class != h5::TypeClass::floating)
      throw InputError(input_path + ": /wafers/" + name + " is neither numbers nor strings");
    std::vector<std::pair<h5::Group*, std::string>> into = {{&copy, name}};
    if (also_into) into.emplace_back(also_into, legacy_name(name));
    Field field =
        input_field(input_path, src, type.type_class == h5::TypeClass::string, dims[0], into);
    for (std::uint64_t first = 0; first < dims[0]; first += kCopyRows) {
      const std::uint64_t n = std::min(kCopyRows, dims[0] - first);
      field.append(src, first, n);
      field.flush(first, n);
    }
  }
}

void copy_source_wafers(const TraceIndex& index, h5::Group& output_root, h5::Group& wafers,
                        const std::vector<std::string>& carried) {
  const std::uint64_t W = index.n_wafers;
  const std::vector<TraceSource> sources = index.files();
  // Which file and which of its wafers: /wafers/source_file indexes /inputs/files.
  h5::Group inputs = output_root.create_group("inputs");
  h5::Dataset files = inputs.create_string_dataset("files", sources.size());
  {
    std::vector<std::string> names;
    for (const auto& s : sources) names.push_back(s.path);
    files.write_strings(0, names);
  }
  const bool fields = !index.sources.empty() && !index.wafer_fields.empty();
  // Several files: the fields they all hold (merge_trace_indexes), shaped after the first file's.
  std::vector<Field> out;
  out.emplace_back(wafers.create_dataset("source_file", h5::Elem::i64, {W}));
  out.emplace_back(wafers.create_dataset("source_index", h5::Elem::i64, {W}));
  if (fields) {
    h5::Group input = output_root.has_group("input") ? output_root.open_group("input")
                                                     : output_root.create_group("input");
    h5::Group copy = input.create_group("wafers");
    const h5::File in = h5::File::open_read(sources.front().path);
    const h5::Group g = in.open_group("wafers");
    for (const WaferField& field : index.wafer_fields) {
      out.push_back(input_field(sources.front().path, g.open_dataset(field.name), field.is_string,
                                W, {{&copy, field.name}, {&wafers, legacy_name(field.name)}}));
    }
  }
  // File after file into buffers of at most kCopyRows rows, each written once: a night of
  // thousands of small files costs one read per file and field, not one write per file and
  // field (issue 19: this runs on rank 0 alone).
  std::uint64_t pending = 0;  // rows buffered, from wafer `at`
  std::uint64_t at = 0;
  auto flush = [&] {
    for (Field& f : out) f.flush(at, pending);
    at += pending;
    pending = 0;
  };
  for (std::size_t k = 0; k < sources.size(); ++k) {
    const TraceSource& s = sources[k];
    if (s.n_wafers == 0) continue;
    std::optional<h5::File> in;
    std::optional<h5::Group> g;
    // The carried values of this file's fields, in index.wafer_fields' order, else the file.
    std::vector<const WaferFieldValues*> values;
    std::vector<WaferFieldValues> decoded;
    if (fields && k < carried.size() && !carried[k].empty()) {
      decoded = WaferFieldValues::decode(carried[k]);
      for (const WaferField& field : index.wafer_fields) {
        const auto it =
            std::find_if(decoded.begin(), decoded.end(),
                         [&](const WaferFieldValues& v) { return v.name == field.name; });
        if (it == decoded.end())
          throw std::runtime_error("copy_source_wafers: " + s.path +
                                   ": carried values lack /wafers/" + field.name);
        values.push_back(&*it);
      }
    }
    if (fields && values.empty()) {
      in.emplace(h5::File::open_read(s.path));
      g.emplace(in->open_group("wafers"));
    }
    for (std::uint64_t first = 0; first < s.n_wafers;) {
      const std::uint64_t n = std::min(kCopyRows - pending, s.n_wafers - first);
      out[0].append_sequence(static_cast<std::int64_t>(k), 0, n);
      out[1].append_sequence(static_cast<std::int64_t>(first), 1, n);
      for (std::size_t i = 0; fields && i < index.wafer_fields.size(); ++i) {
        if (!values.empty())
          out[2 + i].append(*values[i], first, n);
        else
          out[2 + i].append(g->open_dataset(index.wafer_fields[i].name), first, n);
      }
      pending += n;
      first += n;
      if (pending == kCopyRows) flush();
    }
  }
  flush();
}

}  // namespace wafermill::format
