/// @file features_bench.cpp
/// @brief Google Benchmark of the CPU feature backend alone (no HDF5, no MPI): samples/s and
/// bytes/s of FeatureBackend::extract on an in-memory chunk shaped like the job's.
///
/// A chunk is 64 wafers x 2048 rows x 16 sensors (8 MiB of float32, the job's chunk target),
/// normal samples with 0.1 % NaN, steps 0..3 in four equal runs per wafer. Variants: float32
/// or float64; all features or all but the median; with or without per-step features;
/// (BM_CpuExtractNan) float32 without the median at 0, 1, 5 and 30 % NaN; and
/// (BM_CpuExtractRows) float32 with and without the median for wafers of 500 rows (bench/run.sh's
/// files: 256 wafers, 7.8 MiB) and of 128 rows (1,024 wafers), whose columns are too short for
/// the median's window and go through its bucket select.
///
///   bench/features_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "wafermill/features/backend.hpp"
#include "wafermill/features/feature_set.hpp"

namespace {

namespace wf = wafermill::features;

constexpr std::uint64_t kWafers = 64;
constexpr std::uint64_t kRowsPerWafer = 2048;
constexpr std::size_t kSensors = 16;
constexpr std::size_t kSteps = 4;

// Samples around a per-sensor level with a drift along the trace, 0.1 % NaN (the generator's
// default): the median's selection and the NaN branch both see realistic data.
template <class T>
std::vector<T> make_samples(double nan_fraction = 0.001, std::uint64_t wafers = kWafers,
                            std::uint64_t rows_per_wafer = kRowsPerWafer) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> noise(0.0, 1.0);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const std::uint64_t rows = wafers * rows_per_wafer;
  std::vector<T> v(rows * kSensors);
  for (std::uint64_t r = 0; r < rows; ++r)
    for (std::size_t s = 0; s < kSensors; ++s) {
      const double level = 100.0 * double(s + 1) + 0.001 * double(r % rows_per_wafer);
      v[r * kSensors + s] = unit(rng) < nan_fraction ? T(NAN) : T(level + noise(rng));
    }
  return v;
}

std::vector<std::int32_t> make_steps() {
  std::vector<std::int32_t> steps(kWafers * kRowsPerWafer);
  for (std::size_t r = 0; r < steps.size(); ++r)
    steps[r] = static_cast<std::int32_t>((r % kRowsPerWafer) * kSteps / kRowsPerWafer);
  return steps;
}

// One chunk through the backend, timed: `samples` as in make_samples (wafers of
// `rows_per_wafer` rows), steps if by_step (the default shape only).
template <class T>
void run_extract(benchmark::State& state, const std::vector<T>& samples, bool median, bool by_step,
                 std::uint64_t rows_per_wafer = kRowsPerWafer) {
  static const std::vector<std::int32_t> steps = make_steps();
  const std::uint64_t wafers = samples.size() / kSensors / rows_per_wafer;
  std::vector<std::uint64_t> offsets(wafers + 1);
  for (std::uint64_t w = 0; w <= wafers; ++w) offsets[w] = w * rows_per_wafer;

  wf::FeatureLayout layout;
  layout.n_sensors = kSensors;
  layout.n_steps = by_step ? kSteps : 0;
  layout.features = median ? wf::FeatureSet::all()
                           : wf::FeatureSet::parse(
                                 "count,invalid_count,mean,std,min,max,range,"
                                 "rms,skewness,kurtosis,slope");
  auto backend = wf::make_cpu_backend(layout);

  wf::TraceChunk chunk;
  chunk.first_wafer = 0;
  chunk.offsets = offsets;
  chunk.type = sizeof(T) == 4 ? wf::SampleType::float32 : wf::SampleType::float64;
  chunk.values = samples.data();
  chunk.n_columns = kSensors;
  if (by_step) chunk.steps = steps;

  wf::FeatureBlock block;
  for (auto _ : state) {
    // reset() is part of the job's per-batch cost and keeps every iteration's output fresh.
    block.reset(0, wafers, layout);
    backend->extract(chunk, block);
    benchmark::DoNotOptimize(block.values.data());
    benchmark::ClobberMemory();
  }
  const auto n = static_cast<std::int64_t>(samples.size());
  state.SetItemsProcessed(state.iterations() * n);
  state.SetBytesProcessed(state.iterations() * n * static_cast<std::int64_t>(sizeof(T)));
}

// state.range(0): 1 with the median; state.range(1): 1 with per-step features.
template <class T>
void BM_CpuExtract(benchmark::State& state) {
  const bool median = state.range(0) != 0;
  const bool by_step = state.range(1) != 0;
  static const std::vector<T> samples = make_samples<T>();
  run_extract(state, samples, median, by_step);
  state.SetLabel(std::string(sizeof(T) == 4 ? "float32" : "float64") +
                 (median ? " +median" : " no-median") + (by_step ? " +steps" : ""));
}

// Every feature but the median, no steps, state.range(0) NaN samples per thousand: the strip
// kernel's fast loop for finite runs against its general loop (issue 18, the moments pass).
template <class T>
void BM_CpuExtractNan(benchmark::State& state) {
  const std::vector<T> samples = make_samples<T>(static_cast<double>(state.range(0)) / 1000.0);
  run_extract(state, samples, false, false);
  state.SetLabel(std::string(sizeof(T) == 4 ? "float32" : "float64") + " no-median " +
                 std::to_string(state.range(0)) + " per mille NaN");
}

// state.range(0): 1 with the median; state.range(1): rows per wafer (a chunk of about 8 MiB).
void BM_CpuExtractRows(benchmark::State& state) {
  const bool median = state.range(0) != 0;
  const auto rows = static_cast<std::uint64_t>(state.range(1));
  const std::uint64_t wafers = (kWafers * kRowsPerWafer + rows - 1) / rows;
  const std::vector<float> samples = make_samples<float>(0.001, wafers, rows);
  run_extract(state, samples, median, false, rows);
  state.SetLabel(std::string("float32") + (median ? " +median " : " no-median ") +
                 std::to_string(rows) + " rows per wafer");
}

BENCHMARK_TEMPLATE(BM_CpuExtract, float)
    ->ArgNames({"median", "steps"})
    ->Args({0, 0})
    ->Args({1, 0})
    ->Args({0, 1})
    ->Args({1, 1})
    ->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_CpuExtract, double)
    ->ArgNames({"median", "steps"})
    ->Args({1, 0})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CpuExtractRows)
    ->ArgNames({"median", "rows"})
    ->Args({0, 500})
    ->Args({1, 500})
    ->Args({0, 128})
    ->Args({1, 128})
    ->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_CpuExtractNan, float)
    ->ArgNames({"nan_permille"})
    ->Args({0})
    ->Args({10})
    ->Args({50})
    ->Args({300})
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
