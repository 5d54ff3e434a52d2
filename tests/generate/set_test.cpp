/// @file set_test.cpp
/// @brief Sets of files (GeneratorOptions::n_files) and dropped sensors: the same wafers as one
/// file, bit for bit, split over files that are each valid on their own.
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "trace_file.hpp"
#include "wafermill/error.hpp"
#include "wafermill/format/trace_index.hpp"

namespace wafermill::generate {
namespace {

namespace fs = std::filesystem;
using testing::load;
using testing::LoadedTraces;
using testing::ScratchDir;
using testing::small_options;

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

template <typename T>
void append(std::vector<T>& to, const std::vector<T>& from) {
  to.insert(to.end(), from.begin(), from.end());
}

std::vector<std::string> lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::int64_t root_int(const std::string& path, const std::string& name) {
  format::h5::File file = format::h5::File::open_read(path);
  const std::int64_t value = file.read_int_attribute(name);
  file.close();
  return value;
}

/// Generates `o` once as one file and once as a set of n_files, and checks that every file
/// of the set is valid on its own with its share of the wafers, and that the files put end
/// to end are the single file: values bitwise, offsets, steps and every per-wafer column.
void expect_set_equals_single(GeneratorOptions o, std::uint64_t n_files, const ScratchDir& dir) {
  GeneratorOptions single = o;
  single.output = dir.file("single.h5");
  const GeneratorResult rs = generate_traces(single);
  const LoadedTraces whole = load(single.output);

  o.output = dir.file("night.h5");
  o.n_files = n_files;
  const GeneratorResult r = generate_traces(o);
  ASSERT_EQ(r.files.size(), n_files);
  EXPECT_EQ(r.n_wafers, rs.n_wafers);
  EXPECT_EQ(r.n_samples, rs.n_samples);
  EXPECT_EQ(r.n_anomalous, rs.n_anomalous);
  EXPECT_EQ(r.manifest, dir.file("night.list"));

  LoadedTraces joined;
  joined.offsets.push_back(0);
  const std::uint64_t w = rs.n_wafers;
  for (std::uint64_t k = 0; k < n_files; ++k) {
    SCOPED_TRACE("file " + std::to_string(k));
    EXPECT_EQ(r.files[k], set_file_name(o.output, k, n_files));
    EXPECT_EQ(format::validate_trace_file(r.files[k]), std::vector<std::string>{});
    const LoadedTraces part = load(r.files[k]);
    // File k holds wafers [k·W/N, (k+1)·W/N).
    const std::uint64_t first = k * w / n_files, end = (k + 1) * w / n_files;
    ASSERT_EQ(part.offsets.size(), end - first + 1);
    EXPECT_EQ(part.offsets.front(), 0);
    EXPECT_EQ(part.sensor_names, whole.sensor_names);
    EXPECT_EQ(part.n_steps_attribute, whole.n_steps_attribute);
    EXPECT_EQ(root_int(r.files[k], "generator_file_index"), static_cast<std::int64_t>(k));
    EXPECT_EQ(root_int(r.files[k], "generator_file_first_wafer"), static_cast<std::int64_t>(first));
    EXPECT_EQ(root_int(r.files[k], "generator_first_wafer"),
              static_cast<std::int64_t>(o.night * w + first));
    for (std::size_t i = 1; i < part.offsets.size(); ++i) {
      joined.offsets.push_back(joined.offsets.back() + part.offsets[i] - part.offsets[i - 1]);
    }
    append(joined.values, part.values);
    append(joined.steps, part.steps);
    append(joined.lot_id, part.lot_id);
    append(joined.wafer_id, part.wafer_id);
    append(joined.tool_id, part.tool_id);
    append(joined.label, part.label);
    append(joined.anomaly_kind, part.anomaly_kind);
    append(joined.anomaly_sensor, part.anomaly_sensor);
  }
  EXPECT_TRUE(same_bits(joined.values, whole.values));  // NaN == NaN bitwise too
  EXPECT_EQ(joined.offsets, whole.offsets);
  EXPECT_EQ(joined.steps, whole.steps);
  EXPECT_EQ(joined.lot_id, whole.lot_id);
  EXPECT_EQ(joined.wafer_id, whole.wafer_id);
  EXPECT_EQ(joined.tool_id, whole.tool_id);
  EXPECT_EQ(joined.label, whole.label);
  EXPECT_EQ(joined.anomaly_kind, whole.anomaly_kind);
  EXPECT_EQ(joined.anomaly_sensor, whole.anomaly_sensor);

  // The manifest lists the files in order, by name, relative to its own directory.
  std::vector<std::string> expected;
  for (const std::string& f : r.files) expected.push_back(fs::path(f).filename().string());
  EXPECT_EQ(lines(r.manifest), expected);
}

TEST(GenerateSet, SplitFilesPutEndToEndAreTheSingleFile) {
  ScratchDir dir;
  GeneratorOptions o = small_options("");
  o.empty_fraction = 0.05;
  o.anomaly_fraction = 0.2;             // anomalies in most files: their probability is the set's
  expect_set_equals_single(o, 7, dir);  // 300 wafers: files of 42 and 43
}

TEST(GenerateSet, SplitHoldsForNightsDriftChunkingFloat64AndTargetSize) {
  ScratchDir dir;
  GeneratorOptions o = small_options("");
  o.float64 = true;
  o.n_steps = 0;
  o.chunk_rows = 77;  // wafers straddle batches, files straddle chunks
  o.gzip_level = 3;
  o.night = 2;
  o.drift = 0.01;
  o.drift_sensor = "dc_bias_v";
  o.step_sensor = "rf_forward_power_w";
  o.step_night = 2;
  o.target_bytes = 600000;  // picks the wafer count, then split
  expect_set_equals_single(o, 13, dir);
}

TEST(GenerateSet, OneWaferPerFileIsTheMost) {
  ScratchDir dir;
  GeneratorOptions o = small_options("");
  o.n_wafers = 20;
  expect_set_equals_single(o, 20, dir);

  GeneratorOptions more = small_options(dir.file("more.h5"));
  more.n_wafers = 20;
  more.n_files = 21;
  EXPECT_THROW(generate_traces(more), UsageError);
  EXPECT_FALSE(fs::exists(set_file_name(more.output, 0, 21)));
  EXPECT_FALSE(fs::exists(set_manifest_name(more.output)));
}

TEST(GenerateSet, NamesFollowTheOutput) {
  EXPECT_EQ(set_file_name("d/night.h5", 3, 7), "d/night-00003.h5");
  EXPECT_EQ(set_file_name("d/night.hdf5", 12, 100), "d/night-00012.hdf5");
  EXPECT_EQ(set_file_name("night", 0, 1), "night-00000.h5");
  EXPECT_EQ(set_file_name("a.b.h5", 99999, 100000), "a.b-99999.h5");
  EXPECT_EQ(set_file_name("n.h5", 7, 100001), "n-000007.h5");  // wider only past 100000
  EXPECT_EQ(set_manifest_name("d/night.h5"), "d/night.list");
  EXPECT_EQ(set_manifest_name("night"), "night.list");
}

TEST(GenerateSet, AnExistingFileOfTheSetIsRefusedBeforeAnythingIsWritten) {
  ScratchDir dir;
  GeneratorOptions o = small_options(dir.file("night.h5"));
  o.n_files = 4;
  const std::string taken = set_file_name(o.output, 2, 4);
  { std::ofstream(taken) << "precious"; }
  EXPECT_THROW(generate_traces(o), UsageError);
  EXPECT_EQ(entries(dir.file("")), std::vector<std::string>{"night-00002.h5"});
  EXPECT_EQ(lines(taken), std::vector<std::string>{"precious"});

  o.force = true;
  const GeneratorResult r = generate_traces(o);
  EXPECT_EQ(entries(dir.file("")),
            (std::vector<std::string>{"night-00000.h5", "night-00001.h5", "night-00002.h5",
                                      "night-00003.h5", "night.list"}));
  EXPECT_EQ(format::validate_trace_file(taken), std::vector<std::string>{});
  EXPECT_EQ(r.files.size(), 4U);
}

TEST(GenerateSet, AFileThatCannotBeWrittenLeavesNoPartOfTheSet) {
  ScratchDir dir;
  GeneratorOptions o = small_options(dir.file("night.h5"));
  o.n_files = 3;
  // File 1's temporary name is taken by a directory that is not empty: files 0 is written
  // (under its temporary name) before file 1 fails.
  const std::string blocker = set_file_name(o.output, 1, 3) + ".tmp." + std::to_string(::getpid());
  fs::create_directories(blocker + "/inside");
  EXPECT_ANY_THROW(generate_traces(o));
  EXPECT_EQ(entries(dir.file("")), std::vector<std::string>{fs::path(blocker).filename().string()});
}

TEST(GenerateSet, DroppedSensorsLeaveTheOtherColumnsUnchanged) {
  ScratchDir dir;
  GeneratorOptions full = small_options(dir.file("full.h5"));
  full.anomaly_fraction = 0.5;  // planted sensors among the dropped ones too
  generate_traces(full);
  const LoadedTraces a = load(full.output);
  ASSERT_EQ(a.sensor_names.size(), 5U);

  GeneratorOptions part = full;
  part.output = dir.file("part.h5");
  part.drop_sensors = {a.sensor_names[3], a.sensor_names[1]};
  generate_traces(part);
  EXPECT_EQ(format::validate_trace_file(part.output), std::vector<std::string>{});
  const LoadedTraces b = load(part.output);
  const std::vector<std::size_t> kept = {0, 2, 4};
  ASSERT_EQ(b.n_sensors, kept.size());
  EXPECT_EQ(b.sensor_names,
            (std::vector<std::string>{a.sensor_names[0], a.sensor_names[2], a.sensor_names[4]}));
  EXPECT_EQ(b.offsets, a.offsets);
  EXPECT_EQ(b.steps, a.steps);
  EXPECT_EQ(b.label, a.label);
  ASSERT_EQ(b.values.size(), a.values.size() / 5 * 3);
  for (std::size_t row = 0; row < a.values.size() / 5; ++row) {
    for (std::size_t j = 0; j < kept.size(); ++j) {
      const double x = a.values[row * 5 + kept[j]], y = b.values[row * 3 + j];
      ASSERT_EQ(std::memcmp(&x, &y, sizeof x), 0) << "row " << row << " column " << j;
    }
  }
  // The planted sensor counts the columns written; -1 where it was dropped.
  const std::vector<std::int32_t> column = {0, -1, 1, -1, 2};
  std::size_t dropped = 0;
  for (std::size_t w = 0; w < a.label.size(); ++w) {
    const std::int32_t s = a.anomaly_sensor[w];
    EXPECT_EQ(b.anomaly_sensor[w], s < 0 ? -1 : column[static_cast<std::size_t>(s)]) << w;
    dropped += s >= 0 && column[static_cast<std::size_t>(s)] < 0 ? 1 : 0;
  }
  EXPECT_GT(dropped, 0U);

  auto refused = [&](std::vector<std::string> names) {
    GeneratorOptions o = full;
    o.output = dir.file("refused.h5");
    o.drop_sensors = std::move(names);
    EXPECT_THROW(generate_traces(o), UsageError);
    EXPECT_FALSE(fs::exists(o.output));
  };
  refused({"no_such_sensor"});
  refused({a.sensor_names[0], a.sensor_names[0]});
  refused(a.sensor_names);  // nothing left
}

TEST(GenerateSet, DroppedSensorsAndFloat32SplitLikeTheSingleFile) {
  ScratchDir dir;
  GeneratorOptions o = small_options("");
  o.drop_sensors = {"rf_forward_power_w"};
  expect_set_equals_single(o, 5, dir);
}

}  // namespace
}  // namespace wafermill::generate
