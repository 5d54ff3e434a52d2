/// @file h5py_test.cpp
/// @brief A file written by h5py (tests/format/write_h5py_sample.py) validates and reads.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "sample_files.hpp"
#include "wafermill/format/feature_file.hpp"
#include "wafermill/format/h5.hpp"
#include "wafermill/format/trace_reader.hpp"

namespace wafermill::format {
namespace {

constexpr const char* kPython = "/usr/bin/python3";

TEST(H5py, WrittenFileValidatesAndReadsExactly) {
  if (!std::filesystem::exists(kPython) ||
      std::system((std::string(kPython) + " -c 'import h5py, numpy' 2>/dev/null").c_str()) != 0) {
    GTEST_SKIP() << kPython << " with h5py and numpy is not available";
  }
  const std::string path = testing::temp_path("h5py.h5");
  const std::string script =
      std::string(WAFERMILL_SOURCE_DIR) + "/tests/format/write_h5py_sample.py";
  ASSERT_EQ(std::system((std::string(kPython) + " " + script + " " + path).c_str()), 0);

  EXPECT_EQ(validate_trace_file(path), std::vector<std::string>{});
  const TraceIndex idx = read_trace_index(path);
  EXPECT_EQ(idx.n_wafers, 4u);
  EXPECT_EQ(idx.n_samples, 31u);
  EXPECT_EQ(idx.n_sensors, 4u);
  EXPECT_EQ(idx.value_type, ValueType::float32);
  EXPECT_TRUE(idx.values_filtered);
  EXPECT_EQ(idx.offsets, (std::vector<std::uint64_t>{0, 5, 5, 22, 31}));
  EXPECT_EQ(idx.n_steps, 3u);
  EXPECT_EQ(idx.sensor_names[3], "rf_power_3");
  ASSERT_EQ(idx.wafer_fields.size(), 3u);
  EXPECT_EQ(idx.wafer_fields[1].name, "lot_id");
  EXPECT_TRUE(idx.wafer_fields[1].is_string);

  TraceReader reader(idx, IoDriver::posix, MPI_COMM_NULL);
  std::vector<float> values(idx.n_samples * idx.n_sensors);
  std::vector<std::int32_t> steps(idx.n_samples);
  reader.read_rows(0, idx.n_samples, values.data(), steps);
  for (std::uint64_t r = 0; r < idx.n_samples; ++r) {
    ASSERT_EQ(steps[r], testing::sample_step(r, 3));
    for (std::uint64_t s = 0; s < idx.n_sensors; ++s) {
      ASSERT_EQ(values[r * idx.n_sensors + s], static_cast<float>(testing::sample_value(r, s)));
    }
  }

  // Its /wafers/* fields, fixed-length strings included, copy to an output.
  const std::string out = testing::temp_path("h5py_out.h5");
  FeatureFileLayout layout;
  layout.n_wafers = idx.n_wafers;
  layout.sensor_names = idx.sensor_names;
  layout.feature_names = {"mean"};
  FeatureFileWriter w(out, layout, true);
  w.finish_rows();
  w.copy_wafer_fields(idx);
  w.commit();
  const h5::File f = h5::File::open_read(out);
  EXPECT_EQ(f.open_group("wafers").open_dataset("lot_id").read_strings(0, 4),
            (std::vector<std::string>{"L1", "L1", "L2", "L2"}));
  EXPECT_EQ(f.open_group("wafers").open_dataset("tool").read_strings(1, 1),
            (std::vector<std::string>{"etch-b"}));
}

}  // namespace
}  // namespace wafermill::format
