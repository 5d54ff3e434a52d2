/// @file trace_file.hpp
/// @brief Test helpers: generate a file into a scratch directory and read it back whole
/// through the HDF5 layer.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "wafermill/format/h5.hpp"
#include "wafermill/generate/generator.hpp"

namespace wafermill::generate::testing {

/// @brief A fresh directory under the gtest temp dir, removed at the end of the test.
class ScratchDir {
 public:
  ScratchDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::path(::testing::TempDir()) /
            ("wafermill_generate_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  /// @brief A path inside the directory.
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

/// @brief Small, quick options for tests.
inline GeneratorOptions small_options(const std::string& output) {
  GeneratorOptions o;
  o.output = output;
  o.n_wafers = 300;
  o.n_sensors = 5;
  o.n_steps = 3;
  o.mean_length = 120;
  o.length_sigma = 0.6;
  o.anomaly_fraction = 0.05;
  o.nan_fraction = 0.002;
  o.chunk_rows = 1000;
  o.seed = 7;
  return o;
}

/// @brief A generated file read back whole (values converted to double).
struct LoadedTraces {
  std::uint64_t n_sensors = 0;
  std::vector<std::uint64_t> values_dims;
  std::vector<double> values;
  std::vector<std::int64_t> offsets;
  std::vector<std::int32_t> steps;  ///< empty without /traces/step
  std::int64_t n_steps_attribute = -1;
  std::vector<std::string> sensor_names;
  std::vector<std::int64_t> lot_id, wafer_id, tool_id;
  std::vector<std::uint8_t> label, anomaly_kind;
  std::vector<std::int32_t> anomaly_sensor;

  /// @brief Value of wafer w, row r (within the wafer), sensor s.
  double at(std::uint64_t w, std::uint64_t r, std::uint64_t s) const {
    return values[(static_cast<std::uint64_t>(offsets[w]) + r) * n_sensors + s];
  }
  /// @brief Rows of wafer w.
  std::uint64_t rows(std::uint64_t w) const {
    return static_cast<std::uint64_t>(offsets[w + 1] - offsets[w]);
  }
};

/// @brief Reads every dataset the generator writes.
inline LoadedTraces load(const std::string& path) {
  namespace h5 = wafermill::format::h5;
  LoadedTraces t;
  h5::File file = h5::File::open_read(path);
  {
    h5::Group traces = file.open_group("traces");
    h5::Dataset values = traces.open_dataset("values");
    t.values_dims = values.dims();
    t.n_sensors = t.values_dims.at(1);
    t.values = values.read_all<double>();
    t.sensor_names = values.read_strings_attribute("sensor_names");
    t.offsets = traces.open_dataset("offsets").read_all<std::int64_t>();
    if (traces.has_dataset("step")) {
      h5::Dataset step = traces.open_dataset("step");
      t.steps = step.read_all<std::int32_t>();
      t.n_steps_attribute = step.read_int_attribute("n_steps");
    }
    h5::Group wafers = file.open_group("wafers");
    t.lot_id = wafers.open_dataset("lot_id").read_all<std::int64_t>();
    t.wafer_id = wafers.open_dataset("wafer_id").read_all<std::int64_t>();
    t.tool_id = wafers.open_dataset("tool_id").read_all<std::int64_t>();
    t.label = wafers.open_dataset("label").read_all<std::uint8_t>();
    h5::Group truth = file.open_group("truth");
    t.anomaly_kind = truth.open_dataset("anomaly_kind").read_all<std::uint8_t>();
    t.anomaly_sensor = truth.open_dataset("anomaly_sensor").read_all<std::int32_t>();
  }
  file.close();
  return t;
}

}  // namespace wafermill::generate::testing
