/// @file trace_fixture.hpp
/// @brief Synthetic traces held in memory, and helpers that feed them to a backend in chunks
/// of any shape: groups of wafers, ranges of sensor columns, or one column at a time.
#pragma once

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "wafermill/features/backend.hpp"

namespace wafermill::features::testing {

/// @brief A whole "file": rows of all wafers, row-major [rows, n_sensors], optional steps.
struct Traces {
  std::size_t n_sensors = 0;
  std::size_t n_steps = 0;
  std::vector<std::uint64_t> offsets{0};  ///< n_wafers + 1 row offsets
  std::vector<double> values;             ///< [rows, n_sensors]
  std::vector<std::int32_t> steps;        ///< [rows] when n_steps > 0

  std::uint64_t n_wafers() const { return offsets.size() - 1; }
  std::uint64_t n_rows() const { return offsets.back(); }
  double value(std::uint64_t row, std::size_t sensor) const {
    return values[row * n_sensors + sensor];
  }

  /// @brief Appends a wafer of the given rows ([rows, n_sensors] values, optional steps).
  void add_wafer(const std::vector<double>& rows, const std::vector<std::int32_t>& wafer_steps) {
    values.insert(values.end(), rows.begin(), rows.end());
    steps.insert(steps.end(), wafer_steps.begin(), wafer_steps.end());
    offsets.push_back(offsets.back() + rows.size() / n_sensors);
  }

  /// @brief Samples of (wafer, sensor) in order, or of (wafer, step, sensor) when step >= 0.
  std::vector<double> segment(std::uint64_t wafer, std::size_t sensor, int step = -1) const {
    std::vector<double> out;
    for (std::uint64_t r = offsets[wafer]; r < offsets[wafer + 1]; ++r) {
      if (step < 0 || steps[r] == step) out.push_back(value(r, sensor));
    }
    return out;
  }
};

/// @brief Options of random_traces().
struct RandomTraceSpec {
  std::size_t n_wafers = 6;
  std::size_t n_sensors = 5;
  std::size_t n_steps = 0;
  std::size_t max_rows = 300;      ///< rows per wafer drawn from [0, max_rows]
  double offset = 0.0;             ///< mean of the samples
  double scale = 1.0;              ///< their standard deviation
  double invalid_fraction = 0.05;  ///< share of NaN, +Inf, -Inf samples
  std::uint64_t seed = 1;
};

/// @brief Random wafers: normal samples with a per-sensor trend, some NaN/±Inf, varying row
/// counts (an empty wafer included when n_wafers > 2), steps in blocks with random jumps.
inline Traces random_traces(const RandomTraceSpec& spec) {
  std::mt19937_64 rng(spec.seed);
  std::normal_distribution<double> noise(0.0, 1.0);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::uniform_int_distribution<std::size_t> rows_of(0, spec.max_rows);
  Traces t;
  t.n_sensors = spec.n_sensors;
  t.n_steps = spec.n_steps;
  for (std::size_t w = 0; w < spec.n_wafers; ++w) {
    const std::size_t rows = (w == 2) ? 0 : rows_of(rng);
    std::vector<double> v(rows * spec.n_sensors);
    std::vector<std::int32_t> s;
    int step = 0;
    for (std::size_t r = 0; r < rows; ++r) {
      for (std::size_t c = 0; c < spec.n_sensors; ++c) {
        const double trend =
            0.01 * static_cast<double>(c) * static_cast<double>(r) / static_cast<double>(rows);
        double x = spec.offset + spec.scale * (noise(rng) + trend);
        const double u = unit(rng);
        if (u < spec.invalid_fraction / 3) {
          x = NAN;
        } else if (u < 2 * spec.invalid_fraction / 3) {
          x = HUGE_VAL;
        } else if (u < spec.invalid_fraction) {
          x = -HUGE_VAL;
        }
        v[r * spec.n_sensors + c] = x;
      }
      if (spec.n_steps > 0) {
        if (unit(rng) < 0.05) step = static_cast<int>(rng() % spec.n_steps);
        s.push_back(step);
      }
    }
    t.add_wafer(v, s);
  }
  return t;
}

/// @brief Runs `backend` on wafers [first, last) and sensors [s0, s1) of `t` as one chunk
/// (samples copied to a contiguous buffer of type T, as a reader would hold them).
template <class T>
void extract_chunk(FeatureBackend& backend, const Traces& t, std::uint64_t first,
                   std::uint64_t last, std::size_t s0, std::size_t s1, FeatureBlock& out) {
  const std::uint64_t r0 = t.offsets[first];
  const std::uint64_t r1 = t.offsets[last];
  const std::size_t nc = s1 - s0;
  std::vector<T> buf((r1 - r0) * nc);
  for (std::uint64_t r = r0; r < r1; ++r) {
    for (std::size_t c = 0; c < nc; ++c) {
      buf[(r - r0) * nc + c] = static_cast<T>(t.value(r, s0 + c));
    }
  }
  TraceChunk chunk;
  chunk.first_wafer = first;
  chunk.offsets = std::span<const std::uint64_t>(t.offsets.data() + first, last - first + 1);
  chunk.type = sizeof(T) == 4 ? SampleType::float32 : SampleType::float64;
  chunk.values = buf.data();
  chunk.first_sensor = s0;
  chunk.n_columns = nc;
  if (t.n_steps > 0) chunk.steps = std::span<const std::int32_t>(t.steps.data() + r0, r1 - r0);
  backend.extract(chunk, out);
}

/// @brief How extract_all() cuts the traces into chunks.
enum class Chunking { whole, per_wafer, uneven, column_at_a_time, sensor_ranges };

/// @brief Features of every wafer of `t`, computed by a fresh CPU backend fed chunk by chunk.
template <class T>
FeatureBlock extract_all(const Traces& t, const FeatureSet& features, Chunking how) {
  FeatureLayout layout;
  layout.n_sensors = t.n_sensors;
  layout.n_steps = t.n_steps;
  layout.features = features;
  auto backend = make_cpu_backend(layout);
  FeatureBlock out;
  out.reset(0, t.n_wafers(), layout);
  const std::uint64_t n = t.n_wafers();
  const std::size_t s = t.n_sensors;
  switch (how) {
    case Chunking::whole:
      extract_chunk<T>(*backend, t, 0, n, 0, s, out);
      break;
    case Chunking::per_wafer:
      for (std::uint64_t w = 0; w < n; ++w) extract_chunk<T>(*backend, t, w, w + 1, 0, s, out);
      break;
    case Chunking::uneven:  // 1, 2, 3, ... wafers per chunk
      for (std::uint64_t w = 0, len = 1; w < n; w += len, ++len) {
        extract_chunk<T>(*backend, t, w, std::min(n, w + len), 0, s, out);
      }
      break;
    case Chunking::column_at_a_time:
      for (std::uint64_t w = 0; w < n; ++w) {
        for (std::size_t c = 0; c < s; ++c) extract_chunk<T>(*backend, t, w, w + 1, c, c + 1, out);
      }
      break;
    case Chunking::sensor_ranges:  // two wafers at a time, sensors split in two uneven halves
      for (std::uint64_t w = 0; w < n; w += 2) {
        const std::uint64_t last = std::min(n, w + 2);
        extract_chunk<T>(*backend, t, w, last, 0, s / 3, out);
        extract_chunk<T>(*backend, t, w, last, s / 3, s, out);
      }
      break;
  }
  return out;
}

/// @brief True when the two vectors hold the same bytes.
template <class V>
bool same_bits(const std::vector<V>& a, const std::vector<V>& b) {
  // memcmp with the null data() of an empty vector is undefined (UBSan flags it).
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(V)) == 0);
}

}  // namespace wafermill::features::testing
