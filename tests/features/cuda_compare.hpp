/// @file cuda_compare.hpp
/// @brief Helpers of the CUDA tests: traces with huge segments, a backend run over any
/// chunking, and the comparison with the CPU backend under the tolerance of docs/GPU.md.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>

#include "batch_plan.hpp"
#include "trace_fixture.hpp"
#include "wafermill/features/backend.hpp"

namespace wafermill::features::testing {

/// @brief random_traces() (NaN, ±Inf, an empty wafer, tiny wafers) followed by wafers of
/// `long_rows` rows — several windows each — and a constant one and an all-NaN one.
inline Traces traces_with_huge_segments(const RandomTraceSpec& spec, std::size_t long_rows) {
  Traces t = random_traces(spec);
  RandomTraceSpec big = spec;
  big.n_wafers = 2;
  big.max_rows = long_rows;
  big.seed = spec.seed + 100;
  const Traces more = random_traces(big);
  std::mt19937_64 rng(spec.seed + 7);
  for (std::uint64_t w = 0; w < more.n_wafers(); ++w) {
    // Force the length: random_traces draws it; repeat its rows up to long_rows.
    const std::uint64_t r0 = more.offsets[w], n = more.offsets[w + 1] - r0;
    if (n == 0) continue;
    std::vector<double> rows;
    std::vector<std::int32_t> steps;
    for (std::size_t r = 0; r < long_rows; ++r) {
      const std::uint64_t src = r0 + r % n;
      for (std::size_t c = 0; c < t.n_sensors; ++c) rows.push_back(more.value(src, c));
      if (t.n_steps > 0) steps.push_back(more.steps[src]);
    }
    t.add_wafer(rows, steps);
  }
  // A constant wafer and an all-NaN wafer, each longer than one window.
  for (const double v : {spec.offset + 0.25, static_cast<double>(NAN)}) {
    const std::size_t n = detail::kWindowRows + 37;
    std::vector<double> rows(n * t.n_sensors, v);
    std::vector<std::int32_t> steps;
    for (std::size_t r = 0; r < n && t.n_steps > 0; ++r) {
      steps.push_back(static_cast<std::int32_t>((r / 300) % t.n_steps));
    }
    t.add_wafer(rows, steps);
  }
  return t;
}

/// @brief Features of every wafer of `t` computed by `backend` fed in the given chunking.
template <class T>
FeatureBlock run_backend(FeatureBackend& backend, const Traces& t, const FeatureLayout& layout,
                         Chunking how) {
  FeatureBlock out;
  out.reset(0, t.n_wafers(), layout);
  const std::uint64_t n = t.n_wafers();
  const std::size_t s = t.n_sensors;
  switch (how) {
    case Chunking::whole:
      extract_chunk<T>(backend, t, 0, n, 0, s, out);
      break;
    case Chunking::per_wafer:
      for (std::uint64_t w = 0; w < n; ++w) extract_chunk<T>(backend, t, w, w + 1, 0, s, out);
      break;
    case Chunking::uneven:
      for (std::uint64_t w = 0, len = 1; w < n; w += len, ++len) {
        extract_chunk<T>(backend, t, w, std::min(n, w + len), 0, s, out);
      }
      break;
    case Chunking::column_at_a_time:
      for (std::uint64_t w = 0; w < n; ++w) {
        for (std::size_t c = 0; c < s; ++c) extract_chunk<T>(backend, t, w, w + 1, c, c + 1, out);
      }
      break;
    case Chunking::sensor_ranges:
      for (std::uint64_t w = 0; w < n; w += 2) {
        const std::uint64_t last = std::min(n, w + 2);
        extract_chunk<T>(backend, t, w, last, 0, s / 3, out);
        extract_chunk<T>(backend, t, w, last, s / 3, s, out);
      }
      break;
  }
  return out;
}

/// @brief The agreed tolerance of the CUDA backend against the CPU backend (docs/GPU.md):
/// a segment folded as one piece (at most kWindowRows rows) is bitwise equal; a longer one,
/// merged from pieces, agrees within `relative` of the feature's scale, where the scale is
/// max(|cpu value|, 1) for every feature (skewness, kurtosis and slope are dimensionless or
/// near zero; mean, std and rms carry the data's units). count, invalid_count, min, max,
/// range and median are exact in both cases.
struct Tolerance {
  double relative = 1e-9;
};

/// @brief True when a and b hold the same double, or both are NaN; -0 equals +0 (a median
/// of signed zeros may take either sign).
inline bool same_value(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return a == b;
}

/// @brief Largest |got - want| / max(|want|, 1) over non-NaN pairs; +inf when exactly one is NaN.
inline double scaled_error(double want, double got) {
  if (std::isnan(want) || std::isnan(got))
    return std::isnan(want) == std::isnan(got) ? 0 : HUGE_VAL;
  if (want == got) return 0.0;
  return std::fabs(got - want) / std::max(std::fabs(want), 1.0);
}

/// @brief Checks `got` against the CPU result `cpu` feature by feature: bitwise (same_value)
/// for wafers of at most kWindowRows rows, within the tolerance otherwise, exact for the
/// exact features. Returns the largest scaled error seen on long wafers.
inline double expect_matches_cpu(const Traces& t, const FeatureBlock& cpu, const FeatureBlock& got,
                                 const Tolerance& tol) {
  const std::vector<Feature> list = cpu.layout.features.list();
  const std::size_t nf = list.size();
  const std::size_t ns = t.n_sensors;
  const std::size_t nk = t.n_steps;
  double worst = 0.0;
  const auto compare = [&](const double* want, const double* have, bool one_piece,
                           const std::string& where) {
    for (std::size_t j = 0; j < nf; ++j) {
      const Feature f = list[j];
      const bool exact = one_piece || f == Feature::count || f == Feature::invalid_count ||
                         f == Feature::min || f == Feature::max || f == Feature::range ||
                         f == Feature::median;
      if (exact) {
        EXPECT_TRUE(same_value(want[j], have[j]))
            << where << " feature " << kFeatureNames[static_cast<std::size_t>(f)] << ": cpu "
            << want[j] << " gpu " << have[j];
      } else {
        const double e = scaled_error(want[j], have[j]);
        worst = std::max(worst, e);
        EXPECT_LE(e, tol.relative)
            << where << " feature " << kFeatureNames[static_cast<std::size_t>(f)] << ": cpu "
            << want[j] << " gpu " << have[j];
      }
    }
  };
  for (std::uint64_t w = 0; w < t.n_wafers(); ++w) {
    const bool one_piece = t.offsets[w + 1] - t.offsets[w] <= detail::kWindowRows;
    for (std::size_t s = 0; s < ns; ++s) {
      const std::string where = "wafer " + std::to_string(w) + " sensor " + std::to_string(s);
      const std::size_t at = (w * ns + s) * nf;
      compare(cpu.values.data() + at, got.values.data() + at, one_piece, where);
      for (std::size_t k = 0; k < nk; ++k) {
        const std::size_t ks = ((w * nk + k) * ns + s) * nf;
        compare(cpu.by_step.data() + ks, got.by_step.data() + ks, one_piece,
                where + " step " + std::to_string(k));
      }
      const reduce::Moments& a = cpu.moments[w * ns + s];
      const reduce::Moments& b = got.moments[w * ns + s];
      EXPECT_EQ(a.n, b.n) << where;
      EXPECT_TRUE(same_value(a.min, b.min) && same_value(a.max, b.max)) << where;
      if (one_piece) {
        EXPECT_EQ(0, std::memcmp(&a, &b, sizeof a)) << where << ": moments differ in bits";
      } else {
        for (const auto& [x, y] : {std::pair{a.mean, b.mean}, std::pair{a.m2, b.m2}}) {
          const double e = scaled_error(x, y);
          worst = std::max(worst, e);
          EXPECT_LE(e, tol.relative) << where << " moments: cpu " << x << " gpu " << y;
        }
      }
    }
  }
  return worst;
}

}  // namespace wafermill::features::testing
