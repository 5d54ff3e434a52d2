// The real data sets of ../shared/data (see its README): imported, then read back through
// format/ and checked against the facts the README lists. Skipped when the data is absent.
//   SECOM: UCI Machine Learning Repository, M. McCann and A. Johnston (2008),
//          DOI 10.24432/C54305, CC BY 4.0.
//   Wafer: UCR Time Series Classification Archive (2018), data by R. T. Olszewski (2001).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "imported_file.hpp"
#include "wafermill/import/importer.hpp"

namespace wafermill::import {
namespace {

const std::string kData = std::string(WAFERMILL_SOURCE_DIR) + "/../shared/data";

/// Skips the test unless `file` (relative to the data directory) exists.
#define REQUIRE_DATA(file)                                                               \
  do {                                                                                   \
    if (!std::filesystem::exists(kData + "/" + (file))) {                                \
      GTEST_SKIP() << kData << "/" << (file)                                             \
                   << " is missing: the real data sets live in ../shared/data (see its " \
                      "README)";                                                         \
    }                                                                                    \
  } while (0)

TEST(RealData, SecomFacts) {
  REQUIRE_DATA("secom/secom.data");
  testing::ScratchDir dir("secom");
  ImportOptions o = preset("secom");
  o.inputs = {kData + "/secom/secom.data"};
  o.labels_file = kData + "/secom/secom_labels.data";
  o.output = dir.file("secom.h5");
  import_traces(o);

  const auto r = testing::read_back(o.output);
  const std::uint64_t W = r.index.n_wafers, S = r.index.n_sensors;
  EXPECT_EQ(W, 1567u);
  EXPECT_EQ(S, 590u);
  ASSERT_EQ(r.index.n_samples, W);  // one sample of every sensor per wafer
  for (std::uint64_t w = 0; w < W; ++w) ASSERT_EQ(r.index.wafer_rows(w), 1u);

  ASSERT_TRUE(r.labels.has_value());
  const auto fails = std::count(r.labels->begin(), r.labels->end(), 1);
  EXPECT_EQ(fails, 104);
  EXPECT_EQ(static_cast<std::int64_t>(W) - fails, 1463);

  std::uint64_t missing = 0;
  std::uint64_t rows_with_missing = 0;
  std::vector<std::uint64_t> column_missing(S, 0);
  for (std::uint64_t w = 0; w < W; ++w) {
    std::uint64_t in_row = 0;
    for (std::uint64_t s = 0; s < S; ++s) {
      if (std::isnan(r.at(w, s))) {
        ++in_row;
        ++column_missing[s];
      }
    }
    missing += in_row;
    rows_with_missing += in_row > 0;
  }
  EXPECT_EQ(missing, 41951u);
  EXPECT_NEAR(100.0 * static_cast<double>(missing) / static_cast<double>(W * S), 4.54, 0.005);
  EXPECT_EQ(rows_with_missing, W);  // every row has at least one missing value
  EXPECT_EQ(std::count_if(column_missing.begin(), column_missing.end(),
                          [](std::uint64_t m) { return m > 0; }),
            538);

  // Constant over the present values: every non-missing value of the column is equal.
  int constant = 0;
  for (std::uint64_t s = 0; s < S; ++s) {
    double lo = INFINITY, hi = -INFINITY;
    for (std::uint64_t w = 0; w < W; ++w) {
      const double v = r.at(w, s);
      if (std::isnan(v)) continue;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    constant += lo <= hi && lo == hi;
  }
  EXPECT_EQ(constant, 116);

  const auto ts = testing::read_wafer_ints(o.output, "timestamp");
  ASSERT_EQ(ts.size(), W);
  // 19/07/2008 11:55:00 and 17/10/2008 06:07:00 UTC (Python's calendar.timegm).
  EXPECT_EQ(*std::min_element(ts.begin(), ts.end()), 1216468500);
  EXPECT_EQ(*std::max_element(ts.begin(), ts.end()), 1224223620);
  EXPECT_EQ(ts.front(), 1216468500);  // the file is in time order: first and last rows
  EXPECT_EQ(ts.back(), 1224223620);
  EXPECT_NE(testing::read_root_attribute(o.output, "source_citation").find("10.24432/C54305"),
            std::string::npos);
  EXPECT_TRUE(format::validate_trace_file(o.output).empty());
}

TEST(RealData, UcrWaferFacts) {
  REQUIRE_DATA("ucr_wafer/Wafer_TRAIN.tsv");
  testing::ScratchDir dir("ucr");
  ImportOptions o = preset("ucr");
  o.inputs = {kData + "/ucr_wafer/Wafer_TRAIN.tsv"};
  o.output = dir.file("wafer.h5");
  o.buffer_bytes = 64 << 10;  // many batches: 64 KiB of rows at a time
  import_traces(o);

  const auto r = testing::read_back(o.output);
  EXPECT_EQ(r.index.n_wafers, 1000u);
  EXPECT_EQ(r.index.n_sensors, 1u);
  EXPECT_EQ(r.index.n_samples, 152000u);
  for (std::uint64_t w = 0; w < r.index.n_wafers; ++w) ASSERT_EQ(r.index.wafer_rows(w), 152u);
  EXPECT_EQ(std::count_if(r.values.begin(), r.values.end(), [](double v) { return std::isnan(v); }),
            0);
  ASSERT_TRUE(r.labels.has_value());
  EXPECT_EQ(std::count(r.labels->begin(), r.labels->end(), 0), 903);  // 1 = normal
  EXPECT_EQ(std::count(r.labels->begin(), r.labels->end(), 1), 97);   // -1 = abnormal
  // The first row of the file starts "1\t-1.6022936\t-1.6708228": normal, then its samples.
  EXPECT_EQ((*r.labels)[0], 0);
  EXPECT_EQ(r.values[0], -1.6022936);
  EXPECT_EQ(r.values[1], -1.6708228);
  EXPECT_TRUE(format::validate_trace_file(o.output).empty());
  // The preset's time windows: 8 per series, 19 of its 152 samples each.
  ASSERT_TRUE(r.index.has_steps);
  EXPECT_EQ(r.index.n_steps, 8u);
  std::vector<std::int32_t> steps(r.index.n_samples);
  std::vector<double> values(r.index.n_samples);
  format::TraceReader(r.index, format::IoDriver::posix, MPI_COMM_NULL)
      .read_rows(0, r.index.n_samples, values.data(), steps);
  for (std::uint64_t i = 0; i < r.index.n_samples; ++i) ASSERT_EQ(steps[i], (i % 152) / 19) << i;
}

}  // namespace
}  // namespace wafermill::import
