/// @file trace_reader_test.cpp
/// @brief TraceReader (posix driver, MPI not initialised): exact rows for every storage kind.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include <mpi.h>

#include "sample_files.hpp"
#include "wafermill/error.hpp"
#include "wafermill/format/h5.hpp"
#include "wafermill/format/trace_reader.hpp"

namespace wafermill::format {
namespace {

using testing::sample_step;
using testing::sample_value;
using testing::SampleSpec;
using testing::temp_path;
using testing::write_sample;

struct Storage {
  const char* name;
  bool float64;
  std::vector<std::uint64_t> chunk;
  int deflate;
};

class ReaderStorage : public ::testing::TestWithParam<Storage> {};

template <class T>
void check_rows(TraceReader& reader, const TraceIndex& idx, std::uint64_t first, std::uint64_t n) {
  std::vector<T> values(n * idx.n_sensors);
  std::vector<std::int32_t> steps(n);
  reader.read_rows(first, n, values.data(), steps);
  for (std::uint64_t r = 0; r < n; ++r) {
    for (std::uint64_t s = 0; s < idx.n_sensors; ++s) {
      ASSERT_EQ(values[r * idx.n_sensors + s], static_cast<T>(sample_value(first + r, s)))
          << "row " << first + r << " sensor " << s;
    }
    ASSERT_EQ(steps[r], sample_step(first + r, idx.n_steps)) << "row " << first + r;
  }
  std::vector<T> column(n);
  reader.read_column(first, n, idx.n_sensors - 1, column.data(), {});
  for (std::uint64_t r = 0; r < n; ++r) {
    ASSERT_EQ(column[r], static_cast<T>(sample_value(first + r, idx.n_sensors - 1)));
  }
}

// Five wafers (one empty) of 5 sensors in the storage `p` describes; returns the spec written.
SampleSpec write_storage_sample(const std::string& path, const Storage& p) {
  SampleSpec spec;
  spec.wafer_rows = {40, 0, 77, 13, 100};
  spec.n_sensors = 5;
  spec.float64 = p.float64;
  spec.chunk = p.chunk;
  spec.deflate_level = p.deflate;
  write_sample(path, spec);
  return spec;
}

TEST_P(ReaderStorage, ReturnsExactRowsWithoutMpi) {
  int mpi_initialized = 1;
  MPI_Initialized(&mpi_initialized);
  ASSERT_EQ(mpi_initialized, 0) << "this test checks the posix reader without MPI";
  const Storage& p = GetParam();
  const std::string path = temp_path(std::string("reader_") + p.name + ".h5");
  write_storage_sample(path, p);
  const TraceIndex idx = read_trace_index(path);
  TraceReader reader(idx, IoDriver::posix, MPI_COMM_NULL);
  for (std::uint64_t w = 0; w < idx.n_wafers; ++w) {
    if (p.float64) {
      check_rows<double>(reader, idx, idx.offsets[w], idx.wafer_rows(w));
    } else {
      check_rows<float>(reader, idx, idx.offsets[w], idx.wafer_rows(w));
    }
  }
  EXPECT_EQ(reader.bytes_read(),
            idx.n_samples * idx.row_bytes() + idx.n_samples * (p.float64 ? 8 : 4));
}

// In-place reads (map_rows) give exactly read_rows' bytes where the storage allows them, and
// nothing (so the caller copies) where it does not: filters, partial-width chunks, unaligned
// addresses.
TEST_P(ReaderStorage, MapRowsGivesReadRowsBytesOrNothing) {
  const Storage& p = GetParam();
  const std::string path = temp_path(std::string("map_") + p.name + ".h5");
  const SampleSpec spec = write_storage_sample(path, p);
  const TraceIndex idx = read_trace_index(path);
  TraceReader reader(idx, IoDriver::posix, MPI_COMM_NULL);
  if (p.deflate > 0 || (!p.chunk.empty() && p.chunk[1] != spec.n_sensors)) {
    EXPECT_FALSE(reader.maps_in_place()) << "a filtered or partial-width layout must be copied";
  }
  if (p.chunk.empty()) {  // contiguous: mapped exactly when the address keeps values aligned
    const h5::StorageInfo st =
        h5::File::open_read(path).open_group("traces").open_dataset("values").storage();
    ASSERT_TRUE(st.file_offset.has_value());
    EXPECT_EQ(reader.maps_in_place(), *st.file_offset % (p.float64 ? 8 : 4) == 0)
        << "offset " << *st.file_offset;
    std::printf("%s: values at %llu, in place: %d\n", p.name,
                static_cast<unsigned long long>(*st.file_offset), int(reader.maps_in_place()));
  }
  std::vector<std::int32_t> steps(idx.n_samples), copied_steps(idx.n_samples);
  for (std::uint64_t w = 0; w < idx.n_wafers; ++w) {
    const std::uint64_t first = idx.offsets[w], n = idx.wafer_rows(w);
    std::vector<unsigned char> copied(n * idx.row_bytes());
    reader.read_rows(first, n, copied.data(), std::span(copied_steps).first(n));
    const void* mapped = reader.map_rows(first, n, std::span(steps).first(n));
    if (!reader.maps_in_place() || n == 0) {
      EXPECT_EQ(mapped, nullptr);
      continue;
    }
    ASSERT_NE(mapped, nullptr);
    EXPECT_EQ(std::memcmp(mapped, copied.data(), copied.size()), 0) << "wafer " << w;
    EXPECT_TRUE(std::equal(copied_steps.begin(), copied_steps.begin() + n, steps.begin()));
  }
}

// The index read finds where the values and steps lie as native arrays; a reader given those
// addresses reads in place without opening the file with HDF5 (issue 19: no HDF5 open per file
// on the readers of a night of small files), and gives the rows and steps of a reader that opens
// it. Where the storage is not a native array the index says so and the reader copies.
TEST_P(ReaderStorage, IndexAddressesReadWithoutHdf5) {
  const Storage& p = GetParam();
  const std::string path = temp_path(std::string("addr_") + p.name + ".h5");
  const SampleSpec spec = write_storage_sample(path, p);
  const TraceIndex idx = read_trace_index(path);
  const bool native = p.deflate == 0 && (p.chunk.empty() || p.chunk[1] == spec.n_sensors);
  if (!native) {
    EXPECT_EQ(idx.values_at, kNotInPlace);
  }
  ASSERT_TRUE(idx.has_steps);
  std::printf("%s: values_at %llu, steps_at %llu\n", p.name,
              static_cast<unsigned long long>(idx.values_at),
              static_cast<unsigned long long>(idx.steps_at));
  std::vector<std::vector<unsigned char>> mapped(idx.n_wafers), direct(idx.n_wafers);
  std::vector<std::vector<std::int32_t>> mapped_steps(idx.n_wafers), direct_steps(idx.n_wafers);
  {
    TraceReader by_index(idx, IoDriver::posix, MPI_COMM_NULL);
    EXPECT_EQ(by_index.maps_in_place(), idx.values_at != kNotInPlace);
    for (std::uint64_t w = 0; w < idx.n_wafers; ++w) {
      const std::uint64_t n = idx.wafer_rows(w);
      // read_rows: pread of the native array's bytes where the index found it.
      direct[w].resize(n * idx.row_bytes());
      direct_steps[w].resize(n);
      by_index.read_rows(idx.offsets[w], n, direct[w].data(), direct_steps[w]);
      mapped_steps[w].resize(n);
      const void* m = by_index.map_rows(idx.offsets[w], n, mapped_steps[w]);
      if (m == nullptr) continue;
      const auto* b = static_cast<const unsigned char*>(m);
      mapped[w].assign(b, b + n * idx.row_bytes());
    }
    if (idx.values_at != kNotInPlace && idx.steps_at != kNotInPlace) {
      EXPECT_EQ(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_FILE), 0)
          << "a reader with the index's addresses opened the file with HDF5";
    }
  }
  TraceIndex plain = idx;  // no addresses: the reader opens the file and copies
  plain.values_at = plain.steps_at = kNotInPlace;
  TraceReader copier(plain, IoDriver::posix, MPI_COMM_NULL);
  for (std::uint64_t w = 0; w < idx.n_wafers; ++w) {
    const std::uint64_t n = idx.wafer_rows(w);
    std::vector<unsigned char> rows(n * idx.row_bytes());
    std::vector<std::int32_t> steps(n);
    copier.read_rows(idx.offsets[w], n, rows.data(), steps);
    EXPECT_EQ(direct[w], rows) << "wafer " << w;
    EXPECT_EQ(direct_steps[w], steps) << "wafer " << w;
    if (idx.values_at != kNotInPlace && n > 0) {
      EXPECT_EQ(mapped[w], rows) << "wafer " << w;
    }
    if (!mapped[w].empty() || n == 0) {
      EXPECT_EQ(mapped_steps[w], steps) << "wafer " << w;
    }
  }
}

// A file cut short after its index was read fails as a read does (InputError naming it), not
// with SIGBUS, whether the values or the steps are cut, mapped or read by pread.
TEST(TraceReader, AddressesOfAFileCutShortFailCleanly) {
  const std::string path = temp_path("addr_cut.h5");
  SampleSpec spec;
  spec.wafer_rows = {40, 0, 77, 13, 100};
  spec.n_sensors = 5;
  write_sample(path, spec);
  const TraceIndex idx = read_trace_index(path);
  ASSERT_NE(idx.values_at, kNotInPlace);
  ASSERT_NE(idx.steps_at, kNotInPlace);
  const std::uint64_t values_end = idx.values_at + idx.n_samples * idx.row_bytes();
  const std::uint64_t steps_end = idx.steps_at + idx.n_samples * 4;
  for (const std::uint64_t cut : {values_end - 1, steps_end - 1}) {
    const std::string copy = temp_path("addr_cut_copy.h5");
    std::filesystem::copy_file(path, copy, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::resize_file(copy, cut);
    TraceIndex moved = idx;
    moved.path = copy;
    TraceReader reader(moved, IoDriver::posix, MPI_COMM_NULL);
    std::vector<std::int32_t> steps(100);
    try {
      reader.map_rows(idx.offsets[4], 100, steps);
      ADD_FAILURE() << "no error reading past the end, cut at " << cut;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(copy), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("shorter"), std::string::npos) << e.what();
    }
    std::vector<unsigned char> values(100 * idx.row_bytes());
    try {  // the same by pread
      reader.read_rows(idx.offsets[4], 100, values.data(), steps);
      ADD_FAILURE() << "no error reading past the end by pread, cut at " << cut;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(copy), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("shorter"), std::string::npos) << e.what();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Storages, ReaderStorage,
                         ::testing::Values(Storage{"f32_contiguous", false, {}, 0},
                                           Storage{"f64_contiguous", true, {}, 0},
                                           Storage{"f32_chunked", false, {16, 2}, 0},
                                           Storage{"f64_chunked", true, {64, 5}, 0},
                                           Storage{"f32_gzip_shuffle", false, {32, 5}, 6},
                                           Storage{"f64_gzip_shuffle", true, {7, 3}, 9}),
                         [](const auto& test) { return std::string(test.param.name); });

TEST(TraceReader, StepOutOfRangeNamesTheRow) {
  const std::string path = temp_path("reader_badstep.h5");
  {
    h5::File file = h5::File::create(path);
    h5::Group traces = file.create_group("traces");
    traces.create_dataset("values", h5::Elem::f32, {6, 1})
        .write_all(std::span<const float>(std::vector<float>(6, 0.0f)));
    traces.create_dataset("offsets", h5::Elem::u64, {2})
        .write_all(std::span<const std::uint64_t>(std::vector<std::uint64_t>{0, 6}));
    h5::Dataset step = traces.create_dataset("step", h5::Elem::i64, {6});
    step.write_all(std::span<const std::int64_t>(std::vector<std::int64_t>{0, 1, 1, 9, 0, 0}));
    step.write_int_attribute("n_steps", 2);
  }
  const TraceIndex idx = read_trace_index(path);  // trusts the attribute
  TraceReader reader(idx, IoDriver::posix, MPI_COMM_NULL);
  std::vector<float> values(6);
  std::vector<std::int32_t> steps(6);
  try {
    reader.read_rows(0, 6, values.data(), steps);
    FAIL() << "no exception";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), path + ": /traces/step[3] = 9 outside [0, 2)");
  }
  EXPECT_NO_THROW(reader.read_rows(0, 3, values.data(), std::span<std::int32_t>(steps).first(3)));
  EXPECT_THROW(reader.read_rows(4, 3, values.data(), {}), std::out_of_range);
}

TEST(TraceReader, DriverNames) {
  EXPECT_EQ(parse_io_driver("posix"), IoDriver::posix);
  EXPECT_EQ(parse_io_driver("mpio"), IoDriver::mpio);
  EXPECT_EQ(to_string(IoDriver::mpio), "mpio");
  EXPECT_THROW(parse_io_driver("stdio"), UsageError);
}

}  // namespace
}  // namespace wafermill::format
