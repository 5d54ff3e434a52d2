/// @file cpu_backend_test.cpp
/// @brief The CPU backend against a naive two-pass reference, against add_sample() itself
/// (bitwise), across chunkings (bitwise), with feature selections and steps.
///
/// Tolerances, relative to the scale of the quantity (|mean| + std for location features,
/// std for spread, 1 for the dimensionless shape features):
///   count, invalid_count, min, max, range, median: exact (no arithmetic, or the same one);
///   mean, rms, std: 1e-12; slope: 1e-11 of std / std(position);
///   skewness 1e-9, kurtosis 1e-8 absolute (third and fourth powers lose more digits).
/// Measured worst cases on these data are 100-1000 times smaller (about 1e-15 for mean, rms,
/// std and slope, 1e-12 for skewness and kurtosis at offset/spread = 1e8).
/// The one-pass sums are shifted by the segment's first value, so these hold even for values
/// around 1e6 with a spread of 1e-2, where unshifted power sums would lose every digit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "reference_features.hpp"
#include "trace_fixture.hpp"
#include "wafermill/features/segment.hpp"

namespace wafermill::features {
namespace {

using testing::Chunking;
using testing::extract_all;
using testing::random_traces;
using testing::RandomTraceSpec;
using testing::reference_features;
using testing::same_bits;
using testing::Traces;

constexpr std::size_t kCount = 0, kInvalid = 1, kMean = 2, kStd = 3, kRms = 7, kSkew = 8, kKurt = 9,
                      kSlope = 10;

/// Rounds every sample to float, so the reference sees what a float32 file holds.
void round_to_float(Traces& t) {
  for (double& v : t.values) v = static_cast<double>(static_cast<float>(v));
}

/// Expects got == want within tol · scale, or both NaN.
void expect_close(double got, double want, double tol, double scale, const std::string& what) {
  if (std::isnan(want)) {
    EXPECT_TRUE(std::isnan(got)) << what << ": got " << got << ", want NaN";
    return;
  }
  EXPECT_LE(std::fabs(got - want), tol * scale) << what << ": got " << got << ", want " << want;
}

/// Compares the 12 features of one segment with the reference, under the file's tolerances.
void expect_features(const double* got, const std::vector<double>& samples,
                     const std::string& what) {
  const auto want = reference_features(samples);
  const double sd = std::isnan(want[kStd]) ? 0.0 : want[kStd];
  const double location = std::fabs(want[kMean]) + sd;
  const std::size_t n = samples.size();
  // std of positions 0..n-1 is about n / sqrt(12).
  const double slope_scale = n > 1 ? sd / (static_cast<double>(n) / std::sqrt(12.0)) : 0.0;
  for (std::size_t f : {0, 1, 4, 5, 6, 11}) {
    expect_close(got[f], want[f], 0.0, 0.0, what + " " + std::string(kFeatureNames[f]));
  }
  expect_close(got[kMean], want[kMean], 1e-12, location, what + " mean");
  expect_close(got[kStd], want[kStd], 1e-12, sd, what + " std");
  expect_close(got[kRms], want[kRms], 1e-12, location, what + " rms");
  expect_close(got[kSkew], want[kSkew], 1e-9, 1.0, what + " skewness");
  expect_close(got[kKurt], want[kKurt], 1e-8, 1.0, what + " kurtosis");
  expect_close(got[kSlope], want[kSlope], 1e-11, slope_scale, what + " slope");
}

/// Checks every (wafer, sensor) and (wafer, step, sensor) segment against the reference.
void expect_matches_reference(const Traces& t, FeatureBlock& out) {
  for (std::uint64_t w = 0; w < t.n_wafers(); ++w) {
    for (std::size_t s = 0; s < t.n_sensors; ++s) {
      const std::string where = "wafer " + std::to_string(w) + " sensor " + std::to_string(s);
      expect_features(out.at(w, s), t.segment(w, s), where);
      for (std::size_t k = 0; k < t.n_steps; ++k) {
        expect_features(out.at_step(w, k, s), t.segment(w, s, static_cast<int>(k)),
                        where + " step " + std::to_string(k));
      }
    }
  }
}

/// The features of add_sample() over the segment + finalize_all(), median by sorting.
std::vector<double> via_add_sample(const std::vector<double>& samples) {
  SegmentSums sums;
  for (const double x : samples) add_sample(sums, x);
  std::vector<double> out(kFeatureCount);
  finalize_all(sums, reference_features(samples)[11], out.data());
  return out;
}

/// Every feature but the median bit for bit; the median by value, because which of -0 and +0
/// two tied middle zeros give is unspecified (the reference sorts, the backend selects).
void expect_same_features(const double* got, const std::vector<double>& want,
                          const std::string& what) {
  constexpr std::size_t kMedian = 11;
  EXPECT_EQ(std::memcmp(got, want.data(), kMedian * sizeof(double)), 0) << what;
  if (std::isnan(want[kMedian])) {
    EXPECT_TRUE(std::isnan(got[kMedian])) << what;
  } else {
    EXPECT_EQ(got[kMedian], want[kMedian]) << what;
  }
}

TEST(CpuBackend, MatchesReferenceFloat64WithStepsAndInvalidSamples) {
  RandomTraceSpec spec;
  spec.n_steps = 4;
  spec.offset = 3.0;
  const Traces t = random_traces(spec);
  FeatureBlock out = extract_all<double>(t, FeatureSet::all(), Chunking::whole);
  expect_matches_reference(t, out);
}

TEST(CpuBackend, MatchesReferenceFloat32) {
  RandomTraceSpec spec;
  spec.n_steps = 3;
  spec.offset = -20.0;
  spec.scale = 4.0;
  spec.seed = 2;
  Traces t = random_traces(spec);
  round_to_float(t);
  FeatureBlock out = extract_all<float>(t, FeatureSet::all(), Chunking::whole);
  expect_matches_reference(t, out);
}

TEST(CpuBackend, LargeOffsetSmallSpreadStaysAccurate) {
  RandomTraceSpec spec;
  spec.offset = 1e6;
  spec.scale = 1e-2;
  spec.max_rows = 2000;
  spec.invalid_fraction = 0.01;
  spec.seed = 3;
  const Traces t = random_traces(spec);
  FeatureBlock out = extract_all<double>(t, FeatureSet::all(), Chunking::whole);
  expect_matches_reference(t, out);
  // The spread itself, not just its difference from the reference: within 1e-9 relative.
  for (std::uint64_t w = 0; w < t.n_wafers(); ++w) {
    const auto want = reference_features(t.segment(w, 0));
    if (want[kCount] < 2) continue;
    EXPECT_NEAR(out.at(w, 0)[kStd] / want[kStd], 1.0, 1e-9) << "wafer " << w;
  }
}

TEST(CpuBackend, FloatLargeOffset) {
  RandomTraceSpec spec;
  spec.offset = 1e3;
  spec.scale = 1e-2;  // float spacing at 1e3 is 6e-5: still ~150 distinct steps per std
  spec.seed = 4;
  Traces t = random_traces(spec);
  round_to_float(t);
  FeatureBlock out = extract_all<float>(t, FeatureSet::all(), Chunking::whole);
  expect_matches_reference(t, out);
}

TEST(CpuBackend, SmallAndDegenerateSegments) {
  // One wafer per case, one sensor: empty, all invalid, one sample, two samples, constant,
  // constant with invalid samples between, an even count for the median.
  Traces t;
  t.n_sensors = 1;
  const double nan = NAN, inf = HUGE_VAL;
  const std::vector<std::vector<double>> cases = {{},
                                                  {nan, inf, -inf},
                                                  {4.5},
                                                  {nan, 1.0, 3.0},
                                                  {2.5, 2.5, 2.5, 2.5},
                                                  {7.0, nan, 7.0, -inf, 7.0},
                                                  {5.0, 1.0, 4.0, 2.0},
                                                  {-0.0, 0.0, -0.0}};
  for (const auto& c : cases) t.add_wafer(c, {});
  FeatureBlock out = extract_all<double>(t, FeatureSet::all(), Chunking::whole);
  expect_matches_reference(t, out);

  const double* empty = out.at(0, 0);
  EXPECT_EQ(empty[kCount], 0.0);
  EXPECT_EQ(empty[kInvalid], 0.0);
  for (std::size_t f = 2; f < kFeatureCount; ++f) EXPECT_TRUE(std::isnan(empty[f])) << f;
  EXPECT_EQ(out.moments[0].n, 0.0);

  const double* invalid = out.at(1, 0);
  EXPECT_EQ(invalid[kCount], 0.0);
  EXPECT_EQ(invalid[kInvalid], 3.0);
  EXPECT_TRUE(std::isnan(invalid[kMean]));

  const double* one = out.at(2, 0);
  EXPECT_EQ(one[kMean], 4.5);
  EXPECT_TRUE(std::isnan(one[kStd]));
  EXPECT_EQ(one[6], 0.0);  // range
  EXPECT_EQ(one[kRms], 4.5);
  EXPECT_TRUE(std::isnan(one[kSkew]));
  EXPECT_TRUE(std::isnan(one[kSlope]));
  EXPECT_EQ(one[11], 4.5);

  const double* two = out.at(3, 0);  // 1 at position 1, 3 at position 2
  EXPECT_EQ(two[kMean], 2.0);
  EXPECT_DOUBLE_EQ(two[kStd], std::sqrt(2.0));
  EXPECT_NEAR(two[kSkew], 0.0, 1e-15);
  EXPECT_DOUBLE_EQ(two[kKurt], -2.0);
  EXPECT_DOUBLE_EQ(two[kSlope], 2.0);
  EXPECT_EQ(two[11], 2.0);

  for (std::uint64_t w : {4, 5}) {
    const double* constant = out.at(w, 0);
    EXPECT_EQ(constant[kStd], 0.0) << w;
    EXPECT_TRUE(std::isnan(constant[kSkew])) << w;
    EXPECT_TRUE(std::isnan(constant[kKurt])) << w;
    EXPECT_EQ(constant[kSlope], 0.0) << w;
  }
  EXPECT_EQ(out.at(5, 0)[kInvalid], 2.0);
  EXPECT_EQ(out.at(6, 0)[11], 3.0);  // median of {1, 2, 4, 5}
}

TEST(CpuBackend, BitwiseEqualToAddSample) {
  // The vectorised accumulation must equal add_sample() + finalize_all() to the bit: that is
  // what lets the CUDA kernels, which call add_sample(), agree with this backend.
  RandomTraceSpec spec;
  spec.n_steps = 3;
  spec.offset = 100.0;
  spec.invalid_fraction = 0.2;
  spec.seed = 5;
  Traces t = random_traces(spec);
  // A wafer where signed zeros are the extremes: min must stay -0.0 when +0.0 follows it
  // (x < min is false), max must stay +0.0 when -0.0 follows it.
  const double nan = NAN, inf = HUGE_VAL;
  std::vector<double> zeros(5 * t.n_sensors, 3.0);
  const double column0[] = {-0.0, 0.0, 1.0, nan, -0.0};
  const double column1[] = {0.0, -0.0, -1.0, inf, -2.0};
  for (std::size_t r = 0; r < 5; ++r) {
    zeros[r * t.n_sensors] = column0[r];
    zeros[r * t.n_sensors + 1] = column1[r];
  }
  t.add_wafer(zeros, {0, 0, 1, 1, 2});
  for (const Chunking how : {Chunking::whole, Chunking::column_at_a_time}) {
    FeatureBlock out = extract_all<double>(t, FeatureSet::all(), how);
    for (std::uint64_t w = 0; w < t.n_wafers(); ++w) {
      for (std::size_t s = 0; s < t.n_sensors; ++s) {
        const auto want = via_add_sample(t.segment(w, s));
        expect_same_features(out.at(w, s), want,
                             "wafer " + std::to_string(w) + " sensor " + std::to_string(s));
        SegmentSums sums;
        for (const double x : t.segment(w, s)) add_sample(sums, x);
        const reduce::Moments m = to_moments(sums);
        EXPECT_EQ(std::memcmp(&out.moments[w * t.n_sensors + s], &m, sizeof m), 0);
        for (std::size_t k = 0; k < t.n_steps; ++k) {
          const auto want_k = via_add_sample(t.segment(w, s, static_cast<int>(k)));
          expect_same_features(out.at_step(w, k, s), want_k,
                               "wafer " + std::to_string(w) + " sensor " + std::to_string(s) +
                                   " step " + std::to_string(k));
        }
      }
    }
  }
}

template <class T>
void expect_chunk_invariance(const FeatureSet& features) {
  RandomTraceSpec spec;
  spec.n_wafers = 9;
  spec.n_sensors = 7;
  spec.n_steps = 3;
  spec.offset = 50.0;
  spec.seed = 6;
  const Traces t = random_traces(spec);
  const FeatureBlock whole = extract_all<T>(t, features, Chunking::whole);
  for (const Chunking how : {Chunking::per_wafer, Chunking::uneven, Chunking::column_at_a_time,
                             Chunking::sensor_ranges}) {
    const FeatureBlock other = extract_all<T>(t, features, how);
    EXPECT_TRUE(same_bits(whole.values, other.values)) << static_cast<int>(how);
    EXPECT_TRUE(same_bits(whole.by_step, other.by_step)) << static_cast<int>(how);
    EXPECT_TRUE(same_bits(whole.moments, other.moments)) << static_cast<int>(how);
  }
}

// Columns longer than the backend's column scratch (a sixth of its default 16 MiB; 3 M rows
// are 12 MB of float32, 24 MB of float64) are selected in place (StridedMedians), whole
// wafers and one column at a time: the medians are still those of a sort.
TEST(CpuBackend, MediansOfColumnsLongerThanTheScratch) {
  RandomTraceSpec spec;
  spec.n_wafers = 2;
  spec.n_sensors = 2;
  spec.n_steps = 3;
  spec.max_rows = 3'000'000;
  spec.seed = 18;
  Traces t = random_traces(spec);
  round_to_float(t);
  ASSERT_GT(std::max(t.offsets[1] - t.offsets[0], t.offsets[2] - t.offsets[1]),
            (std::uint64_t{8} << 20) / sizeof(float));
  const FeatureSet median = FeatureSet::parse("median");
  // want[(w · S + s) · (1 + K) + g]: g = 0 the whole wafer, 1 + k step k.
  const std::size_t per = 1 + t.n_steps;
  std::vector<double> want(t.n_wafers() * t.n_sensors * per);
  for (std::uint64_t w = 0; w < t.n_wafers(); ++w) {
    for (std::size_t s = 0; s < t.n_sensors; ++s) {
      double* m = want.data() + (w * t.n_sensors + s) * per;
      m[0] = reference_features(t.segment(w, s))[11];
      for (std::size_t k = 0; k < t.n_steps; ++k)
        m[1 + k] = reference_features(t.segment(w, s, static_cast<int>(k)))[11];
    }
  }
  for (const Chunking how : {Chunking::whole, Chunking::column_at_a_time}) {
    for (const bool f32 : {true, false}) {
      FeatureBlock out =
          f32 ? extract_all<float>(t, median, how) : extract_all<double>(t, median, how);
      for (std::uint64_t w = 0; w < t.n_wafers(); ++w) {
        for (std::size_t s = 0; s < t.n_sensors; ++s) {
          const std::string where = std::string(f32 ? "float32" : "float64") + " wafer " +
                                    std::to_string(w) + " sensor " + std::to_string(s);
          const double* m = want.data() + (w * t.n_sensors + s) * per;
          expect_close(out.at(w, s)[0], m[0], 0.0, 0.0, where);
          for (std::size_t k = 0; k < t.n_steps; ++k) {
            expect_close(out.at_step(w, k, s)[0], m[1 + k], 0.0, 0.0,
                         where + " step " + std::to_string(k));
          }
        }
      }
    }
  }
}

TEST(CpuBackend, ChunkingDoesNotChangeABitFloat64) {
  expect_chunk_invariance<double>(FeatureSet::all());
}

TEST(CpuBackend, ChunkingDoesNotChangeABitFloat32) {
  expect_chunk_invariance<float>(FeatureSet::all());
}

TEST(CpuBackend, ChunkingDoesNotChangeABitWithoutMedian) {
  expect_chunk_invariance<double>(FeatureSet::parse("mean,std,slope"));
}

TEST(CpuBackend, WritesOnlySelectedFeaturesInColumnOrder) {
  RandomTraceSpec spec;
  spec.n_steps = 2;
  spec.seed = 7;
  const Traces t = random_traces(spec);
  const FeatureSet selection = FeatureSet::parse("median,mean,slope");
  const FeatureBlock all = extract_all<double>(t, FeatureSet::all(), Chunking::whole);
  FeatureBlock some = extract_all<double>(t, selection, Chunking::whole);
  ASSERT_EQ(some.values.size(), t.n_wafers() * t.n_sensors * 3);
  ASSERT_EQ(some.by_step.size(), t.n_wafers() * t.n_steps * t.n_sensors * 3);
  const std::size_t picked[] = {kMean, kSlope, 11};  // enum order, not the order asked
  for (std::size_t i = 0; i < t.n_wafers() * t.n_sensors; ++i) {
    for (std::size_t j = 0; j < 3; ++j) {
      const double a = all.values[i * kFeatureCount + picked[j]];
      const double b = some.values[i * 3 + j];
      EXPECT_EQ(std::memcmp(&a, &b, sizeof a), 0) << i << " " << j;
    }
  }
  for (std::size_t i = 0; i < t.n_wafers() * t.n_steps * t.n_sensors; ++i) {
    for (std::size_t j = 0; j < 3; ++j) {
      const double a = all.by_step[i * kFeatureCount + picked[j]];
      const double b = some.by_step[i * 3 + j];
      EXPECT_EQ(std::memcmp(&a, &b, sizeof a), 0) << i << " " << j;
    }
  }
  EXPECT_TRUE(same_bits(all.moments, some.moments));
}

TEST(CpuBackend, MomentsDescribeTheWholeWaferSegment) {
  RandomTraceSpec spec;
  spec.seed = 8;
  const Traces t = random_traces(spec);
  const FeatureBlock out = extract_all<double>(t, FeatureSet::parse("count"), Chunking::whole);
  for (std::uint64_t w = 0; w < t.n_wafers(); ++w) {
    for (std::size_t s = 0; s < t.n_sensors; ++s) {
      const auto want = reference_features(t.segment(w, s));
      const reduce::Moments& m = out.moments[w * t.n_sensors + s];
      EXPECT_EQ(m.n, want[kCount]);
      if (m.n == 0) continue;
      EXPECT_NEAR(m.mean, want[kMean], 1e-12 * (std::fabs(want[kMean]) + 1));
      EXPECT_EQ(m.min, want[4]);
      EXPECT_EQ(m.max, want[5]);
      if (m.n >= 2) {
        EXPECT_NEAR(std::sqrt(m.m2 / (m.n - 1)), want[kStd], 1e-10 * want[kStd]);
      }
    }
  }
}

TEST(CpuBackend, OnlyTheChunksSensorsAreWritten) {
  RandomTraceSpec spec;
  spec.seed = 9;
  const Traces t = random_traces(spec);
  FeatureLayout layout;
  layout.n_sensors = t.n_sensors;
  auto backend = make_cpu_backend(layout);
  FeatureBlock out;
  out.reset(0, t.n_wafers(), layout);
  testing::extract_chunk<double>(*backend, t, 0, t.n_wafers(), 1, 3, out);
  for (std::uint64_t w = 0; w < t.n_wafers(); ++w) {
    for (std::size_t s = 0; s < t.n_sensors; ++s) {
      const bool written = s >= 1 && s < 3;
      EXPECT_EQ(!std::isnan(out.at(w, s)[kInvalid]), written) << w << " " << s;
    }
    EXPECT_GE(out.compute_seconds[w], 0.0);
  }
  EXPECT_GE(backend->busy_seconds(), 0.0);
  EXPECT_EQ(backend->name(), "cpu");
}

TEST(CpuBackend, RejectsChunksThatDoNotFitTheLayout) {
  RandomTraceSpec spec;
  spec.n_steps = 2;
  const Traces t = random_traces(spec);
  FeatureLayout layout;
  layout.n_sensors = t.n_sensors;
  layout.n_steps = 2;
  auto backend = make_cpu_backend(layout);
  FeatureBlock out;
  out.reset(0, t.n_wafers(), layout);
  // Columns past the layout's sensors.
  EXPECT_THROW(testing::extract_chunk<double>(*backend, t, 0, 1, 0, t.n_sensors + 1, out),
               std::invalid_argument);
  // A block that does not cover the chunk's wafers.
  FeatureBlock small;
  small.reset(0, 1, layout);
  EXPECT_THROW(testing::extract_chunk<double>(*backend, t, 1, 2, 0, t.n_sensors, small),
               std::invalid_argument);
  // A step outside [0, n_steps), in the first row of the first wafer that has rows.
  Traces bad = t;
  std::uint64_t w = 0;
  while (bad.offsets[w + 1] == bad.offsets[w]) ++w;
  bad.steps[bad.offsets[w]] = 2;
  EXPECT_THROW(testing::extract_chunk<double>(*backend, bad, w, w + 1, 0, t.n_sensors, out),
               std::out_of_range);
}

}  // namespace
}  // namespace wafermill::features
