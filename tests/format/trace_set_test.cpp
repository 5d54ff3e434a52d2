/// @file trace_set_test.cpp
/// @brief Several input files as one index (merge_trace_indexes) and one reader.
#include <gtest/gtest.h>

#include <cmath>

#include <mpi.h>

#include "sample_files.hpp"
#include "wafermill/error.hpp"
#include "wafermill/format/h5.hpp"
#include "wafermill/format/input_wafers.hpp"
#include "wafermill/format/trace_index.hpp"
#include "wafermill/format/trace_reader.hpp"

namespace wafermill::format {
namespace {

using testing::sample_step;
using testing::sample_value;
using testing::SampleSpec;
using testing::temp_path;
using testing::write_sample;

// A: 4 wafers, 3 sensors, float32, 3 steps. B: 2 wafers, 2 sensors (A's first two), float64,
// no steps. C: 0 wafers.
struct ThreeFiles {
  std::string a = temp_path("set_a.h5"), b = temp_path("set_b.h5"), c = temp_path("set_c.h5");
  ThreeFiles() {
    write_sample(a);
    SampleSpec sb;
    sb.wafer_rows = {4, 1};
    sb.n_sensors = 2;
    sb.float64 = true;
    sb.n_steps = 0;
    write_sample(b, sb);
    SampleSpec sc;
    sc.wafer_rows = {};
    write_sample(c, sc);
  }
  TraceIndex merged() const {
    return merge_trace_indexes({read_trace_index(a), read_trace_index(c), read_trace_index(b)},
                               "set");
  }
};

TEST(TraceSet, NumbersWafersAndRowsInFileOrder) {
  const ThreeFiles f;
  const TraceIndex t = f.merged();
  EXPECT_EQ(t.path, "set");
  EXPECT_EQ(t.n_wafers, 6u);
  EXPECT_EQ(t.n_samples, 15u);
  EXPECT_EQ(t.offsets, (std::vector<std::uint64_t>{0, 3, 3, 8, 10, 14, 15}));
  EXPECT_EQ(t.value_type, ValueType::float64) << "float32 and float64 files: float64";
  EXPECT_EQ(t.n_sensors, 3u);
  EXPECT_TRUE(t.has_steps);
  EXPECT_EQ(t.n_steps, 3u);
  ASSERT_EQ(t.sources.size(), 3u);
  EXPECT_EQ(t.sources[2].first_wafer, 4u);
  EXPECT_EQ(t.sources[2].first_row, 10u);
  EXPECT_EQ(t.sources[2].columns, (std::vector<std::int64_t>{0, 1, -1}));
  EXPECT_TRUE(t.sources[0].columns.empty());
  EXPECT_EQ(t.source_of_wafer(3), 0u);
  EXPECT_EQ(t.source_of_wafer(4), 2u) << "the empty file holds no wafer";
  EXPECT_EQ(t.source_end_wafer(1), 4u);
  EXPECT_EQ(t.wafer_where(5), f.b + ": /traces/values wafer 1");
  EXPECT_EQ(t.source_first_wafers(), (std::vector<std::uint64_t>{0, 4, 4}));
  // Both files hold lot_id and label.
  ASSERT_EQ(t.wafer_fields.size(), 2u);
  EXPECT_EQ(TraceIndex::deserialize(t.serialize()).serialize(), t.serialize());
  const TraceIndex back = TraceIndex::deserialize(t.serialize());
  EXPECT_EQ(back.sources[2].columns, t.sources[2].columns);
  EXPECT_EQ(back.sources[2].path, f.b);
}

TEST(TraceSet, ReaderStitchesFilesWidensAndFillsMissingSensors) {
  const ThreeFiles f;
  const TraceIndex t = f.merged();
  TraceReader reader(t, IoDriver::posix, MPI_COMM_NULL);
  // Every row of the job, in one read across the three files.
  std::vector<double> v(t.n_samples * 3);
  std::vector<std::int32_t> steps(t.n_samples, -1);
  reader.read_rows(0, t.n_samples, v.data(), steps);
  for (std::uint64_t r = 0; r < t.n_samples; ++r) {
    const bool in_b = r >= 10;
    const std::uint64_t local = in_b ? r - 10 : r;
    for (std::uint64_t s = 0; s < 3; ++s) {
      if (in_b && s == 2)
        EXPECT_TRUE(std::isnan(v[r * 3 + s])) << "B lacks chamber_2: row " << r;
      else
        EXPECT_EQ(v[r * 3 + s], sample_value(local, s)) << "row " << r << " sensor " << s;
    }
    EXPECT_EQ(steps[r], in_b ? 0 : sample_step(local, 3)) << "a file without steps is step 0";
  }
  // A column of B's wafer, and the missing one.
  std::vector<double> col(4);
  reader.read_column(10, 4, 1, col.data(), {});
  for (std::uint64_t r = 0; r < 4; ++r) EXPECT_EQ(col[r], sample_value(r, 1));
  reader.read_column(10, 4, 2, col.data(), {});
  for (double x : col) EXPECT_TRUE(std::isnan(x));
  EXPECT_EQ(reader.map_rows(8, 4, {}), nullptr) << "a read across files is copied";
  EXPECT_GT(reader.bytes_read(), 0u);
}

TEST(TraceSet, OneFileIsItsOwnIndexAndAFileNamedTwiceIsRefused) {
  const ThreeFiles f;
  const TraceIndex one = merge_trace_indexes({read_trace_index(f.a)}, "x");
  EXPECT_TRUE(one.sources.empty());
  EXPECT_EQ(one.path, f.a);
  EXPECT_EQ(one.n_files(), 1u);
  try {
    (void)merge_trace_indexes({read_trace_index(f.a), read_trace_index(f.b), read_trace_index(f.a)},
                              "x");
    FAIL() << "a file named twice must be refused";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("named twice among the inputs (files 1 and 3)"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW((void)merge_trace_indexes({}, "x"), InputError);
}

// The /wafers values the input checks read travel to rank 0 (read_trace_index(path, file, true),
// WaferFieldValues::encode); copying them gives the bytes of reading the files: strings, and
// numbers converted to the first file's type (int32 here, where the second file holds int64).
// Some files carried, others read (too large to carry, or checked nowhere).
TEST(TraceSet, CarriedWaferFieldsCopyAsReadingTheFilesDoes) {
  ThreeFiles f;
  auto add_field = [](const std::string& path, h5::Elem type, std::vector<std::int64_t> x) {
    h5::File file = h5::File::open_read_write(path);
    h5::Group wafers = file.open_group("wafers");
    h5::Dataset d = wafers.create_dataset("x", type, {x.size()});
    if (!x.empty()) d.write(std::span<const std::int64_t>(x), {0}, {x.size()});
  };
  add_field(f.a, h5::Elem::i32, {1, -2, 3, 4});
  add_field(f.b, h5::Elem::i64, {5000000000LL, -7});
  add_field(f.c, h5::Elem::u8, {});
  std::vector<TraceIndex> with_values;
  for (const std::string* p : {&f.a, &f.c, &f.b}) {
    const h5::File file = h5::File::open_read(*p);
    with_values.push_back(read_trace_index(*p, file, true));
    ASSERT_EQ(with_values.back().field_values.size(), 3u) << *p;  // label, lot_id, x
  }
  const std::vector<std::string> carried = {WaferFieldValues::encode(with_values[0].field_values),
                                            "",  // c: read from its file
                                            WaferFieldValues::encode(with_values[2].field_values)};
  EXPECT_EQ(WaferFieldValues::decode(carried[2]).at(2).words.size(), 2u);
  const TraceIndex merged = merge_trace_indexes(std::move(with_values), "set");
  ASSERT_EQ(merged.wafer_fields.size(), 3u);
  const std::string read_path = temp_path("copy_read.h5"),
                    carried_path = temp_path("copy_carried.h5");
  for (const auto* out : {&read_path, &carried_path}) {
    h5::File file = h5::File::create(*out);
    h5::Group wafers = file.create_group("wafers");
    copy_source_wafers(merged, file, wafers,
                       out == &carried_path ? carried : std::vector<std::string>{});
  }
  const h5::File a = h5::File::open_read(read_path), b = h5::File::open_read(carried_path);
  for (const char* group : {"wafers", "input/wafers"}) {
    const h5::Group ga =
        group[0] == 'w' ? a.open_group("wafers") : a.open_group("input").open_group("wafers");
    const h5::Group gb =
        group[0] == 'w' ? b.open_group("wafers") : b.open_group("input").open_group("wafers");
    for (const std::string& name : ga.link_names()) {
      const h5::Dataset da = ga.open_dataset(name), db = gb.open_dataset(name);
      ASSERT_EQ(da.type().size, db.type().size) << group << "/" << name;
      ASSERT_EQ(da.type().type_class, db.type().type_class) << group << "/" << name;
      if (da.type().type_class == h5::TypeClass::string) {
        EXPECT_EQ(da.read_strings(0, 6), db.read_strings(0, 6)) << group << "/" << name;
      } else {
        std::vector<std::int64_t> xa(6), xb(6);
        da.read(std::span<std::int64_t>(xa), {0}, {6});
        db.read(std::span<std::int64_t>(xb), {0}, {6});
        EXPECT_EQ(xa, xb) << group << "/" << name;
      }
    }
  }
  // x was created as the first file's int32; the second file's 5e9 is converted as HDF5 does.
  std::vector<std::int64_t> x(6);
  b.open_group("input").open_group("wafers").open_dataset("x").read(std::span<std::int64_t>(x), {0},
                                                                    {6});
  EXPECT_EQ(x[0], 1);
  EXPECT_EQ(x[1], -2);
  EXPECT_EQ(x[5], -7);
  EXPECT_EQ(b.open_group("input").open_group("wafers").open_dataset("x").type().size, 4u);
}

// --time-windows (use_time_windows): an index of traces without steps is given N steps, and
// every read (rows, a column, a mapping; one file or several) gives row i of a wafer of n rows
// the window floor(i * N / n). A file with steps refuses windows, naming it.
TEST(TimeWindows, EveryReadGivesEachRowItsWindow) {
  const std::string one = temp_path("windows_one.h5"), two = temp_path("windows_two.h5");
  SampleSpec spec;
  spec.wafer_rows = {7, 0, 3, 1, 12};  // shorter and longer than the windows, and empty
  spec.n_steps = 0;
  write_sample(one, spec);
  spec.wafer_rows = {5, 2};
  write_sample(two, spec);
  constexpr std::uint32_t N = 4;
  const auto expected = [](const TraceIndex& t) {
    std::vector<std::int32_t> steps;
    for (std::uint64_t w = 0; w < t.n_wafers; ++w)
      for (std::uint64_t i = 0; i < t.wafer_rows(w); ++i)
        steps.push_back(static_cast<std::int32_t>(i * N / t.wafer_rows(w)));
    return steps;
  };
  TraceIndex single = read_trace_index(one);
  TraceIndex merged = merge_trace_indexes({read_trace_index(one), read_trace_index(two)}, "set");
  for (TraceIndex* t : {&single, &merged}) {
    ASSERT_FALSE(t->has_steps);
    use_time_windows(*t, N);
    EXPECT_TRUE(t->has_steps);
    EXPECT_EQ(t->n_steps, N);
    EXPECT_EQ(t->time_windows, N);
    const std::vector<std::int32_t> want = expected(*t);
    TraceReader reader(*t, IoDriver::posix, MPI_COMM_NULL);
    std::vector<float> values(t->n_samples * t->n_sensors);
    // All rows at once (across both files of the merged index), then wafer by wafer.
    std::vector<std::int32_t> steps(t->n_samples, -1);
    reader.read_rows(0, t->n_samples, values.data(), steps);
    EXPECT_EQ(steps, want) << t->path;
    for (std::uint64_t w = 0; w < t->n_wafers; ++w) {
      const std::uint64_t first = t->offsets[w], n = t->wafer_rows(w);
      const std::vector<std::int32_t> wafer(want.begin() + first, want.begin() + first + n);
      std::vector<std::int32_t> by_rows(n, -1), by_column(n, -1), by_map(n, -1);
      reader.read_rows(first, n, values.data(), by_rows);
      reader.read_column(first, n, 1, values.data(), by_column);
      EXPECT_EQ(by_rows, wafer) << t->path << " wafer " << w;
      EXPECT_EQ(by_column, wafer) << t->path << " wafer " << w;
      if (reader.map_rows(first, n, by_map) != nullptr) {
        EXPECT_EQ(by_map, wafer) << t->path << " wafer " << w;
      }
    }
  }
  const std::string with_steps = temp_path("windows_stepped.h5");
  write_sample(with_steps);  // 3 recipe steps
  TraceIndex stepped = read_trace_index(with_steps);
  try {
    use_time_windows(stepped, N);
    ADD_FAILURE() << "windows over recipe steps";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("windows_stepped.h5: /traces/step"), std::string::npos)
        << e.what();
  }
  TraceIndex plain = read_trace_index(one);
  EXPECT_THROW(use_time_windows(plain, kMaxSteps + 1), UsageError);
  use_time_windows(plain, 0);
  EXPECT_FALSE(plain.has_steps);
}

}  // namespace
}  // namespace wafermill::format
