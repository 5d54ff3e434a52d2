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

TEST(FleetShift, NoWafersNoShift) {
  ft::SampleSpec spec;
  spec.wafer_rows = {0, 0};
  spec.n_steps = 0;
  spec.wafer_fields = false;
  EXPECT_EQ(shift_of(spec, "shift_none.h5"), std::vector<double>(3, 0.0));
}

}  // namespace
}  // namespace wafermill::job
