/// @file trace_index_test.cpp
/// @brief read_trace_index / validate_trace_file: valid files and every validation error.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "sample_files.hpp"
#include "wafermill/error.hpp"
#include "wafermill/format/h5.hpp"
#include "wafermill/format/trace_index.hpp"

namespace wafermill::format {
namespace {

using testing::SampleSpec;
using testing::temp_path;
using testing::write_sample;

/// read_trace_index must throw an InputError containing `needle`, and validate_trace_file
/// must list a problem containing it.
void expect_problem(const std::string& path, const std::string& needle) {
  try {
    (void)read_trace_index(path);
    ADD_FAILURE() << "read_trace_index accepted " << path << " (expected: " << needle << ")";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << "message: " << e.what() << "\nexpected to contain: " << needle;
  }
  const auto problems = validate_trace_file(path);
  bool found = false;
  for (const auto& p : problems) found = found || p.find(needle) != std::string::npos;
  EXPECT_TRUE(found) << "validate_trace_file did not report: " << needle << " (got "
                     << problems.size() << " problems"
                     << (problems.empty() ? "" : ", first: " + problems[0]) << ")";
}

/// A file with /traces/values float32 [n, S] and /traces/offsets as given; `extra` adds more.
void write_minimal(const std::string& path, std::uint64_t n_samples, std::uint64_t S,
                   const std::vector<std::int64_t>& offsets,
                   const std::function<void(h5::File&, h5::Group&, h5::Dataset&)>& extra = {}) {
  h5::File file = h5::File::create(path);
  h5::Group traces = file.create_group("traces");
  h5::Dataset values = traces.create_dataset("values", h5::Elem::f32, {n_samples, S});
  values.write_all(std::span<const float>(std::vector<float>(n_samples * S, 1.0f)));
  traces.create_dataset("offsets", h5::Elem::i64, {offsets.size()})
      .write_all(std::span<const std::int64_t>(offsets));
  if (extra) extra(file, traces, values);
}

TEST(TraceIndex, ValidSampleRoundTripsItsFields) {
  const std::string path = temp_path("valid.h5");
  write_sample(path);
  const TraceIndex idx = read_trace_index(path);
  EXPECT_EQ(idx.path, path);
  EXPECT_EQ(idx.file_size, std::filesystem::file_size(path));
  EXPECT_EQ(idx.n_wafers, 4u);
  EXPECT_EQ(idx.n_samples, 10u);
  EXPECT_EQ(idx.n_sensors, 3u);
  EXPECT_EQ(idx.value_type, ValueType::float32);
  EXPECT_FALSE(idx.values_chunked);
  EXPECT_FALSE(idx.values_filtered);
  EXPECT_EQ(idx.offsets, (std::vector<std::uint64_t>{0, 3, 3, 8, 10}));
  EXPECT_EQ(idx.wafer_rows(1), 0u);
  EXPECT_EQ(idx.wafer_rows(2), 5u);
  EXPECT_TRUE(idx.has_steps);
  EXPECT_EQ(idx.n_steps, 3u);
  EXPECT_EQ(idx.sensor_names, (std::vector<std::string>{"chamber_0", "chamber_1", "chamber_2"}));
  ASSERT_EQ(idx.wafer_fields.size(), 2u);
  EXPECT_EQ(idx.wafer_fields[0].name, "label");
  EXPECT_FALSE(idx.wafer_fields[0].is_string);
  EXPECT_EQ(idx.wafer_fields[1].name, "lot_id");
  EXPECT_TRUE(idx.wafer_fields[1].is_string);
  EXPECT_EQ(idx.row_bytes(), 12u);
  EXPECT_TRUE(validate_trace_file(path).empty());
}

TEST(TraceIndex, ChunkedGzipFloat64WithoutOptionalParts) {
  const std::string path = temp_path("chunked.h5");
  SampleSpec spec;
  spec.float64 = true;
  spec.chunk = {4, 2};
  spec.deflate_level = 6;
  spec.n_steps = 0;
  spec.sensor_names = false;
  spec.wafer_fields = false;
  write_sample(path, spec);
  const TraceIndex idx = read_trace_index(path);
  EXPECT_EQ(idx.value_type, ValueType::float64);
  EXPECT_TRUE(idx.values_chunked);
  EXPECT_TRUE(idx.values_filtered);
  EXPECT_FALSE(idx.has_steps);
  EXPECT_EQ(idx.n_steps, 0u);
  EXPECT_EQ(idx.sensor_names, (std::vector<std::string>{"sensor_0", "sensor_1", "sensor_2"}));
  EXPECT_TRUE(idx.wafer_fields.empty());
  EXPECT_EQ(idx.row_bytes(), 24u);
}

TEST(TraceIndex, StepsWithoutAttributeAreScannedForTheirRange) {
  const std::string path = temp_path("scan.h5");
  SampleSpec spec;
  spec.n_steps = 5;
  spec.n_steps_attribute = false;
  spec.wafer_rows = {4, 6, 3};  // 13 rows: steps (7r mod 5) reach 4
  write_sample(path, spec);
  const TraceIndex idx = read_trace_index(path);
  EXPECT_TRUE(idx.has_steps);
  EXPECT_EQ(idx.n_steps, 5u);
}

TEST(TraceIndex, SerializeRoundTripsAndRejectsDamage) {
  const std::string path = temp_path("codec.h5");
  write_sample(path);
  const TraceIndex idx = read_trace_index(path);
  const auto bytes = idx.serialize();
  const TraceIndex back = TraceIndex::deserialize(bytes);
  EXPECT_EQ(back.path, idx.path);
  EXPECT_EQ(back.file_size, idx.file_size);
  EXPECT_EQ(back.n_wafers, idx.n_wafers);
  EXPECT_EQ(back.n_samples, idx.n_samples);
  EXPECT_EQ(back.n_sensors, idx.n_sensors);
  EXPECT_EQ(back.value_type, idx.value_type);
  EXPECT_EQ(back.offsets, idx.offsets);
  EXPECT_EQ(back.n_steps, idx.n_steps);
  EXPECT_EQ(back.has_steps, idx.has_steps);
  EXPECT_EQ(back.sensor_names, idx.sensor_names);
  ASSERT_EQ(back.wafer_fields.size(), idx.wafer_fields.size());
  EXPECT_EQ(back.wafer_fields[1].name, "lot_id");
  EXPECT_TRUE(back.wafer_fields[1].is_string);
  auto truncated = bytes;
  truncated.resize(bytes.size() - 3);
  EXPECT_THROW(TraceIndex::deserialize(truncated), std::runtime_error);
  auto bad_magic = bytes;
  bad_magic[0] ^= 1;
  EXPECT_THROW(TraceIndex::deserialize(bad_magic), std::runtime_error);
}

TEST(TraceIndexErrors, NotHdf5) {
  const std::string path = temp_path("text.h5");
  std::ofstream(path) << "lot,wafer,value\n1,2,3\n";
  expect_problem(path, path + " is not an HDF5 file");
}

TEST(TraceIndexErrors, EmptyFile) {
  const std::string path = temp_path("empty.h5");
  std::ofstream{path};
  expect_problem(path, path + " is not an HDF5 file");
}

TEST(TraceIndexErrors, MissingFile) { expect_problem(temp_path("absent.h5"), "no such file"); }

TEST(TraceIndexErrors, TruncatedFile) {
  const std::string path = temp_path("truncated.h5");
  SampleSpec spec;
  spec.wafer_rows = {4000, 4000};
  write_sample(path, spec);
  std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
  expect_problem(path, path);
  try {
    (void)read_trace_index(path);
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
  }
}

TEST(TraceIndexErrors, MissingValues) {
  const std::string path = temp_path("novalues.h5");
  {
    h5::File file = h5::File::create(path);
    h5::Group traces = file.create_group("traces");
    traces.create_dataset("offsets", h5::Elem::i64, {1})
        .write_all(std::span<const std::int64_t>(std::vector<std::int64_t>{0}));
  }
  expect_problem(path, path + ": /traces/values: missing (required dataset)");
}

TEST(TraceIndexErrors, MissingTracesGroup) {
  const std::string path = temp_path("notraces.h5");
  {
    h5::File file = h5::File::create(path);
    file.create_group("other");
  }
  expect_problem(path, ": /traces: missing");
}

TEST(TraceIndexErrors, WrongRank) {
  const std::string path = temp_path("rank.h5");
  {
    h5::File file = h5::File::create(path);
    h5::Group traces = file.create_group("traces");
    traces.create_dataset("values", h5::Elem::f32, {6})
        .write_all(std::span<const float>(std::vector<float>(6, 0.0f)));
    traces.create_dataset("offsets", h5::Elem::i64, {2})
        .write_all(std::span<const std::int64_t>(std::vector<std::int64_t>{0, 6}));
  }
  expect_problem(path, "/traces/values: has rank 1 [6], expected rank 2");
}

TEST(TraceIndexErrors, WrongTypeClass) {
  const std::string path = temp_path("type.h5");
  {
    h5::File file = h5::File::create(path);
    h5::Group traces = file.create_group("traces");
    traces.create_dataset("values", h5::Elem::i32, {3, 2})
        .write_all(std::span<const std::int32_t>(std::vector<std::int32_t>(6, 0)));
    traces.create_dataset("offsets", h5::Elem::i64, {2})
        .write_all(std::span<const std::int64_t>(std::vector<std::int64_t>{0, 3}));
  }
  expect_problem(path, "/traces/values: has type int32, expected float32 or float64");
}

TEST(TraceIndexErrors, OffsetsTypeMustBe64BitInteger) {
  const std::string path = temp_path("offtype.h5");
  {
    h5::File file = h5::File::create(path);
    h5::Group traces = file.create_group("traces");
    traces.create_dataset("values", h5::Elem::f32, {3, 2})
        .write_all(std::span<const float>(std::vector<float>(6, 0.0f)));
    traces.create_dataset("offsets", h5::Elem::f64, {2})
        .write_all(std::span<const double>(std::vector<double>{0, 3}));
  }
  expect_problem(path, "/traces/offsets: has type float64, expected int64 or uint64");
}

TEST(TraceIndexErrors, OffsetsMustStartAtZero) {
  const std::string path = temp_path("start.h5");
  write_minimal(path, 10, 2, {2, 5, 10});
  expect_problem(path, path + ": /traces/offsets[0] = 2, expected 0");
}

TEST(TraceIndexErrors, NonMonotonicOffsetsNameTheIndex) {
  const std::string path = temp_path("monotonic.h5");
  write_minimal(path, 10, 2, {0, 4, 7, 3, 10});
  expect_problem(path, path +
                           ": /traces/offsets[3] = 3 < offsets[2] = 7: offsets must be "
                           "non-decreasing");
}

TEST(TraceIndexErrors, NegativeOffset) {
  const std::string path = temp_path("negative.h5");
  write_minimal(path, 10, 2, {0, -4, 10});
  expect_problem(path, "/traces/offsets[1] = -4: offsets must not be negative");
}

TEST(TraceIndexErrors, OffsetsMustEndAtNSamples) {
  const std::string path = temp_path("end.h5");
  write_minimal(path, 10, 2, {0, 4, 9});
  expect_problem(path, "/traces/offsets[2] = 9, expected n_samples = 10");
}

TEST(TraceIndexErrors, StepLengthMismatch) {
  const std::string path = temp_path("steplen.h5");
  write_minimal(path, 10, 2, {0, 10}, [](h5::File&, h5::Group& traces, h5::Dataset&) {
    traces.create_dataset("step", h5::Elem::i32, {9})
        .write_all(std::span<const std::int32_t>(std::vector<std::int32_t>(9, 0)));
  });
  expect_problem(path, "/traces/step: has 9 entries, expected n_samples = 10");
}

TEST(TraceIndexErrors, StepOutOfDeclaredRangeIsFoundByTheValidator) {
  const std::string path = temp_path("steprange.h5");
  write_minimal(path, 10, 2, {0, 10}, [](h5::File&, h5::Group& traces, h5::Dataset&) {
    std::vector<std::int32_t> s(10, 1);
    s[6] = 4;
    h5::Dataset step = traces.create_dataset("step", h5::Elem::i32, {10});
    step.write_all(std::span<const std::int32_t>(s));
    step.write_int_attribute("n_steps", 3);
  });
  // With the attribute, the index trusts it (the reader checks every step it reads) ...
  EXPECT_EQ(read_trace_index(path).n_steps, 3u);
  // ... and the validator scans.
  const auto problems = validate_trace_file(path);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0], path + ": /traces/step[6] = 4 outside [0, 3) (attribute n_steps)");
}

TEST(TraceIndexErrors, NegativeStepWithoutAttribute) {
  const std::string path = temp_path("stepneg.h5");
  write_minimal(path, 10, 2, {0, 10}, [](h5::File&, h5::Group& traces, h5::Dataset&) {
    std::vector<std::int64_t> s(10, 0);
    s[8] = -1;
    traces.create_dataset("step", h5::Elem::i64, {10}).write_all(std::span<const std::int64_t>(s));
  });
  expect_problem(path, "/traces/step[8] = -1 outside [0, 4096)");
}

TEST(TraceIndexErrors, AbsurdNSteps) {
  const std::string path = temp_path("nsteps.h5");
  write_minimal(path, 10, 2, {0, 10}, [](h5::File&, h5::Group& traces, h5::Dataset&) {
    h5::Dataset step = traces.create_dataset("step", h5::Elem::i32, {10});
    step.write_all(std::span<const std::int32_t>(std::vector<std::int32_t>(10, 0)));
    step.write_int_attribute("n_steps", 1LL << 40);
  });
  expect_problem(path, "/traces/step attribute n_steps: = 1099511627776, expected 1..4096");
}

TEST(TraceIndexErrors, SensorNamesCountMismatch) {
  const std::string path = temp_path("names.h5");
  write_minimal(path, 10, 3, {0, 10}, [](h5::File&, h5::Group&, h5::Dataset& values) {
    values.write_strings_attribute("sensor_names", {"a", "b"});
  });
  expect_problem(path,
                 "/traces/values attribute sensor_names: has 2 names, expected n_sensors = 3");
}

TEST(TraceIndexErrors, WaferFieldLengthMismatch) {
  const std::string path = temp_path("wafers.h5");
  write_minimal(path, 10, 2, {0, 4, 10}, [](h5::File& file, h5::Group&, h5::Dataset&) {
    file.create_group("wafers")
        .create_dataset("label", h5::Elem::u8, {3})
        .write_all(std::span<const std::uint8_t>(std::vector<std::uint8_t>{0, 1, 0}));
  });
  expect_problem(path, "/wafers/label: has 3 entries, expected n_wafers = 2");
}

TEST(TraceIndexErrors, WaferFieldMustBeOneDimensional) {
  const std::string path = temp_path("wafers2d.h5");
  write_minimal(path, 10, 2, {0, 4, 10}, [](h5::File& file, h5::Group&, h5::Dataset&) {
    file.create_group("wafers")
        .create_dataset("xy", h5::Elem::f64, {2, 2})
        .write_all(std::span<const double>(std::vector<double>(4, 0.0)));
  });
  expect_problem(path, "/wafers/xy: has rank 2 [2, 2], expected rank 1");
}

TEST(TraceIndexErrors, AbsurdDimsAreRejectedBeforeAllocation) {
  // 2^62 rows of one float32 sensor: 2^64 bytes, which overflows.
  const std::string huge = temp_path("huge.h5");
  {
    h5::File file = h5::File::create(huge);
    h5::Group traces = file.create_group("traces");
    traces.create_dataset("values", h5::Elem::f32, {1ULL << 62, 1}, {.chunk = {1024, 1}});
    traces.create_dataset("offsets", h5::Elem::i64, {2})
        .write_all(std::span<const std::int64_t>(std::vector<std::int64_t>{0, 1LL << 62}));
  }
  expect_problem(huge,
                 "/traces/values: extent [4611686018427387904, 1] of 4-byte elements "
                 "overflows 64 bits");
  // 2^40 rows: no overflow, but impossible in a small file.
  const std::string big = temp_path("big.h5");
  {
    h5::File file = h5::File::create(big);
    h5::Group traces = file.create_group("traces");
    traces.create_dataset("values", h5::Elem::f32, {1ULL << 40, 2}, {.chunk = {1024, 2}});
    traces.create_dataset("offsets", h5::Elem::i64, {2})
        .write_all(std::span<const std::int64_t>(std::vector<std::int64_t>{0, 1LL << 40}));
  }
  expect_problem(big, "impossible in a file of");
  // An offsets table of 2^40 entries is refused before it is read.
  const std::string offsets = temp_path("bigoffsets.h5");
  {
    h5::File file = h5::File::create(offsets);
    h5::Group traces = file.create_group("traces");
    traces.create_dataset("values", h5::Elem::f32, {4, 1})
        .write_all(std::span<const float>(std::vector<float>(4, 0.0f)));
    traces.create_dataset("offsets", h5::Elem::i64, {1ULL << 40}, {.chunk = {1 << 16}});
  }
  expect_problem(offsets, "/traces/offsets: extent [1099511627776]");
}

TEST(TraceIndexErrors, UnwrittenValuesAreRejected) {
  const std::string path = temp_path("unwritten.h5");
  {
    h5::File file = h5::File::create(path);
    h5::Group traces = file.create_group("traces");
    traces.create_dataset("values", h5::Elem::f32, {100, 2});
    traces.create_dataset("offsets", h5::Elem::i64, {2})
        .write_all(std::span<const std::int64_t>(std::vector<std::int64_t>{0, 100}));
  }
  expect_problem(path, "the dataset was not completely written");
}

TEST(TraceIndexErrors, ExternalLinkIsNotFollowed) {
  const std::string target = temp_path("target.h5");
  write_sample(target);
  const std::string path = temp_path("extlink.h5");
  {
    h5::File file = h5::File::create(path);
    ASSERT_GE(H5Lcreate_external(target.c_str(), "/traces", file.id(), "traces", H5P_DEFAULT,
                                 H5P_DEFAULT),
              0);
  }
  expect_problem(path, "/traces: is not a hard link");
}

TEST(TraceIndexErrors, ExternalStorageIsRejected) {
  const std::string path = temp_path("external.h5");
  const std::string raw = temp_path("external.raw");
  std::ofstream(raw, std::ios::binary) << std::string(4 * 4 * 2, '\0');
  write_minimal(path, 4, 1, {0, 4}, [&](h5::File&, h5::Group& traces, h5::Dataset&) {
    h5::Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), h5::HandleKind::plist);
    ASSERT_GE(H5Pset_external(dcpl.id(), raw.c_str(), 0, 32), 0);
    const hsize_t dims[2] = {4, 2};
    h5::Handle space(H5Screate_simple(2, dims, nullptr), h5::HandleKind::dataspace);
    h5::Handle ds(H5Dcreate2(traces.id(), "values2", H5T_IEEE_F32LE, space.id(), H5P_DEFAULT,
                             dcpl.id(), H5P_DEFAULT),
                  h5::HandleKind::dataset);
    ASSERT_TRUE(ds.valid());
    ASSERT_GE(H5Ldelete(traces.id(), "values", H5P_DEFAULT), 0);
    ASSERT_GE(H5Lmove(traces.id(), "values2", traces.id(), "values", H5P_DEFAULT, H5P_DEFAULT), 0);
  });
  expect_problem(path, "/traces/values: uses external storage");
}

TEST(TraceIndexErrors, ValidatorCollectsEveryProblem) {
  const std::string path = temp_path("many.h5");
  write_minimal(path, 10, 3, {0, 6, 2, 10}, [](h5::File& file, h5::Group&, h5::Dataset& values) {
    values.write_strings_attribute("sensor_names", {"a"});
    file.create_group("wafers")
        .create_dataset("label", h5::Elem::u8, {5})
        .write_all(std::span<const std::uint8_t>(std::vector<std::uint8_t>(5, 0)));
  });
  const auto problems = validate_trace_file(path);
  ASSERT_EQ(problems.size(), 3u) << ::testing::PrintToString(problems);
  EXPECT_NE(problems[0].find("sensor_names: has 1 names"), std::string::npos) << problems[0];
  EXPECT_NE(problems[1].find("/traces/offsets[2] = 2 < offsets[1] = 6"), std::string::npos)
      << problems[1];
  EXPECT_NE(problems[2].find("/wafers/label: has 5 entries, expected n_wafers = 3"),
            std::string::npos)
      << problems[2];
}

}  // namespace
}  // namespace wafermill::format
