/// @file trace_index.cpp
/// @brief Reading and validating the index of a "wafermill traces v1" file (docs/FORMAT.md).
/// The checks follow FIELD_NOTES "Malformed input": every size is checked against the file
/// before anything is allocated, only built-in filters run, and nothing outside the file is
/// followed.
#include "wafermill/format/trace_index.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <type_traits>

#include "in_place.hpp"
#include "type_text.hpp"
#include "wafermill/error.hpp"
#include "wafermill/format/h5.hpp"

namespace wafermill::format {
namespace {

/// Deflate cannot compress by more than about 1032:1 (zlib technical details), so a filtered
/// dataset claiming more logical bytes than this multiple of the file is damaged.
constexpr std::uint64_t kMaxCompressionRatio = 1100;

/// Where problems go: thrown at once (read_trace_index) or collected (validate_trace_file).
class Problems {
 public:
  explicit Problems(bool collect) : collect_(collect) {}
  void add(std::string message) {
    if (!collect_) throw InputError(message);
    list_.push_back(std::move(message));
  }
  std::size_t count() const { return list_.size(); }
  std::vector<std::string> take() { return std::move(list_); }

 private:
  bool collect_;
  std::vector<std::string> list_;
};

/// What the common dataset checks learnt.
struct DatasetFacts {
  std::vector<std::uint64_t> dims;
  h5::TypeInfo type;
  h5::StorageInfo storage;
  std::uint64_t logical_bytes = 0;
};

/// Returns an empty string when `t` is acceptable, else what was expected.
using TypeRule = std::function<std::string(const h5::TypeInfo& t)>;

using detail::describe;
using detail::dims_text;

// The n values of type T at `raw`, widened to the bits of an int64, uint64 or double.
template <class T>
std::vector<std::uint64_t> widen(const unsigned char* raw, std::uint64_t n) {
  std::vector<std::uint64_t> words(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    T t;
    std::memcpy(&t, raw + i * sizeof t, sizeof t);
    using Wide =
        std::conditional_t<std::is_floating_point_v<T>, double,
                           std::conditional_t<std::is_signed_v<T>, std::int64_t, std::uint64_t>>;
    const Wide x = t;
    std::memcpy(&words[i], &x, 8);
  }
  return words;
}

// The values of a 1-D dataset of numbers of at most 8 bytes, widened to int64, uint64 or double
// bits, or nothing for other types. Read in the stored type's native form, without HDF5's
// conversion: a converting read allocates and zeroes a 1 MiB buffer, the largest cost of a
// small file's read in the input checks' child (bench/input_checks: 0.45 -> 0.31 ms a file).
using WidenedValues = std::pair<WaferFieldValues::Kind, std::vector<std::uint64_t>>;

std::optional<WidenedValues> read_widened(const h5::Dataset& ds, const h5::TypeInfo& type,
                                          std::uint64_t n) {
  using Kind = WaferFieldValues::Kind;
  if (type.type_class != h5::TypeClass::integer && type.type_class != h5::TypeClass::floating)
    return std::nullopt;
  const h5::Handle mem = ds.memory_type();
  const std::size_t size = H5Tget_size(mem.id());
  const bool floating = type.type_class == h5::TypeClass::floating;
  std::vector<std::uint64_t> (*to_words)(const unsigned char*, std::uint64_t) = nullptr;
  if (floating)
    to_words = size == 4 ? widen<float> : size == 8 ? widen<double> : nullptr;
  else if (type.is_signed)
    to_words = size == 1   ? widen<std::int8_t>
               : size == 2 ? widen<std::int16_t>
               : size == 4 ? widen<std::int32_t>
               : size == 8 ? widen<std::int64_t>
                           : nullptr;
  else
    to_words = size == 1   ? widen<std::uint8_t>
               : size == 2 ? widen<std::uint16_t>
               : size == 4 ? widen<std::uint32_t>
               : size == 8 ? widen<std::uint64_t>
                           : nullptr;
  if (to_words == nullptr) return std::nullopt;
  std::vector<unsigned char> raw(n * size);
  if (n > 0) ds.read_hyperslab(mem.id(), raw.data(), {0}, {n});
  return std::make_pair(floating         ? Kind::f64
                        : type.is_signed ? Kind::i64
                                         : Kind::u64,
                        to_words(raw.data(), n));
}

// Non-zero, for a widened value of `kind` (-0.0 is zero).
bool nonzero(WaferFieldValues::Kind kind, std::uint64_t w) {
  if (kind != WaferFieldValues::Kind::f64) return w != 0;
  double d = 0;
  std::memcpy(&d, &w, 8);
  return d != 0.0;
}

class Inspector {
 public:
  Inspector(std::string path, bool collect, bool field_values = false)
      : path_(std::move(path)), problems_(collect), field_values_(field_values) {}

  TraceIndex run(bool full_step_scan);
  /// run() on a file the caller has open (and has checked to be a regular HDF5 file).
  TraceIndex run_open(const h5::File& file, bool full_step_scan);
  std::vector<std::string> take_problems() { return problems_.take(); }

 private:
  void problem(const std::string& object, const std::string& what) {
    problems_.add(path_ + ": " + object + ": " + what);
  }
  /// "<file>: <object>[<i>] = <value><rest>", the form of per-element problems.
  void element_problem(const std::string& object, std::uint64_t i, const std::string& value,
                       const std::string& rest) {
    problems_.add(path_ + ": " + object + "[" + std::to_string(i) + "] = " + value + rest);
  }
  /// Runs one section; an HDF5 failure inside it (damaged metadata or data) becomes a
  /// problem naming its object, and later sections still run when collecting.
  void section(const std::function<void()>& body);
  /// Opens `name` in `group` only if it is a hard link to a dataset; reports otherwise.
  std::optional<h5::Dataset> open_dataset(const h5::Group& group, const std::string& name,
                                          bool required);
  std::optional<DatasetFacts> check_dataset(const h5::Dataset& ds, std::size_t rank,
                                            const TypeRule& rule, bool must_be_written);
  void read_offsets(const h5::Dataset& ds, const DatasetFacts& facts, bool n_samples_known,
                    TraceIndex& index);
  void read_steps(const h5::Dataset& ds, TraceIndex& index, bool full_scan);
  void read_sensor_names(const h5::Dataset& values, TraceIndex& index);
  void read_wafer_fields(const h5::File& file, TraceIndex& index);
  // Appends the values of the /wafers field `ds` to index.field_values (numbers: `widened`, its
  // read_widened), or empties them all when it is a kind they cannot hold exactly (numbers wider
  // than 8 bytes: `widened` is nullopt).
  void read_field_values(const h5::Dataset& ds, const h5::TypeInfo& type,
                         std::optional<WidenedValues> widened, TraceIndex& index);
  void inspect(const h5::File& file, TraceIndex& index, bool full_step_scan);

  std::string path_;
  Problems problems_;
  bool field_values_ = false;         // read the /wafers values too (TraceIndex::field_values)
  bool field_values_failed_ = false;  // a field they cannot hold: none are kept
  std::uint64_t file_size_ = 0;
};

void Inspector::section(const std::function<void()>& body) {
  try {
    body();
  } catch (const HdfError& e) {
    problems_.add(std::string(e.what()));
  }
}

std::optional<h5::Dataset> Inspector::open_dataset(const h5::Group& group, const std::string& name,
                                                   bool required) {
  const std::string object = group.path() + "/" + name;
  switch (group.link_kind(name)) {
    case h5::LinkKind::none:
      if (required) problem(object, "missing (required dataset)");
      return std::nullopt;
    case h5::LinkKind::hard:
      break;
    case h5::LinkKind::external:
      problem(object, "is an external link; links leaving the file are not accepted");
      return std::nullopt;
    default:
      problem(object, "is a soft or user-defined link; only hard links are accepted");
      return std::nullopt;
  }
  // Opened first, its kind asked only when that fails: H5Oget_info costs as much as the open,
  // and an index of a night's small files opens a handful of datasets per file.
  try {
    return group.open_dataset(name);
  } catch (const HdfError&) {
    if (group.object_kind(name) != h5::ObjectKind::dataset) {
      problem(object, "is not a dataset");
      return std::nullopt;
    }
    throw;  // a dataset HDF5 cannot open: the section names it with HDF5's reason
  }
}

std::optional<DatasetFacts> Inspector::check_dataset(const h5::Dataset& ds, std::size_t rank,
                                                     const TypeRule& rule, bool must_be_written) {
  const std::string& object = ds.path();
  DatasetFacts f;
  f.dims = ds.dims();
  if (f.dims.size() != rank) {
    problem(object, "has rank " + std::to_string(f.dims.size()) + " " + dims_text(f.dims) +
                        ", expected rank " + std::to_string(rank));
    return std::nullopt;
  }
  const auto max_dims = ds.max_dims();
  for (std::size_t i = 0; i < rank; ++i) {
    if (f.dims[i] > max_dims[i]) {
      problem(object, "dimension " + std::to_string(i) + " = " + std::to_string(f.dims[i]) +
                          " exceeds its maximum " + std::to_string(max_dims[i]));
      return std::nullopt;
    }
  }
  f.type = ds.type();
  if (const std::string expected = rule(f.type); !expected.empty()) {
    problem(object, "has type " + describe(f.type) + ", expected " + expected);
    return std::nullopt;
  }
  f.storage = ds.storage();
  const auto& st = f.storage;
  if (st.layout == h5::Layout::virtual_) {
    problem(object, "is a virtual dataset; only data stored in the file is accepted");
    return std::nullopt;
  }
  if (st.layout == h5::Layout::other) {
    problem(object, "has an unknown storage layout");
    return std::nullopt;
  }
  if (st.external_files > 0) {
    problem(object, "uses external storage; only data stored in the file is accepted");
    return std::nullopt;
  }
  for (int filter : st.filters) {
    if (filter != H5Z_FILTER_DEFLATE && filter != H5Z_FILTER_SHUFFLE &&
        filter != H5Z_FILTER_FLETCHER32) {
      problem(object, "uses HDF5 filter " + std::to_string(filter) +
                          "; only deflate (gzip), shuffle and fletcher32 are accepted");
      return std::nullopt;
    }
  }
  if (__builtin_mul_overflow(std::uint64_t{1}, f.type.size, &f.logical_bytes)) return std::nullopt;
  for (auto d : f.dims) {
    if (__builtin_mul_overflow(f.logical_bytes, d, &f.logical_bytes)) {
      problem(object, "extent " + dims_text(f.dims) + " of " + std::to_string(f.type.size) +
                          "-byte elements overflows 64 bits");
      return std::nullopt;
    }
  }
  if (st.layout == h5::Layout::chunked) {
    std::uint64_t chunk_bytes = f.type.size;
    bool bad = st.chunk.size() != rank;
    for (std::size_t i = 0; !bad && i < rank; ++i) {
      bad = st.chunk[i] == 0 || __builtin_mul_overflow(chunk_bytes, st.chunk[i], &chunk_bytes);
    }
    if (bad || chunk_bytes > kMaxChunkBytes) {
      problem(object, "has chunk dims " + dims_text(st.chunk) + "; chunks must match the rank " +
                          "and hold at most " + std::to_string(kMaxChunkBytes) + " bytes");
      return std::nullopt;
    }
  }
  const bool filtered = !st.filters.empty();
  const std::uint64_t ratio = filtered ? kMaxCompressionRatio : 1;
  std::uint64_t bound = 0;
  if (__builtin_mul_overflow(file_size_, ratio, &bound)) bound = UINT64_MAX;
  if (f.logical_bytes > bound) {
    problem(object, "extent " + dims_text(f.dims) + " needs " + std::to_string(f.logical_bytes) +
                        " bytes, impossible in a file of " + std::to_string(file_size_) + " bytes");
    return std::nullopt;
  }
  if (must_be_written && f.logical_bytes > 0) {
    if (!filtered && st.layout != h5::Layout::compact && st.storage_bytes < f.logical_bytes) {
      problem(object, "only " + std::to_string(st.storage_bytes) + " of " +
                          std::to_string(f.logical_bytes) +
                          " bytes are stored; the dataset was not completely written");
      return std::nullopt;
    }
    if (filtered &&
        (st.storage_bytes == 0 || st.storage_bytes < f.logical_bytes / kMaxCompressionRatio)) {
      problem(object, "stores " + std::to_string(st.storage_bytes) + " bytes for " +
                          std::to_string(f.logical_bytes) +
                          " bytes of data; the dataset was not completely written");
      return std::nullopt;
    }
    if (st.file_offset &&
        (*st.file_offset > file_size_ || file_size_ - *st.file_offset < f.logical_bytes)) {
      problem(object, "data at byte " + std::to_string(*st.file_offset) + " + " +
                          std::to_string(f.logical_bytes) + " lies past the end of the file (" +
                          std::to_string(file_size_) + " bytes): the file is truncated");
      return std::nullopt;
    }
  }
  return f;
}

void Inspector::read_offsets(const h5::Dataset& ds, const DatasetFacts& facts, bool n_samples_known,
                             TraceIndex& index) {
  const std::string& object = ds.path();
  const std::uint64_t n = facts.dims[0];
  if (n == 0) {
    problem(object, "is empty; it needs n_wafers + 1 >= 1 entries");
    return;
  }
  index.n_wafers = n - 1;
  // Size already bounded by the file size in check_dataset, so this allocation is safe.
  index.offsets.resize(n);
  if (facts.type.is_signed) {
    // Read signed values as such: a conversion to uint64 would clamp negatives to 0.
    const auto raw = ds.read_all<std::int64_t>();
    for (std::uint64_t i = 0; i < n; ++i) {
      if (raw[i] < 0) {
        element_problem(object, i, std::to_string(raw[i]), ": offsets must not be negative");
        return;
      }
      index.offsets[i] = static_cast<std::uint64_t>(raw[i]);
    }
  } else {
    ds.read(std::span<std::uint64_t>(index.offsets), {0}, {n});
  }
  const auto& off = index.offsets;
  if (off[0] != 0) {
    element_problem(object, 0, std::to_string(off[0]), ", expected 0: offsets start at row 0");
  }
  for (std::uint64_t i = 1; i < n; ++i) {
    if (off[i] < off[i - 1]) {
      element_problem(object, i, std::to_string(off[i]),
                      " < offsets[" + std::to_string(i - 1) + "] = " + std::to_string(off[i - 1]) +
                          ": offsets must be non-decreasing");
      break;  // later indices would only repeat the same fault
    }
  }
  if (n_samples_known && off[n - 1] != index.n_samples) {
    element_problem(object, n - 1, std::to_string(off[n - 1]),
                    ", expected n_samples = " + std::to_string(index.n_samples) +
                        " (rows of /traces/values): the last offset ends the last wafer");
  }
}

void Inspector::read_steps(const h5::Dataset& ds, TraceIndex& index, bool full_scan) {
  const std::string& object = ds.path();
  const auto facts = check_dataset(
      ds, 1,
      [](const h5::TypeInfo& t) {
        return t.type_class == h5::TypeClass::integer && t.size <= 8 ? "" : "an integer type";
      },
      true);
  if (!facts) return;
  if (facts->dims[0] != index.n_samples) {
    problem(object, "has " + std::to_string(facts->dims[0]) +
                        " entries, expected n_samples = " + std::to_string(index.n_samples));
    return;
  }
  index.has_steps = true;
  // Read by pread into the caller's buffer (trace_reader.cpp): any address will do.
  index.steps_at = detail::native_run(ds, facts->storage, h5::Elem::i32, index.n_samples, 0, false)
                       .value_or(kNotInPlace);
  std::optional<std::int64_t> declared;
  if (ds.has_attribute("n_steps")) {
    const auto t = ds.attribute_type("n_steps");
    if (t.type_class != h5::TypeClass::integer || ds.attribute_size("n_steps") != 1) {
      problem(object + " attribute n_steps", "must be a single integer");
      return;
    }
    declared = ds.read_int_attribute("n_steps");
    if (*declared < 1 || *declared > kMaxSteps) {
      problem(object + " attribute n_steps",
              "= " + std::to_string(*declared) + ", expected 1.." + std::to_string(kMaxSteps));
      return;
    }
    index.n_steps = static_cast<std::uint32_t>(*declared);
    if (!full_scan) return;
  }
  // Bounded-memory scan: kStepScanRows values per read, converted by HDF5 to int64 (values
  // of a uint64 file type above INT64_MAX saturate, and so still fail the range check).
  const std::int64_t limit = declared ? *declared : std::int64_t{kMaxSteps};
  std::vector<std::int64_t> buf;
  std::int64_t largest = -1;
  for (std::uint64_t first = 0; first < index.n_samples; first += kStepScanRows) {
    const std::uint64_t n = std::min(kStepScanRows, index.n_samples - first);
    buf.resize(n);
    ds.read(std::span<std::int64_t>(buf), {first}, {n});
    for (std::uint64_t i = 0; i < n; ++i) {
      if (buf[i] < 0 || buf[i] >= limit) {
        element_problem(object, first + i, std::to_string(buf[i]),
                        " outside [0, " + std::to_string(limit) + ")" +
                            (declared ? " (attribute n_steps)" : " (at most kMaxSteps steps)"));
        return;
      }
      largest = std::max(largest, buf[i]);
    }
  }
  if (!declared) index.n_steps = static_cast<std::uint32_t>(largest + 1);
}

void Inspector::read_sensor_names(const h5::Dataset& values, TraceIndex& index) {
  const std::string object = values.path() + " attribute sensor_names";
  if (values.has_attribute("sensor_names")) {
    const auto t = values.attribute_type("sensor_names");
    const std::uint64_t n = values.attribute_size("sensor_names");
    const std::uint64_t bytes = values.attribute_storage_bytes("sensor_names");
    if (t.type_class != h5::TypeClass::string) {
      problem(object, "has type " + describe(t) + ", expected strings");
    } else if (n != index.n_sensors) {
      problem(object, "has " + std::to_string(n) +
                          " names, expected n_sensors = " + std::to_string(index.n_sensors));
    } else if (bytes > kMaxAttributeBytes) {
      problem(object, "occupies " + std::to_string(bytes) + " bytes, more than " +
                          std::to_string(kMaxAttributeBytes));
    } else {
      index.sensor_names = values.read_strings_attribute("sensor_names");
      return;
    }
  }
  index.sensor_names.clear();
  for (std::uint64_t i = 0; i < index.n_sensors; ++i) {
    index.sensor_names.push_back("sensor_" + std::to_string(i));
  }
}

void Inspector::read_field_values(const h5::Dataset& ds, const h5::TypeInfo& type,
                                  std::optional<WidenedValues> widened, TraceIndex& index) {
  if (field_values_failed_) return;
  WaferFieldValues v;
  v.name = ds.path().substr(ds.path().rfind('/') + 1);
  const std::uint64_t n = index.n_wafers;
  if (type.type_class == h5::TypeClass::string) {
    v.kind = WaferFieldValues::Kind::strings;
    if (n > 0) v.strings = ds.read_strings(0, n);
  } else if (widened) {
    v.kind = widened->first;
    v.words = std::move(widened->second);
  } else {
    field_values_failed_ = true;  // the copy then reads the file itself
    index.field_values.clear();
    return;
  }
  index.field_values.push_back(std::move(v));
}

void Inspector::read_wafer_fields(const h5::File& file, TraceIndex& index) {
  switch (file.link_kind("wafers")) {
    case h5::LinkKind::none:
      return;
    case h5::LinkKind::hard:
      break;
    case h5::LinkKind::external:
      problem("/wafers", "is an external link; links leaving the file are not accepted");
      return;
    default:
      problem("/wafers", "is a soft or user-defined link");
      return;
  }
  if (file.object_kind("wafers") != h5::ObjectKind::group) {
    problem("/wafers", "is not a group");
    return;
  }
  const h5::Group wafers = file.open_group("wafers");
  for (const auto& name : wafers.link_names()) {
    section([&] {
      auto ds = open_dataset(wafers, name, true);
      if (!ds) return;
      const auto facts = check_dataset(
          *ds, 1,
          [](const h5::TypeInfo& t) {
            return t.type_class == h5::TypeClass::other ? "a number or a string" : "";
          },
          false);
      if (!facts) return;
      if (facts->dims[0] != index.n_wafers) {
        problem(ds->path(), "has " + std::to_string(facts->dims[0]) +
                                " entries, expected n_wafers = " + std::to_string(index.n_wafers));
        return;
      }
      const bool strings = facts->type.type_class == h5::TypeClass::string;
      index.wafer_fields.push_back({name, strings});
      // The labels travel with the index (1 byte a wafer): the scoring pass then opens no file.
      const bool labels = name == "label" && !strings;
      // Numbers are read once, for the labels and the carried values alike.
      std::optional<WidenedValues> widened;
      if (!strings && (labels || (field_values_ && !field_values_failed_)))
        widened = read_widened(*ds, facts->type, index.n_wafers);
      if (labels) {
        index.labels.resize(index.n_wafers);
        if (widened) {
          for (std::uint64_t i = 0; i < index.n_wafers; ++i)
            index.labels[i] = nonzero(widened->first, widened->second[i]) ? 1 : 0;
        } else {  // wider than 8 bytes: through HDF5's conversion to double
          std::vector<double> values(index.n_wafers);
          if (!values.empty()) ds->read(std::span<double>(values), {0}, {index.n_wafers});
          for (std::size_t i = 0; i < values.size(); ++i)
            index.labels[i] = values[i] != 0.0 ? 1 : 0;
        }
        index.has_labels = true;
      }
      if (field_values_) read_field_values(*ds, facts->type, std::move(widened), index);
    });
  }
}

TraceIndex Inspector::run(bool full_step_scan) {
  TraceIndex index;
  index.path = path_;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path_, ec)) {
    problems_.add(path_ + ": no such file");
    return index;
  }
  file_size_ = std::filesystem::file_size(path_, ec);
  index.file_size = file_size_;
  if (!h5::File::is_hdf5(path_)) {
    problems_.add(path_ + " is not an HDF5 file");
    return index;
  }
  h5::File file;
  try {
    file = h5::File::open_read(path_);
  } catch (const FileInUseError& e) {
    problems_.add(e.what());  // held by a writer: not damage, and the message says what to do
    return index;
  } catch (const HdfError& e) {
    std::string why = e.what();
    if (why.rfind(path_ + ": ", 0) == 0) why.erase(0, path_.size() + 2);
    problems_.add(path_ + " cannot be opened as HDF5 (truncated or damaged?): " + why);
    return index;
  }
  inspect(file, index, full_step_scan);
  return index;
}

TraceIndex Inspector::run_open(const h5::File& file, bool full_step_scan) {
  TraceIndex index;
  index.path = path_;
  std::error_code ec;
  file_size_ = std::filesystem::file_size(path_, ec);
  index.file_size = file_size_;
  inspect(file, index, full_step_scan);
  return index;
}

void Inspector::inspect(const h5::File& file, TraceIndex& index, bool full_step_scan) {
  section([&] {
    switch (file.link_kind("traces")) {
      case h5::LinkKind::none:
        problem("/traces", "missing (required group)");
        return;
      case h5::LinkKind::hard:
        break;
      default:
        problem("/traces", "is not a hard link; links leaving the file are not accepted");
        return;
    }
    if (file.object_kind("traces") != h5::ObjectKind::group) {
      problem("/traces", "is not a group");
      return;
    }
    const h5::Group traces = file.open_group("traces");
    auto values = open_dataset(traces, "values", true);
    std::optional<DatasetFacts> values_facts;
    if (values) {
      values_facts = check_dataset(
          *values, 2,
          [](const h5::TypeInfo& t) {
            return t.type_class == h5::TypeClass::floating && (t.size == 4 || t.size == 8)
                       ? ""
                       : "float32 or float64";
          },
          true);
    }
    if (values_facts) {
      index.n_samples = values_facts->dims[0];
      index.n_sensors = values_facts->dims[1];
      index.value_type = values_facts->type.size == 4 ? ValueType::float32 : ValueType::float64;
      index.values_chunked = values_facts->storage.layout == h5::Layout::chunked;
      index.values_filtered = !values_facts->storage.filters.empty();
      if (index.values_chunked && values_facts->storage.chunk.size() == 2) {
        index.values_chunk_rows = values_facts->storage.chunk[0];
        index.values_chunk_cols = values_facts->storage.chunk[1];
      }
      if (index.n_sensors == 0) problem(values->path(), "has no sensors (0 columns)");
      // Found here, where the dataset is open, so that readers need not open the file.
      else
        index.values_at = detail::native_run(*values, values_facts->storage,
                                             index.value_type == ValueType::float32 ? h5::Elem::f32
                                                                                    : h5::Elem::f64,
                                             index.n_samples, index.n_sensors)
                              .value_or(kNotInPlace);
      section([&] { read_sensor_names(*values, index); });
    }
    section([&] {
      auto offsets = open_dataset(traces, "offsets", true);
      if (!offsets) return;
      const auto facts = check_dataset(
          *offsets, 1,
          [](const h5::TypeInfo& t) {
            return t.type_class == h5::TypeClass::integer && t.size == 8 ? "" : "int64 or uint64";
          },
          true);
      if (facts) read_offsets(*offsets, *facts, values_facts.has_value(), index);
    });
    // Steps are checked against n_samples: without valid values there is nothing to compare.
    if (!values_facts) return;
    section([&] {
      if (auto step = open_dataset(traces, "step", false)) read_steps(*step, index, full_step_scan);
    });
  });
  if (!index.offsets.empty()) section([&] { read_wafer_fields(file, index); });
}

}  // namespace

TraceIndex read_trace_index(const std::string& path) {
  Inspector inspector(path, false);
  return inspector.run(false);
}

TraceIndex read_trace_index(const std::string& path, const h5::File& file, bool field_values) {
  Inspector inspector(path, false, field_values);
  return inspector.run_open(file, false);
}

std::vector<std::string> validate_trace_file(const std::string& path) {
  Inspector inspector(path, true);
  try {
    (void)inspector.run(true);
  } catch (const std::exception& e) {
    // Collecting mode throws only on failures outside HDF5 calls (e.g. out of memory).
    auto problems = inspector.take_problems();
    problems.push_back(path + ": " + e.what());
    return problems;
  }
  return inspector.take_problems();
}

}  // namespace wafermill::format
