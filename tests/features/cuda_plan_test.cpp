/// @file cuda_plan_test.cpp
/// @brief The CUDA backend's host side, run without a GPU: the batch planner (every row of
/// every segment in exactly one piece, positions, the memory bound, slicing), the piece
/// merge, device selection — and a host emulation of the kernels' arithmetic (the same
/// add_sample, merge_sums and finalize_all calls in the same order) checked against the CPU
/// backend under the tolerance the GPU tests use. This is where the tolerance of docs/GPU.md
/// was measured.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <vector>

#include "cuda_compare.hpp"
#include "device_select.hpp"
#include "segment_median.hpp"
#include "sums_merge.hpp"
#include "wafermill/error.hpp"
#include "wafermill/features/segment.hpp"

namespace wafermill::features {
namespace {

using detail::BatchPlan;
using detail::BatchPlanner;
using detail::BatchShape;
using detail::kWindowRows;
using testing::Chunking;
using testing::Traces;

std::size_t fake_sort_temp(std::uint64_t n) { return 4096 + n / 8; }

BatchShape shape_for(const Traces& t, std::size_t n_columns, bool median) {
  BatchShape s;
  s.n_columns = n_columns;
  s.sample_bytes = 8;
  s.n_features = kFeatureCount;
  s.groups = 1 + t.n_steps;
  s.median = median;
  return s;
}

std::vector<BatchPlan> plan_all(const Traces& t, std::uint64_t first, std::uint64_t last,
                                const BatchShape& shape, std::size_t limit) {
  const std::uint64_t r0 = t.offsets[first], r1 = t.offsets[last];
  std::span<const std::int32_t> steps;
  if (t.n_steps > 0) steps = std::span<const std::int32_t>(t.steps.data() + r0, r1 - r0);
  BatchPlanner planner(std::span<const std::uint64_t>(t.offsets.data() + first, last - first + 1),
                       steps, t.n_steps, shape, limit, &fake_sort_temp);
  std::vector<BatchPlan> plans;
  BatchPlan p;
  while (planner.next(p)) plans.push_back(p);
  return plans;
}

/// The kernels of segment_kernels.cu, on the host: piece folds, in-order merge with carry,
/// medians of each segment's finite samples, finalize_all. Fills `out` for wafers
/// [first, last) and sensors [s0, s1) (values as double: the float path only converts).
void emulate(const Traces& t, std::uint64_t first, std::uint64_t last, std::size_t s0,
             std::size_t s1, std::size_t limit, FeatureBlock& out) {
  const std::size_t nc = s1 - s0;
  const BatchShape shape = shape_for(t, nc, true);
  const std::size_t groups = shape.groups;
  std::vector<SegmentSums> carry(groups * nc);
  const std::uint64_t chunk_row0 = t.offsets[first];
  for (const BatchPlan& plan : plan_all(t, first, last, shape, limit)) {
    const std::uint64_t batch_row0 = chunk_row0 + plan.row_begin;
    std::vector<std::vector<double>> finite(plan.segments.size() * nc);
    for (std::size_t seg = 0; seg < plan.segments.size(); ++seg) {
      for (std::size_t c = 0; c < nc; ++c) {
        SegmentSums acc = plan.carry_in ? carry[seg * nc + c] : SegmentSums{};
        for (std::uint32_t p = plan.segments[seg].piece_begin; p < plan.segments[seg].piece_end;
             ++p) {
          const detail::Piece& piece = plan.pieces[p];
          SegmentSums s;
          s.positions = piece.position;
          for (std::uint32_t k = piece.run_begin; k < piece.run_end; ++k) {
            for (std::uint32_t i = 0; i < plan.runs[k].rows; ++i) {
              const double x = t.value(batch_row0 + plan.runs[k].row + i, s0 + c);
              add_sample(s, x);
              if (std::isfinite(x)) finite[seg * nc + c].push_back(x);
            }
          }
          acc = detail::merge_sums(acc, s);
        }
        if (plan.carry_out) {
          carry[seg * nc + c] = acc;
          continue;
        }
        const std::uint64_t wafer = first + plan.wafer_begin + seg / groups;
        const std::size_t g = seg % groups;
        double median = NAN;
        if (!plan.sliced) {
          std::vector<double>& v = finite[seg * nc + c];
          median = detail::median_in_place(v.data(), v.size());
        } else {  // the backend's host medians
          const std::vector<double> all = t.segment(wafer, s0 + c, static_cast<int>(g) - 1);
          std::vector<double> v;
          for (const double x : all) {
            if (std::isfinite(x)) v.push_back(x);
          }
          median = detail::median_in_place(v.data(), v.size());
        }
        double* dst = g == 0 ? out.at(wafer, s0 + c) : out.at_step(wafer, g - 1, s0 + c);
        finalize_all(acc, median, dst);
        if (g == 0) out.moments[wafer * t.n_sensors + s0 + c] = to_moments(acc);
      }
    }
  }
}

FeatureBlock emulate_all(const Traces& t, std::size_t limit) {
  FeatureLayout layout{t.n_sensors, t.n_steps, FeatureSet::all()};
  FeatureBlock out;
  out.reset(0, t.n_wafers(), layout);
  emulate(t, 0, t.n_wafers(), 0, t.n_sensors, limit, out);
  return out;
}

Traces test_traces(std::size_t n_steps, double offset, std::uint64_t seed) {
  testing::RandomTraceSpec spec;
  spec.n_wafers = 9;
  spec.n_sensors = 3;
  spec.n_steps = n_steps;
  spec.max_rows = 400;
  spec.offset = offset;
  spec.seed = seed;
  return testing::traces_with_huge_segments(spec, 5 * kWindowRows + 123);
}

TEST(CudaPlan, EveryRowOfEverySegmentInOnePieceAtItsPosition) {
  for (const std::size_t limit : {std::size_t{1} << 30, std::size_t{300000}}) {
    const Traces t = test_traces(4, 0.0, 3);
    const BatchShape shape = shape_for(t, t.n_sensors, true);
    std::vector<int> seen(t.n_rows() * shape.groups, 0);
    bool sliced = false;
    for (const BatchPlan& plan : plan_all(t, 0, t.n_wafers(), shape, limit)) {
      sliced = sliced || plan.sliced;
      EXPECT_EQ(plan.segments.size(), plan.n_wafers * shape.groups);
      for (const detail::Piece& piece : plan.pieces) {
        const std::size_t g = piece.segment % shape.groups;
        const std::uint64_t wafer = plan.wafer_begin + piece.segment / shape.groups;
        // The piece's first row's position: rows of its segment before it in its wafer.
        const std::uint64_t row = plan.row_begin + plan.runs[piece.run_begin].row;
        double before = 0;
        for (std::uint64_t r = t.offsets[wafer]; r < row; ++r) {
          if (g == 0 || t.steps[r] == static_cast<int>(g) - 1) before += 1;
        }
        EXPECT_EQ(piece.position, before);
        EXPECT_LE(piece.rows, kWindowRows);
        std::uint32_t rows = 0;
        for (std::uint32_t k = piece.run_begin; k < piece.run_end; ++k) {
          for (std::uint32_t i = 0; i < plan.runs[k].rows; ++i) {
            const std::uint64_t r = plan.row_begin + plan.runs[k].row + i;
            ASSERT_LT(r, t.offsets[wafer + 1]);
            if (g > 0) {
              EXPECT_EQ(t.steps[r], static_cast<int>(g) - 1);
            }
            ++seen[r * shape.groups + g];
          }
          rows += plan.runs[k].rows;
        }
        EXPECT_EQ(rows, piece.rows);
      }
      const detail::DeviceLayout l = detail::device_layout(
          shape, plan.n_rows, plan.runs.size(), plan.pieces.size(), plan.segments.size(),
          plan.n_wafers, fake_sort_temp(plan.max_keys(shape)));
      EXPECT_LE(l.total, limit);
    }
    for (std::uint64_t r = 0; r < t.n_rows(); ++r) {
      EXPECT_EQ(seen[r * shape.groups], 1) << "row " << r;
      for (std::size_t k = 0; k < t.n_steps; ++k) {
        EXPECT_EQ(seen[r * shape.groups + 1 + k], t.steps[r] == static_cast<int>(k) ? 1 : 0);
      }
    }
    EXPECT_EQ(sliced, limit < (1U << 20)) << "the small limit must slice the long wafers";
  }
}

TEST(CudaPlan, AWindowThatCannotFitIsAnError) {
  const Traces t = test_traces(0, 0.0, 4);
  EXPECT_THROW(plan_all(t, 0, t.n_wafers(), shape_for(t, t.n_sensors, true), 20000),
               std::runtime_error);
}

TEST(CudaPlan, MergeOfPiecesMatchesTheSequentialFold) {
  std::mt19937_64 rng(11);
  std::normal_distribution<double> noise(0.0, 1.0);
  for (const double offset : {0.0, 1e3, 1e6}) {
    std::vector<double> x(5000);
    for (double& v : x) v = offset + noise(rng);
    x[0] = NAN;  // the first piece starts with a skipped sample
    SegmentSums seq;
    for (const double v : x) add_sample(seq, v);
    SegmentSums merged;
    for (std::size_t a = 0; a < x.size();) {
      const std::size_t b = std::min(x.size(), a + 1 + rng() % 1500);
      SegmentSums piece;
      piece.positions = static_cast<double>(a);
      for (std::size_t i = a; i < b; ++i) add_sample(piece, x[i]);
      merged = detail::merge_sums(merged, piece);
      a = b;
    }
    double want[kFeatureCount], got[kFeatureCount];
    finalize_all(seq, NAN, want);
    finalize_all(merged, NAN, got);
    for (std::size_t j = 0; j < kFeatureCount; ++j) {
      EXPECT_LE(testing::scaled_error(want[j], got[j]), 1e-9)
          << "offset " << offset << " " << kFeatureNames[j] << ": " << want[j] << " vs " << got[j];
    }
    EXPECT_EQ(merged.positions, seq.positions);
    EXPECT_EQ(merged.invalid, seq.invalid);
    EXPECT_EQ(merged.min, seq.min);
  }
}

TEST(CudaPlan, OnePieceMergedIntoNothingKeepsItsBits) {
  SegmentSums piece;
  for (const double v : {double{NAN}, 3.5, -1.25, double{INFINITY}, 7.0}) add_sample(piece, v);
  const SegmentSums merged = detail::merge_sums(SegmentSums{}, piece);
  EXPECT_EQ(0, std::memcmp(&merged, &piece, sizeof piece));
}

// The GPU algorithm on the host against the CPU backend: bitwise up to one window, within
// the tolerance beyond, for float64 data with steps, offsets that stress cancellation, and
// batch limits that slice the long wafers (the result must not depend on the limit).
void emulation_matches_cpu(std::size_t n_steps, double offset, double tolerance) {
  const Traces t = test_traces(n_steps, offset, 5 + n_steps);
  const FeatureBlock cpu = testing::extract_all<double>(t, FeatureSet::all(), Chunking::whole);
  const FeatureBlock big = emulate_all(t, std::size_t{1} << 30);
  const double worst = testing::expect_matches_cpu(t, cpu, big, testing::Tolerance{tolerance});
  ::testing::Test::RecordProperty("worst_scaled_error", std::to_string(worst));
  std::printf("steps %zu offset %g: worst scaled error on long segments %.3g\n", n_steps, offset,
              worst);
  const FeatureBlock sliced = emulate_all(t, 300000);
  EXPECT_TRUE(testing::same_bits(big.values, sliced.values));
  EXPECT_TRUE(testing::same_bits(big.by_step, sliced.by_step));
}

TEST(CudaPlan, EmulationMatchesCpuNoSteps) { emulation_matches_cpu(0, 0.0, 1e-9); }
TEST(CudaPlan, EmulationMatchesCpuWithSteps) { emulation_matches_cpu(3, 2.0, 1e-9); }
TEST(CudaPlan, EmulationMatchesCpuLargeOffset) { emulation_matches_cpu(2, 1e4, 1e-9); }

TEST(CudaPlan, DeviceFromRequestOrLocalRank) {
  EXPECT_EQ(detail::select_device(1, 2, 0), 1);
  EXPECT_EQ(detail::select_device(-1, 2, 3), 1);
  EXPECT_EQ(detail::select_device(-1, 4, std::nullopt), 0);
  EXPECT_THROW(detail::select_device(-1, 0, 0), UsageError);
  EXPECT_THROW(detail::select_device(2, 2, 0), UsageError);
}

TEST(CudaPlan, LocalRankFromTheLauncher) {
  ::setenv("OMPI_COMM_WORLD_LOCAL_RANK", "5", 1);
  EXPECT_EQ(detail::launcher_local_rank(), 5);
  ::setenv("OMPI_COMM_WORLD_LOCAL_RANK", "x", 1);
  ::unsetenv("MPI_LOCALRANKID");
  ::setenv("SLURM_LOCALID", "2", 1);
  EXPECT_EQ(detail::launcher_local_rank(), 2);
  ::unsetenv("OMPI_COMM_WORLD_LOCAL_RANK");
  ::unsetenv("SLURM_LOCALID");
}

}  // namespace
}  // namespace wafermill::features
