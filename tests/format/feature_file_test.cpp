/// @file feature_file_test.cpp
/// @brief FeatureFileWriter (temp file, rename, --force) and compare_feature_files.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "sample_files.hpp"
#include "wafermill/error.hpp"
#include "wafermill/format/feature_file.hpp"
#include "wafermill/format/h5.hpp"

namespace wafermill::format {
namespace {

using testing::temp_path;
using testing::write_sample;

FeatureFileLayout layout_of(const TraceIndex& idx) {
  FeatureFileLayout layout;
  layout.n_wafers = idx.n_wafers;
  layout.sensor_names = idx.sensor_names;
  layout.feature_names = {"mean", "std"};
  layout.n_steps = idx.n_steps;
  return layout;
}

/// Writes a complete output for the sample input; `tweak` changes one feature value.
void write_output(const std::string& out, const TraceIndex& idx, bool force, double tweak = 0) {
  const FeatureFileLayout layout = layout_of(idx);
  const bool existed = std::filesystem::exists(out);
  FeatureFileWriter w(out, layout, force);
  const std::uint64_t W = idx.n_wafers, S = layout.sensor_names.size(), F = 2, K = idx.n_steps;
  std::vector<double> values(W * S * F);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = 0.5 * static_cast<double>(i);
  values[5] += tweak;
  w.write_features(0, 2, std::span<const double>(values).first(2 * S * F));
  w.write_features(2, W - 2, std::span<const double>(values).subspan(2 * S * F));
  std::vector<double> by_step(W * K * S * F, 1.25);
  w.write_step_features(0, W, by_step);
  std::vector<double> back(S * F);
  w.read_features(1, 1, back);
  EXPECT_EQ(back[0], values[S * F]);
  std::vector<double> score(W, 0.75);
  std::vector<std::uint8_t> flag(W, 0);
  flag[1] = 1;
  w.write_scores(0, std::span<const double>(score).first(1), std::span<const std::uint8_t>(flag).first(1));
  w.write_scores(1, std::span<const double>(score).subspan(1), std::span<const std::uint8_t>(flag).subspan(1));
  EXPECT_THROW(w.write_summary("early", std::vector<double>(1, 0.0), {1}), std::logic_error);
  w.finish_rows();  // the rows phase ends; rank 0 (this process) writes the rest
  w.copy_wafer_fields(idx);
  w.write_summary("mean", std::vector<double>(S * F, 2.0), {S, F});
  w.write_summary_u64("counts", std::vector<std::uint64_t>{1, 2, 3}, {3});
  w.set_attribute("policy", "weighted");
  w.set_attribute("ranks", std::int64_t{4});
  EXPECT_TRUE(std::filesystem::exists(w.temp_path()));
  EXPECT_EQ(std::filesystem::exists(out), existed);  // nothing at the final name yet
  w.commit();
  EXPECT_FALSE(std::filesystem::exists(w.temp_path()));
}

class FeatureFile : public ::testing::Test {
 protected:
  void SetUp() override {
    input_ = temp_path("ff_input.h5");
    write_sample(input_);
    idx_ = read_trace_index(input_);
  }
  std::string input_;
  TraceIndex idx_;
};

TEST_F(FeatureFile, WritesTheDocumentedLayout) {
  const std::string out = temp_path("ff_layout.h5");
  std::filesystem::remove(out);
  write_output(out, idx_, false);
  const h5::File f = h5::File::open_read(out);
  EXPECT_EQ(f.read_string_attribute("format"), "wafermill features v1");
  EXPECT_EQ(f.read_string_attribute("policy"), "weighted");
  EXPECT_EQ(f.read_int_attribute("ranks"), 4);
  const h5::Group features = f.open_group("features");
  EXPECT_EQ(features.open_dataset("values").dims(), (std::vector<std::uint64_t>{4, 3, 2}));
  EXPECT_EQ(features.open_dataset("by_step").dims(), (std::vector<std::uint64_t>{4, 3, 3, 2}));
  EXPECT_EQ(features.open_dataset("names").read_strings(0, 2),
            (std::vector<std::string>{"mean", "std"}));
  EXPECT_EQ(features.open_dataset("sensor_names").read_strings(0, 3), idx_.sensor_names);
  const auto values = features.open_dataset("values").read_all<double>();
  EXPECT_EQ(values[23], 11.5);
  const h5::Group wafers = f.open_group("wafers");
  EXPECT_EQ(wafers.open_dataset("lot_id").read_strings(0, 4),
            (std::vector<std::string>{"LOT100", "LOT101", "LOT102", "LOT103"}));
  EXPECT_EQ(wafers.open_dataset("label").read_all<std::uint8_t>(),
            (std::vector<std::uint8_t>{0, 1, 0, 1}));
  EXPECT_EQ(wafers.open_dataset("label").type().size, 1u);
  EXPECT_EQ(wafers.open_dataset("flag").read_all<std::uint8_t>(),
            (std::vector<std::uint8_t>{0, 1, 0, 0}));
  EXPECT_EQ(wafers.open_dataset("score").read_all<double>(), std::vector<double>(4, 0.75));
  const h5::Group summary = f.open_group("summary");
  EXPECT_EQ(summary.open_dataset("mean").dims(), (std::vector<std::uint64_t>{3, 2}));
  EXPECT_EQ(summary.open_dataset("counts").read_all<std::uint64_t>(),
            (std::vector<std::uint64_t>{1, 2, 3}));
}

TEST_F(FeatureFile, RefusesAnExistingOutputWithoutForce) {
  const std::string out = temp_path("ff_exists.h5");
  std::ofstream(out) << "keep me";
  try {
    FeatureFileWriter w(out, layout_of(idx_), false);
    FAIL() << "no exception";
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()), out + " exists; pass --force to overwrite");
  }
  std::ifstream in(out);
  std::string content;
  std::getline(in, content);
  EXPECT_EQ(content, "keep me");
  write_output(out, idx_, true);  // --force replaces it
  EXPECT_TRUE(h5::File::is_hdf5(out));
}

TEST_F(FeatureFile, AnUncommittedWriterLeavesNothing) {
  const std::string out = temp_path("ff_abandoned.h5");
  std::filesystem::remove(out);
  std::string temp;
  {
    FeatureFileWriter w(out, layout_of(idx_), false);
    temp = w.temp_path();
    EXPECT_EQ(temp.rfind(out + ".tmp.", 0), 0u) << temp;
    EXPECT_TRUE(std::filesystem::exists(temp));
  }
  EXPECT_FALSE(std::filesystem::exists(temp));
  EXPECT_FALSE(std::filesystem::exists(out));
}

TEST_F(FeatureFile, CompareFindsIdenticalFilesEqual) {
  const std::string a = temp_path("ff_a.h5"), b = temp_path("ff_b.h5");
  write_output(a, idx_, true);
  write_output(b, idx_, true);
  EXPECT_EQ(compare_feature_files(a, b), std::nullopt);
}

TEST_F(FeatureFile, CompareDetectsAOneBitChange) {
  const std::string a = temp_path("ff_c.h5"), b = temp_path("ff_d.h5");
  write_output(a, idx_, true);
  // values[5] = 2.5; one ulp more differs in the lowest mantissa bit only.
  write_output(b, idx_, true, std::nextafter(2.5, 3.0) - 2.5);
  const auto diff = compare_feature_files(a, b);
  ASSERT_TRUE(diff.has_value());
  // Flat index 5 of [4, 3, 2] is wafer 0, sensor 2, feature 1.
  EXPECT_EQ(diff->rfind("/features/values[0, 2, 1]: 2.5 vs 2.5000000000000004", 0), 0u) << *diff;
}

TEST_F(FeatureFile, CompareDetectsSummaryAndFlagDifferences) {
  const std::string a = temp_path("ff_e.h5"), b = temp_path("ff_f.h5");
  write_output(a, idx_, true);
  write_output(b, idx_, true);
  {
    h5::File f = h5::File::open_read_write(b);
    f.open_group("wafers").open_dataset("flag").write(
        std::span<const std::uint8_t>(std::vector<std::uint8_t>{1}), {3}, {1});
  }
  auto diff = compare_feature_files(a, b);
  ASSERT_TRUE(diff.has_value());
  EXPECT_EQ(diff->rfind("/wafers/flag[3]", 0), 0u) << *diff;
  {
    h5::File f = h5::File::open_read_write(b);
    f.open_group("wafers").open_dataset("flag").write(
        std::span<const std::uint8_t>(std::vector<std::uint8_t>{0}), {3}, {1});
    f.open_group("summary")
        .create_dataset("extra", h5::Elem::f64, {1})
        .write_all(std::span<const double>(std::vector<double>{1.0}));
  }
  diff = compare_feature_files(a, b);
  ASSERT_TRUE(diff.has_value());
  EXPECT_EQ(*diff, "/summary/extra: present in " + b + " only");
}

}  // namespace
}  // namespace wafermill::format
