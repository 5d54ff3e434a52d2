// The per-sensor shift of the fleet moments (src/job/fleet_shift.hpp), chosen from a sample file
// whose values are known: value(row, sensor) = 8 row + sensor + 0.25 (sample_files.hpp).
#include <gtest/gtest.h>

#include <vector>

#include "../format/sample_files.hpp"
#include "fleet_shift.hpp"
#include "wafermill/format/trace_index.hpp"
#include "wafermill/format/trace_reader.hpp"

namespace wafermill::job {
namespace {

namespace ft = format::testing;

std::vector<double> shift_of(const ft::SampleSpec& spec, const std::string& name) {
  const std::string path = ft::temp_path(name);
  ft::write_sample(path, spec);
  const format::TraceIndex index = format::read_trace_index(path);
  format::TraceReader reader(index, format::IoDriver::posix, MPI_COMM_NULL);
  return choose_fleet_shift(index, reader, Team());
}

TEST(FleetShift, MedianOfTheFirstWaferWithSamples) {
  ft::SampleSpec spec;  // wafers of 3, 0, 5, 2 rows
  const auto c = shift_of(spec, "shift_first.h5");
  ASSERT_EQ(c.size(), 3u);
  for (std::size_t s = 0; s < 3; ++s) EXPECT_EQ(c[s], ft::sample_value(1, s)) << s;  // rows 0-2
  spec.wafer_rows = {0, 0, 5, 2};  // empty wafers are passed over
  spec.float64 = true;
  const auto d = shift_of(spec, "shift_empty_first.h5");
  for (std::size_t s = 0; s < 3; ++s) EXPECT_EQ(d[s], ft::sample_value(2, s)) << s;  // rows 0-4
}

TEST(FleetShift, ReadsAtMostKShiftRowsOfASensor) {
  ft::SampleSpec spec;
  spec.wafer_rows = {kShiftRows + 1000, 3};
  spec.n_steps = 0;
  spec.wafer_fields = false;
  const auto c = shift_of(spec, "shift_long.h5");
  // The upper median of rows 0 .. kShiftRows - 1, not of the wafer's kShiftRows + 1000 rows.
  for (std::size_t s = 0; s < c.size(); ++s) EXPECT_EQ(c[s], ft::sample_value(kShiftRows / 2, s));
}

TEST(FleetShift, FilesThatLackTheSensorArePassedOverUnread) {
  // B: one long wafer of 2 sensors, then A: 3 sensors; the union has A's third sensor, which B's
  // kShiftRows + 10 rows lack. Read, they would use up the sensor's row budget (c = 0).
  ft::SampleSpec sb;
  sb.wafer_rows = {kShiftRows + 10};
  sb.n_sensors = 2;
  sb.n_steps = 0;
  sb.wafer_fields = false;
  ft::SampleSpec sa;
  sa.n_steps = 0;
  sa.wafer_fields = false;
  const std::string b = ft::temp_path("shift_b.h5"), a = ft::temp_path("shift_a.h5");
  ft::write_sample(b, sb);
  ft::write_sample(a, sa);
  const format::TraceIndex index =
      format::merge_trace_indexes({format::read_trace_index(b), format::read_trace_index(a)}, "ba");
  ASSERT_EQ(index.n_sensors, 3u);
  ASSERT_EQ(index.sources.at(0).columns, (std::vector<std::int64_t>{0, 1, -1}));
  format::TraceReader reader(index, format::IoDriver::posix, MPI_COMM_NULL);
  const auto c = choose_fleet_shift(index, reader, Team());
  for (std::size_t s = 0; s < 2; ++s) EXPECT_EQ(c[s], ft::sample_value(kShiftRows / 2, s));
  EXPECT_EQ(c[2], ft::sample_value(1, 2)) << "the median of A's first wafer (its rows 0-2)";
}

TEST(FleetShift, NoWafersNoShift) {
  ft::SampleSpec spec;
  spec.wafer_rows = {0, 0};
  spec.n_steps = 0;
  spec.wafer_fields = false;
  EXPECT_EQ(shift_of(spec, "shift_none.h5"), std::vector<double>(3, 0.0));
}

}  // namespace
}  // namespace wafermill::job
