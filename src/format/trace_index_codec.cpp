/// @file trace_index_codec.cpp
/// @brief TraceIndex::serialize / deserialize: a flat byte encoding so rank 0 can broadcast
/// the index it read (the other ranks then never parse the file's metadata themselves).
#include <cstring>
#include <stdexcept>
#include <string_view>
#include <type_traits>

#include "wafermill/format/trace_index.hpp"

namespace wafermill::format {
namespace {

/// Encoding version tag: bump when a field is added.
constexpr std::uint64_t kMagic = 0x34584449544d57ULL;  // "WMTIDX4" little-endian

class Writer {
 public:
  template <class T>
  void put(T v) {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto* p = reinterpret_cast<const char*>(&v);
    out.insert(out.end(), p, p + sizeof v);
  }
  void put(const std::string& s) {
    put<std::uint64_t>(s.size());
    out.insert(out.end(), s.begin(), s.end());
  }
  std::vector<char> out;
};

class Reader {
 public:
  explicit Reader(std::string_view b) : bytes(b) {}
  template <class T>
  T get() {
    static_assert(std::is_trivially_copyable_v<T>);
    need(sizeof(T));
    T v;
    std::memcpy(&v, bytes.data() + pos, sizeof v);
    pos += sizeof v;
    return v;
  }
  std::string get_string() {
    const auto n = get<std::uint64_t>();
    need(n);
    std::string s(bytes.data() + pos, n);
    pos += n;
    return s;
  }
  /// A count of items each taking at least `min_bytes`: checked against what remains, so a
  /// damaged buffer cannot request a huge allocation.
  std::uint64_t get_count(std::uint64_t min_bytes) {
    const auto n = get<std::uint64_t>();
    if (n > (bytes.size() - pos) / min_bytes) throw std::runtime_error("TraceIndex: bad count");
    return n;
  }
  void need(std::uint64_t n) const {
    if (n > bytes.size() - pos) throw std::runtime_error("TraceIndex: truncated buffer");
  }
  std::string_view bytes;
  std::size_t pos = 0;
};

}  // namespace

std::vector<char> TraceIndex::serialize() const {
  Writer w;
  w.put(kMagic);
  w.put(path);
  w.put(file_size);
  w.put(n_wafers);
  w.put(n_samples);
  w.put(n_sensors);
  w.put(static_cast<std::uint8_t>(value_type));
  w.put(static_cast<std::uint8_t>(values_chunked));
  w.put(static_cast<std::uint8_t>(values_filtered));
  w.put(values_chunk_rows);
  w.put(values_chunk_cols);
  w.put(static_cast<std::uint8_t>(has_steps));
  w.put(n_steps);
  w.put(values_at);
  w.put(steps_at);
  w.put<std::uint64_t>(offsets.size());
  for (auto o : offsets) w.put(o);
  w.put<std::uint64_t>(sensor_names.size());
  for (const auto& s : sensor_names) w.put(s);
  w.put<std::uint64_t>(wafer_fields.size());
  for (const auto& f : wafer_fields) {
    w.put(f.name);
    w.put(static_cast<std::uint8_t>(f.is_string));
  }
  w.put(static_cast<std::uint8_t>(has_labels));
  w.put<std::uint64_t>(labels.size());
  w.out.insert(w.out.end(), labels.begin(), labels.end());
  w.put<std::uint64_t>(sources.size());
  for (const auto& s : sources) {
    w.put(s.path);
    w.put(s.file_size);
    w.put(s.first_wafer);
    w.put(s.n_wafers);
    w.put(s.first_row);
    w.put(s.n_rows);
    w.put(s.n_sensors);
    w.put(static_cast<std::uint8_t>(s.value_type));
    w.put(static_cast<std::uint8_t>(s.values_filtered));
    w.put(s.values_chunk_rows);
    w.put(s.values_chunk_cols);
    w.put(static_cast<std::uint8_t>(s.has_steps));
    w.put(s.n_steps);
    w.put(s.values_at);
    w.put(s.steps_at);
    w.put<std::uint64_t>(s.columns.size());
    for (auto c : s.columns) w.put(c);
  }
  return std::move(w.out);
}

TraceIndex TraceIndex::deserialize(const std::vector<char>& bytes) {
  Reader r(std::string_view(bytes.data(), bytes.size()));
  if (r.get<std::uint64_t>() != kMagic) throw std::runtime_error("TraceIndex: bad magic");
  TraceIndex t;
  t.path = r.get_string();
  t.file_size = r.get<std::uint64_t>();
  t.n_wafers = r.get<std::uint64_t>();
  t.n_samples = r.get<std::uint64_t>();
  t.n_sensors = r.get<std::uint64_t>();
  const auto vt = r.get<std::uint8_t>();
  if (vt > 1) throw std::runtime_error("TraceIndex: bad value type");
  t.value_type = static_cast<ValueType>(vt);
  t.values_chunked = r.get<std::uint8_t>() != 0;
  t.values_filtered = r.get<std::uint8_t>() != 0;
  t.values_chunk_rows = r.get<std::uint64_t>();
  t.values_chunk_cols = r.get<std::uint64_t>();
  t.has_steps = r.get<std::uint8_t>() != 0;
  t.n_steps = r.get<std::uint32_t>();
  t.values_at = r.get<std::uint64_t>();
  t.steps_at = r.get<std::uint64_t>();
  t.offsets.resize(r.get_count(8));
  for (auto& o : t.offsets) o = r.get<std::uint64_t>();
  t.sensor_names.resize(r.get_count(8));
  for (auto& s : t.sensor_names) s = r.get_string();
  t.wafer_fields.resize(r.get_count(9));
  for (auto& f : t.wafer_fields) {
    f.name = r.get_string();
    f.is_string = r.get<std::uint8_t>() != 0;
  }
  t.has_labels = r.get<std::uint8_t>() != 0;
  t.labels.resize(r.get_count(1));
  for (auto& l : t.labels) l = r.get<std::uint8_t>();
  t.sources.resize(r.get_count(8 * 11));
  for (auto& s : t.sources) {
    s.path = r.get_string();
    s.file_size = r.get<std::uint64_t>();
    s.first_wafer = r.get<std::uint64_t>();
    s.n_wafers = r.get<std::uint64_t>();
    s.first_row = r.get<std::uint64_t>();
    s.n_rows = r.get<std::uint64_t>();
    s.n_sensors = r.get<std::uint64_t>();
    const auto svt = r.get<std::uint8_t>();
    if (svt > 1) throw std::runtime_error("TraceIndex: bad value type");
    s.value_type = static_cast<ValueType>(svt);
    s.values_filtered = r.get<std::uint8_t>() != 0;
    s.values_chunk_rows = r.get<std::uint64_t>();
    s.values_chunk_cols = r.get<std::uint64_t>();
    s.has_steps = r.get<std::uint8_t>() != 0;
    s.n_steps = r.get<std::uint32_t>();
    s.values_at = r.get<std::uint64_t>();
    s.steps_at = r.get<std::uint64_t>();
    s.columns.resize(r.get_count(8));
    for (auto& c : s.columns) c = r.get<std::int64_t>();
  }
  if (r.pos != bytes.size()) throw std::runtime_error("TraceIndex: trailing bytes");
  if (!(t.offsets.empty() && t.n_wafers == 0) && t.offsets.size() != t.n_wafers + 1)
    throw std::runtime_error("TraceIndex: offsets size");
  return t;
}

constexpr std::uint64_t kFieldsMagic = 0x3153444c4649574dULL;  // "MWIFLDS1"

std::string WaferFieldValues::encode(const std::vector<WaferFieldValues>& fields) {
  Writer w;
  w.put(kFieldsMagic);
  w.put<std::uint64_t>(fields.size());
  for (const auto& f : fields) {
    w.put(f.name);
    w.put(static_cast<std::uint8_t>(f.kind));
    if (f.kind == Kind::strings) {
      w.put<std::uint64_t>(f.strings.size());
      for (const auto& s : f.strings) w.put(s);
    } else {
      w.put<std::uint64_t>(f.words.size());
      for (auto x : f.words) w.put(x);
    }
  }
  return std::string(w.out.begin(), w.out.end());
}

std::vector<WaferFieldValues> WaferFieldValues::decode(const std::string& bytes) {
  Reader r(bytes);
  if (r.get<std::uint64_t>() != kFieldsMagic)
    throw std::runtime_error("WaferFieldValues: bad magic");
  std::vector<WaferFieldValues> out(r.get_count(9));
  for (auto& f : out) {
    f.name = r.get_string();
    const auto kind = r.get<std::uint8_t>();
    if (kind > static_cast<std::uint8_t>(Kind::f64))
      throw std::runtime_error("WaferFieldValues: bad kind");
    f.kind = static_cast<Kind>(kind);
    if (f.kind == Kind::strings) {
      f.strings.resize(r.get_count(8));
      for (auto& s : f.strings) s = r.get_string();
    } else {
      f.words.resize(r.get_count(8));
      for (auto& x : f.words) x = r.get<std::uint64_t>();
    }
  }
  if (r.pos != bytes.size()) throw std::runtime_error("WaferFieldValues: trailing bytes");
  return out;
}

}  // namespace wafermill::format
