// Test helpers: a scratch directory for text inputs, and an imported file read back through
// format/ (read_trace_index, TraceReader, read_wafer_labels) rather than by re-parsing text.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "wafermill/format/datasets.hpp"
#include "wafermill/format/h5.hpp"
#include "wafermill/format/trace_index.hpp"
#include "wafermill/format/trace_reader.hpp"

namespace wafermill::import::testing {

/// A fresh directory under the build tree, removed at the end of the test.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& name)
      : path_(std::filesystem::path(WAFERMILL_BINARY_DIR) / "tests" / "import" /
              ("scratch_" + name + "_" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  /// Writes `text` byte for byte to `name` and returns its path.
  std::string write(const std::string& name, const std::string& text) const {
    const auto p = path_ / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  /// Names of the entries directly in the directory (to check nothing was left behind).
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(path_)) {
      names.push_back(e.path().filename().string());
    }
    return names;
  }

 private:
  std::filesystem::path path_;
};

/// An imported file as format/ reads it.
struct Imported {
  format::TraceIndex index;
  std::vector<double> values;  // n_samples x n_sensors, row-major, converted to double
  std::optional<std::vector<std::uint8_t>> labels;

  /// Sample `row` of sensor `sensor`.
  double at(std::uint64_t row, std::uint64_t sensor) const {
    return values[row * index.n_sensors + sensor];
  }
};

inline Imported read_back(const std::string& path) {
  Imported r;
  r.index = format::read_trace_index(path);
  const std::uint64_t n = r.index.n_samples * r.index.n_sensors;
  r.values.resize(n);
  format::TraceReader reader(r.index, format::IoDriver::posix, MPI_COMM_NULL);
  if (r.index.value_type == format::ValueType::float64) {
    reader.read_rows(0, r.index.n_samples, r.values.data(), {});
  } else {
    std::vector<float> f(n);
    reader.read_rows(0, r.index.n_samples, f.data(), {});
    r.values.assign(f.begin(), f.end());
  }
  r.labels = format::read_wafer_labels(r.index);
  return r;
}

/// A whole 1-D int64 dataset under /wafers/.
inline std::vector<std::int64_t> read_wafer_ints(const std::string& path, const std::string& name) {
  const auto file = format::h5::File::open_read(path);
  return file.open_group("wafers").open_dataset(name).read_all<std::int64_t>();
}

/// A whole 1-D string dataset under /wafers/.
inline std::vector<std::string> read_wafer_strings(const std::string& path,
                                                   const std::string& name) {
  const auto file = format::h5::File::open_read(path);
  const auto ds = file.open_group("wafers").open_dataset(name);
  return ds.read_strings(0, ds.dims()[0]);
}

/// A root string attribute.
inline std::string read_root_attribute(const std::string& path, const std::string& name) {
  return format::h5::File::open_read(path).read_string_attribute(name);
}

}  // namespace wafermill::import::testing
