/// @file generate_test.cpp
/// @brief The generated file's structure, determinism and statistics.
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numeric>
#include <set>
#include <thread>

#include "trace_file.hpp"
#include "wafermill/error.hpp"
#include "wafermill/format/trace_index.hpp"

namespace wafermill::generate {
namespace {

using testing::load;
using testing::LoadedTraces;
using testing::ScratchDir;
using testing::small_options;

std::vector<char> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

TEST(Generate, SameSeedGivesIdenticalValuesAndOffsets) {
  ScratchDir dir;
  GeneratorOptions a = small_options(dir.file("a.h5"));
  GeneratorOptions b = a;
  b.output = dir.file("b.h5");
  generate_traces(a);
  generate_traces(b);
  const LoadedTraces ta = load(a.output);
  const LoadedTraces tb = load(b.output);
  EXPECT_TRUE(same_bits(ta.values, tb.values));  // NaN == NaN bitwise too
  EXPECT_EQ(ta.offsets, tb.offsets);
  EXPECT_EQ(ta.steps, tb.steps);
  EXPECT_EQ(ta.anomaly_kind, tb.anomaly_kind);
}

TEST(Generate, SameSeedGivesByteIdenticalFile) {
  ScratchDir dir;
  GeneratorOptions a = small_options(dir.file("a.h5"));
  a.gzip_level = 4;
  GeneratorOptions b = a;
  b.output = dir.file("b.h5");
  generate_traces(a);
  // HDF5 stamps objects with their creation time unless told not to: a second apart the
  // files differ if anything records the time.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  generate_traces(b);
  EXPECT_TRUE(file_bytes(a.output) == file_bytes(b.output));
}

TEST(Generate, DifferentSeedGivesDifferentValues) {
  ScratchDir dir;
  GeneratorOptions a = small_options(dir.file("a.h5"));
  GeneratorOptions b = a;
  b.output = dir.file("b.h5");
  b.seed = a.seed + 1;
  generate_traces(a);
  generate_traces(b);
  const LoadedTraces ta = load(a.output);
  const LoadedTraces tb = load(b.output);
  EXPECT_NE(ta.offsets, tb.offsets);
  const std::size_t n = std::min(ta.values.size(), tb.values.size());
  std::size_t equal = 0;
  for (std::size_t i = 0; i < n; ++i) equal += ta.values[i] == tb.values[i] ? 1 : 0;
  // Samples are multiples of about sigma/8, so a few percent agree by chance.
  EXPECT_LT(equal, n / 5);
}

TEST(Generate, WafersDoNotDependOnChunkingOrValueType) {
  ScratchDir dir;
  GeneratorOptions a = small_options(dir.file("a.h5"));
  a.float64 = true;
  GeneratorOptions b = a;
  b.output = dir.file("b.h5");
  b.chunk_rows = 77;  // wafers straddle many batches
  b.gzip_level = 6;
  GeneratorOptions c = a;
  c.output = dir.file("c.h5");
  c.float64 = false;
  generate_traces(a);
  generate_traces(b);
  generate_traces(c);
  const LoadedTraces ta = load(a.output);
  const LoadedTraces tb = load(b.output);
  const LoadedTraces tc = load(c.output);
  EXPECT_TRUE(same_bits(ta.values, tb.values));
  EXPECT_EQ(ta.steps, tb.steps);
  ASSERT_EQ(ta.values.size(), tc.values.size());
  for (std::size_t i = 0; i < ta.values.size(); ++i) {
    const double rounded = static_cast<float>(ta.values[i]);
    if (std::isnan(rounded)) {
      ASSERT_TRUE(std::isnan(tc.values[i])) << i;
    } else {
      ASSERT_EQ(rounded, tc.values[i]) << i;
    }
  }
}

TEST(Generate, ShapesOffsetsStepsAndWaferColumnsAreConsistent) {
  ScratchDir dir;
  GeneratorOptions o = small_options(dir.file("t.h5"));
  o.empty_fraction = 0.05;
  const GeneratorResult r = generate_traces(o);
  const LoadedTraces t = load(o.output);

  EXPECT_EQ(r.n_wafers, o.n_wafers);
  EXPECT_EQ(r.bytes, std::filesystem::file_size(o.output));
  ASSERT_EQ(t.offsets.size(), o.n_wafers + 1);
  EXPECT_EQ(t.offsets.front(), 0);
  EXPECT_TRUE(std::is_sorted(t.offsets.begin(), t.offsets.end()));
  EXPECT_EQ(static_cast<std::uint64_t>(t.offsets.back()), r.n_samples);
  EXPECT_EQ(t.values_dims, (std::vector<std::uint64_t>{r.n_samples, o.n_sensors}));
  EXPECT_EQ(t.sensor_names.size(), o.n_sensors);
  EXPECT_EQ(t.sensor_names.front(), "chamber_pressure_mtorr");

  std::uint64_t empty = 0;
  for (std::uint64_t w = 0; w < o.n_wafers; ++w) empty += t.rows(w) == 0 ? 1 : 0;
  EXPECT_GT(empty, 0U);

  // Steps: in range, non-decreasing within each wafer, every step present on long wafers.
  ASSERT_EQ(t.steps.size(), r.n_samples);
  EXPECT_EQ(t.n_steps_attribute, o.n_steps);
  for (std::uint64_t w = 0; w < o.n_wafers; ++w) {
    const auto first = t.steps.begin() + t.offsets[w];
    const auto last = t.steps.begin() + t.offsets[w + 1];
    ASSERT_TRUE(std::is_sorted(first, last)) << "wafer " << w;
    for (auto it = first; it != last; ++it) {
      ASSERT_GE(*it, 0);
      ASSERT_LT(*it, static_cast<std::int32_t>(o.n_steps));
    }
    if (t.rows(w) >= 100) {
      EXPECT_EQ(*first, 0);
      EXPECT_EQ(*(last - 1), static_cast<std::int32_t>(o.n_steps) - 1);
    }
  }

  // Lots of 25 consecutive wafers, each lot on one of a few tools.
  ASSERT_EQ(t.lot_id.size(), o.n_wafers);
  for (std::uint64_t w = 0; w < o.n_wafers; ++w) {
    EXPECT_EQ(t.wafer_id[w], static_cast<std::int64_t>(w));
    EXPECT_EQ(t.lot_id[w], static_cast<std::int64_t>(w / 25));
    EXPECT_EQ(t.tool_id[w], t.tool_id[w - w % 25]);
    EXPECT_GE(t.tool_id[w], 0);
    EXPECT_LT(t.tool_id[w], 4);
  }
  EXPECT_GT(std::set<std::int64_t>(t.tool_id.begin(), t.tool_id.end()).size(), 1U);
}

TEST(Generate, NoStepsMeansNoStepDataset) {
  ScratchDir dir;
  GeneratorOptions o = small_options(dir.file("t.h5"));
  o.n_steps = 0;
  generate_traces(o);
  const LoadedTraces t = load(o.output);
  EXPECT_TRUE(t.steps.empty());
  EXPECT_EQ(t.n_steps_attribute, -1);
}

TEST(Generate, LengthsAreLognormalWithTheRequestedMeanAndSigma) {
  ScratchDir dir;
  GeneratorOptions o = small_options(dir.file("t.h5"));
  o.n_wafers = 20000;
  o.n_sensors = 1;
  o.n_steps = 0;
  o.mean_length = 400;
  o.length_sigma = 0.8;
  o.chunk_rows = 1 << 16;
  generate_traces(o);
  const LoadedTraces t = load(o.output);

  double sum = 0, log_sum = 0, log_sq = 0;
  for (std::uint64_t w = 0; w < o.n_wafers; ++w) {
    const auto n = static_cast<double>(t.rows(w));
    ASSERT_GE(n, 1.0);
    sum += n;
    log_sum += std::log(n);
    log_sq += std::log(n) * std::log(n);
  }
  const double n = static_cast<double>(o.n_wafers);
  const double mean = sum / n;
  const double log_mean = log_sum / n;
  const double log_sd = std::sqrt(log_sq / n - log_mean * log_mean);
  // Standard error of the mean: 400 · sqrt(e^{0.64} − 1) / sqrt(20000) ≈ 2.7 samples.
  EXPECT_NEAR(mean, 400.0, 12.0);
  EXPECT_NEAR(log_sd, 0.8, 0.03);
  EXPECT_NEAR(log_mean, std::log(400.0) - 0.32, 0.03);
}

TEST(Generate, EmptyFractionGivesEmptyWafers) {
  ScratchDir dir;
  GeneratorOptions o = small_options(dir.file("t.h5"));
  o.n_wafers = 10000;
  o.n_sensors = 1;
  o.mean_length = 20;
  o.empty_fraction = 0.1;
  generate_traces(o);
  const LoadedTraces t = load(o.output);
  std::uint64_t empty = 0;
  for (std::uint64_t w = 0; w < o.n_wafers; ++w) empty += t.rows(w) == 0 ? 1 : 0;
  EXPECT_NEAR(static_cast<double>(empty) / 10000.0, 0.1, 0.01);  // sd 0.003
}

TEST(Generate, LabelsMatchThePlantedAnomalies) {
  ScratchDir dir;
  GeneratorOptions o = small_options(dir.file("t.h5"));
  o.n_wafers = 4000;
  o.anomaly_fraction = 0.05;
  const GeneratorResult r = generate_traces(o);
  const LoadedTraces t = load(o.output);

  std::uint64_t labelled = 0;
  std::array<int, 6> per_kind{};
  for (std::uint64_t w = 0; w < o.n_wafers; ++w) {
    labelled += t.label[w];
    ASSERT_LE(t.anomaly_kind[w], 5);
    ++per_kind[t.anomaly_kind[w]];
    EXPECT_EQ(t.label[w] != 0, t.anomaly_kind[w] != 0) << w;
    if (t.anomaly_kind[w] == 0) {
      EXPECT_EQ(t.anomaly_sensor[w], -1);
    } else {
      EXPECT_GE(t.anomaly_sensor[w], 0);
      EXPECT_LT(t.anomaly_sensor[w], static_cast<std::int32_t>(o.n_sensors));
    }
  }
  EXPECT_EQ(labelled, r.n_anomalous);
  EXPECT_NEAR(static_cast<double>(labelled) / 4000.0, 0.05, 0.012);  // sd 0.0035
  for (int k = 1; k <= 5; ++k) EXPECT_GT(per_kind[k], 10) << "kind " << k;
}

// --anomaly-step K (docs/MONITORING.md "Steps"): every planted anomaly lies within step K of its
// wafer (the truth's rows, all of them in step K), a wafer's samples outside step K are those of
// the same wafer generated without anomalies, and every kind is still planted.
TEST(Generate, AnomalyStepKeepsEveryAnomalyWithinThatStep) {
  ScratchDir dir;
  GeneratorOptions o = small_options(dir.file("step.h5"));
  o.n_wafers = 1500;
  o.n_steps = 4;
  o.mean_length = 200;
  o.length_sigma = 0.2;
  o.nan_fraction = 0.0;
  o.anomaly_fraction = 0.2;
  o.anomaly_step = 2;
  generate_traces(o);
  GeneratorOptions clean = o;
  clean.output = dir.file("clean.h5");
  clean.anomaly_fraction = 0.0;
  generate_traces(clean);
  const LoadedTraces t = load(o.output), c = load(clean.output);
  std::vector<std::int64_t> begin, end;
  {
    const auto f = format::h5::File::open_read(o.output);
    const auto truth = f.open_group("truth");
    begin = truth.open_dataset("anomaly_begin").read_all<std::int64_t>();
    end = truth.open_dataset("anomaly_end").read_all<std::int64_t>();
    EXPECT_EQ(f.read_int_attribute("generator_anomaly_step"), 2);
  }
  ASSERT_EQ(t.offsets, c.offsets);
  std::array<int, 6> per_kind{};
  std::uint64_t outside = 0;
  for (std::uint64_t w = 0; w < o.n_wafers; ++w) {
    if (t.anomaly_kind[w] == 0) continue;
    ++per_kind[t.anomaly_kind[w]];
    const auto first = static_cast<std::uint64_t>(t.offsets[w]);
    ASSERT_LT(begin[w], end[w]) << w;
    for (auto r = begin[w]; r < end[w]; ++r)
      ASSERT_EQ(t.steps[first + static_cast<std::uint64_t>(r)], 2) << "wafer " << w << " row " << r;
    const auto s = static_cast<std::uint64_t>(t.anomaly_sensor[w]);
    for (std::uint64_t r = 0; r < t.rows(w); ++r) {
      if (t.steps[first + r] == 2) continue;
      // A noise burst leaves the autoregressive noise raised for a few samples after it.
      if (t.anomaly_kind[w] == 4 && static_cast<std::int64_t>(r) >= end[w]) continue;
      ++outside;
      ASSERT_EQ(t.at(w, r, s), c.at(w, r, s)) << "wafer " << w << " row " << r;
    }
  }
  EXPECT_GT(outside, 10000u);
  for (int k = 1; k <= 5; ++k) EXPECT_GT(per_kind[k], 20) << "kind " << k;
  GeneratorOptions bad = o;
  bad.anomaly_step = 4;
  EXPECT_THROW(generate_traces(bad), UsageError);
}

TEST(Generate, InvalidSamplesAppearAtTheRequestedFraction) {
  ScratchDir dir;
  GeneratorOptions o = small_options(dir.file("t.h5"));
  o.n_wafers = 1000;
  o.nan_fraction = 0.01;
  generate_traces(o);
  const LoadedTraces t = load(o.output);
  std::uint64_t nan = 0, pos_inf = 0, neg_inf = 0;
  for (double x : t.values) {
    if (std::isnan(x)) ++nan;
    if (std::isinf(x)) ++(x > 0 ? pos_inf : neg_inf);
  }
  const double n = static_cast<double>(t.values.size());
  EXPECT_NEAR((nan + pos_inf + neg_inf) / n, 0.01, 0.001);
  EXPECT_GT(pos_inf, 0U);
  EXPECT_GT(neg_inf, 0U);
  EXPECT_GT(nan, 2 * (pos_inf + neg_inf));  // 80 % NaN, 20 % ±Inf
}

TEST(Generate, NoInvalidSamplesWhenNanFractionIsZero) {
  ScratchDir dir;
  GeneratorOptions o = small_options(dir.file("t.h5"));
  o.nan_fraction = 0.0;
  generate_traces(o);
  const LoadedTraces t = load(o.output);
  EXPECT_TRUE(
      std::all_of(t.values.begin(), t.values.end(), [](double x) { return std::isfinite(x); }));
}

TEST(Generate, TargetBytesPicksTheWaferCount) {
  ScratchDir dir;
  GeneratorOptions o = small_options(dir.file("t.h5"));
  o.n_wafers = 1;
  o.target_bytes = 8'000'000;
  const GeneratorResult r = generate_traces(o);
  const double values_bytes = static_cast<double>(r.n_samples) * o.n_sensors * 4;
  EXPECT_NEAR(values_bytes / 8e6, 1.0, 0.1);
  EXPECT_GT(r.n_wafers, 1000U);
}

TEST(Generate, RefusesAnExistingOutputWithoutForce) {
  ScratchDir dir;
  GeneratorOptions o = small_options(dir.file("t.h5"));
  { std::ofstream(o.output) << "precious"; }
  EXPECT_THROW(generate_traces(o), UsageError);
  EXPECT_EQ(file_bytes(o.output), (std::vector<char>{'p', 'r', 'e', 'c', 'i', 'o', 'u', 's'}));
  o.force = true;
  EXPECT_NO_THROW(generate_traces(o));
  EXPECT_TRUE(format::h5::File::is_hdf5(o.output));
  // Nothing but the output is left in the directory: the temporary file was renamed.
  const auto entries = std::distance(std::filesystem::directory_iterator(dir.file("")),
                                     std::filesystem::directory_iterator());
  EXPECT_EQ(entries, 1);
}

TEST(Generate, RejectsImpossibleOptions) {
  ScratchDir dir;
  const GeneratorOptions good = small_options(dir.file("t.h5"));
  auto rejects = [&](auto change) {
    GeneratorOptions o = good;
    change(o);
    EXPECT_THROW(generate_traces(o), UsageError);
  };
  rejects([](GeneratorOptions& o) { o.output.clear(); });
  rejects([](GeneratorOptions& o) { o.n_sensors = 0; });
  rejects([](GeneratorOptions& o) { o.n_wafers = 0; });
  rejects([](GeneratorOptions& o) { o.mean_length = 0.5; });
  rejects([](GeneratorOptions& o) { o.length_sigma = -1; });
  rejects([](GeneratorOptions& o) { o.empty_fraction = 1.0; });
  rejects([](GeneratorOptions& o) { o.anomaly_fraction = 1.5; });
  rejects([](GeneratorOptions& o) { o.nan_fraction = std::nan(""); });
  rejects([](GeneratorOptions& o) { o.gzip_level = 10; });
  rejects([](GeneratorOptions& o) { o.chunk_rows = 0; });
  rejects([](GeneratorOptions& o) { o.chunk_rows = 1ULL << 40; });
  rejects([&](GeneratorOptions& o) { o.output = dir.file("no/such/dir/t.h5"); });
  EXPECT_FALSE(std::filesystem::exists(good.output));
}

TEST(Generate, FilePassesTheFormatValidator) {
  ScratchDir dir;
  GeneratorOptions o = small_options(dir.file("t.h5"));
  o.gzip_level = 4;
  o.empty_fraction = 0.02;
  const GeneratorResult r = generate_traces(o);
  EXPECT_EQ(format::validate_trace_file(o.output), std::vector<std::string>{});
  const format::TraceIndex index = format::read_trace_index(o.output);
  EXPECT_EQ(index.n_wafers, r.n_wafers);
  EXPECT_EQ(index.n_samples, r.n_samples);
  EXPECT_EQ(index.n_sensors, o.n_sensors);
  EXPECT_EQ(index.n_steps, o.n_steps);
  EXPECT_TRUE(index.has_steps);
  EXPECT_TRUE(index.values_chunked);
  EXPECT_TRUE(index.values_filtered);
  EXPECT_EQ(index.value_type, format::ValueType::float32);
  EXPECT_EQ(index.sensor_names.size(), o.n_sensors);
}

// Planted drift and step for the night-over-night drift tests (docs/MONITORING.md "Planted
// drift, night over night").
GeneratorOptions night_options(const std::string& output) {
  GeneratorOptions o = small_options(output);
  o.anomaly_fraction = 0.0;  // the anomaly probability depends on the file's wafer count
  o.n_wafers = 100;
  o.drift = 0.01;
  o.drift_sensor = "rf_forward_power_w";
  o.step_sensor = "dc_bias_v";
  o.step_size = 2.0;
  o.step_night = 1;
  return o;
}

TEST(GenerateNights, NightKContinuesTheFleetsHistory) {
  ScratchDir dir;
  GeneratorOptions whole = night_options(dir.file("whole.h5"));
  whole.n_wafers = 200;
  whole.step_night = 0;  // the step from wafer 0 · 200 = 0 ...
  GeneratorOptions n0 = night_options(dir.file("n0.h5")), n1 = night_options(dir.file("n1.h5"));
  n0.step_night = n1.step_night = 0;  // ... and from wafer 0 · 100 = 0: the same wafers
  n1.night = 1;
  generate_traces(whole);
  generate_traces(n0);
  generate_traces(n1);
  const LoadedTraces w = load(whole.output), a = load(n0.output), b = load(n1.output);
  ASSERT_EQ(a.wafer_id.size() + b.wafer_id.size(), w.wafer_id.size());
  EXPECT_EQ(b.wafer_id.front(), 100);
  EXPECT_EQ(b.lot_id.front(), 4);
  std::vector<double> joined = a.values;
  joined.insert(joined.end(), b.values.begin(), b.values.end());
  ASSERT_EQ(joined.size(), w.values.size());
  EXPECT_EQ(std::memcmp(joined.data(), w.values.data(), joined.size() * sizeof(double)), 0);
  for (std::size_t k = 0; k < b.wafer_id.size(); ++k) EXPECT_EQ(b.tool_id[k], w.tool_id[100 + k]);
}

// Mean over wafers [first, last) of sensor s's samples.
double mean_of(const LoadedTraces& t, std::size_t first, std::size_t last, std::size_t s) {
  double sum = 0.0;
  std::size_t n = 0;
  for (std::size_t w = first; w < last; ++w)
    for (std::uint64_t r = 0; r < t.rows(w); ++r)
      if (std::isfinite(t.at(w, r, s))) sum += t.at(w, r, s), ++n;
  return sum / static_cast<double>(n);
}

TEST(GenerateNights, OnlyTheNamedSensorsMoveByTheirPlantedAmounts) {
  ScratchDir dir;
  GeneratorOptions planted = night_options(dir.file("planted.h5"));
  planted.night = 1;  // wafers 100-199: drift 1.0-1.99 sigma, step 2 sigma
  GeneratorOptions plain = planted;
  plain.output = dir.file("plain.h5");
  plain.drift = 0.0;
  plain.drift_sensor.clear();
  plain.step_sensor.clear();
  generate_traces(planted);
  generate_traces(plain);
  const LoadedTraces p = load(planted.output), q = load(plain.output);
  ASSERT_EQ(p.offsets, q.offsets);
  // rf_forward_power_w (1, sigma 6) by drift · wafer; dc_bias_v (3, sigma 3) by 2 sigma; the
  // others not at all (bit for bit: the same draws).
  for (std::size_t s : {0u, 2u, 4u})
    for (std::size_t i = 0; i < p.values.size() / p.n_sensors; ++i) {
      const double x = p.values[i * p.n_sensors + s], y = q.values[i * q.n_sensors + s];
      ASSERT_TRUE(x == y || (std::isnan(x) && std::isnan(y))) << "sensor " << s << " row " << i;
    }
  // The sample-weighted mean of 6 · 0.01 · (wafer index), within the resolution's rounding.
  double planted_sum = 0.0, rows = 0.0;
  for (std::size_t w = 0; w < 100; ++w) {
    planted_sum += 6.0 * 0.01 * static_cast<double>(100 + w) * static_cast<double>(p.rows(w));
    rows += static_cast<double>(p.rows(w));
  }
  EXPECT_NEAR(mean_of(p, 0, 100, 1) - mean_of(q, 0, 100, 1), planted_sum / rows, 0.05);
  EXPECT_NEAR(mean_of(p, 0, 100, 3) - mean_of(q, 0, 100, 3), 3.0 * 2.0, 0.05);
}

TEST(GenerateNights, AnUnknownSensorNameIsRefused) {
  ScratchDir dir;
  GeneratorOptions o = night_options(dir.file("bad.h5"));
  o.step_sensor = "no_such_sensor";
  try {
    generate_traces(o);
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--step-sensor no_such_sensor"), std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(o.output));
}

}  // namespace
}  // namespace wafermill::generate
