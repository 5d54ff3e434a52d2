/// @file batch_plan.cpp
/// @brief BatchPlanner: device batches of whole wafers, or window slices of one large wafer,
/// each sized by DeviceLayout to fit the device memory bound.
#include "batch_plan.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

#include "wafermill/features/segment.hpp"
#include "wafermill/reduce/moments.hpp"

namespace wafermill::features::detail {
namespace {

constexpr std::size_t kAlign = 256;  // cudaMalloc's alignment; keeps every buffer 16-byte loadable

class Carver {
 public:
  std::size_t take(std::size_t bytes) {
    const std::size_t at = end_;
    end_ = (end_ + bytes + kAlign - 1) / kAlign * kAlign;
    return at;
  }
  std::size_t end() const { return end_; }

 private:
  std::size_t end_ = 0;
};

}  // namespace

DeviceLayout device_layout(const BatchShape& shape, std::uint64_t rows, std::size_t runs,
                           std::size_t pieces, std::size_t segments, std::uint64_t wafers,
                           std::size_t sort_temp_bytes) {
  const std::size_t nc = shape.n_columns;
  DeviceLayout l;
  Carver c;
  // The upload (samples, runs, pieces, segments) comes first so that one copy moves it.
  l.samples = c.take(rows * nc * shape.sample_bytes);
  l.runs = c.take(runs * sizeof(Run));
  l.pieces = c.take(pieces * sizeof(Piece));
  l.segments = c.take(segments * sizeof(Segment));
  l.piece_sums = c.take(pieces * nc * sizeof(SegmentSums));
  l.segment_sums = c.take(segments * nc * sizeof(SegmentSums));
  // Features and moments adjacent: one copy back.
  l.features = c.take(segments * nc * shape.n_features * sizeof(double));
  l.moments = c.take(wafers * nc * sizeof(reduce::Moments));
  l.download_bytes = c.end() - l.features;
  if (shape.median) {
    const std::uint64_t keys = rows * nc * (shape.groups > 1 ? 2 : 1);
    l.key_counts = c.take(segments * nc * sizeof(std::uint32_t));
    l.key_offsets = c.take((segments * nc + 1) * sizeof(std::uint32_t));
    l.piece_slots = c.take(pieces * nc * sizeof(std::uint32_t));
    l.keys = c.take(keys * sizeof(double));
    l.keys_alt = c.take(keys * sizeof(double));
    l.ids = c.take(keys * sizeof(std::uint32_t));
    l.ids_alt = c.take(keys * sizeof(std::uint32_t));
    l.sort_temp = c.take(sort_temp_bytes);
  }
  l.total = c.end();
  return l;
}

std::size_t upload_bytes(const BatchShape& shape, std::uint64_t rows, std::size_t runs,
                         std::size_t pieces, std::size_t segments) {
  const DeviceLayout l = device_layout(shape, rows, runs, pieces, segments, 0, 0);
  return l.segments + segments * sizeof(Segment);
}

BatchPlanner::BatchPlanner(std::span<const std::uint64_t> offsets,
                           std::span<const std::int32_t> steps, std::size_t n_steps,
                           const BatchShape& shape, std::size_t limit_bytes,
                           SortTempBytes sort_temp_bytes)
    : offsets_(offsets),
      steps_(steps),
      n_steps_(n_steps),
      shape_(shape),
      limit_(limit_bytes),
      sort_temp_(sort_temp_bytes),
      step_positions_(n_steps, 0.0) {}

std::size_t BatchPlanner::bytes(const BatchPlan& plan, std::uint64_t rows,
                                std::size_t extra_triples, std::uint64_t extra_wafers) const {
  // A wafer's triples bound its runs and its pieces from above.
  const std::size_t runs = plan.runs.size() + extra_triples;
  const std::size_t pieces = plan.pieces.size() + extra_triples;
  const std::uint64_t wafers = plan.n_wafers + extra_wafers;
  const std::size_t segments = wafers * shape_.groups;
  const std::uint64_t keys = rows * shape_.n_columns * (shape_.groups > 1 ? 2 : 1);
  const std::size_t temp = shape_.median ? sort_temp_(keys) : 0;
  // 32-bit indices on the device: rows, runs, pieces, (segment, column) ids and sort keys.
  constexpr std::uint64_t kMax = std::numeric_limits<std::int32_t>::max();
  if (rows > kMax || runs > kMax || pieces * shape_.n_columns > kMax ||
      segments * shape_.n_columns > kMax || keys > kMax) {
    return std::numeric_limits<std::size_t>::max();
  }
  return device_layout(shape_, rows, runs, pieces, segments, wafers, temp).total;
}

void BatchPlanner::collect(std::uint64_t w, std::uint64_t j0, std::uint64_t j1) {
  const std::uint64_t n_rows = wafer_rows(w);
  const std::uint64_t row0 = offsets_[w] - offsets_.front();  // in steps_
  for (std::uint64_t j = j0; j < j1; ++j) {
    const std::uint64_t a = j * kWindowRows;
    const std::uint64_t b = std::min(a + kWindowRows, n_rows);
    triples_.push_back({j, a, static_cast<std::uint32_t>(b - a), 0});
    if (n_steps_ == 0) continue;
    for (std::uint64_t r = a; r < b;) {
      const std::int32_t step = steps_[row0 + r];
      if (step < 0 || static_cast<std::size_t>(step) >= n_steps_) {
        throw std::out_of_range("cuda backend: step " + std::to_string(step) + " outside [0, " +
                                std::to_string(n_steps_) + ")");
      }
      std::uint64_t e = r + 1;
      while (e < b && steps_[row0 + e] == step) ++e;
      triples_.push_back(
          {j, r, static_cast<std::uint32_t>(e - r), 1 + static_cast<std::uint32_t>(step)});
      r = e;
    }
  }
}

void BatchPlanner::commit(std::uint64_t first_row, std::uint64_t batch_row, BatchPlan& plan) {
  // Counting sort by group, stable: each group's triples stay in window and row order.
  const std::size_t groups = shape_.groups;
  group_start_.assign(groups + 1, 0);
  for (const Triple& t : triples_) ++group_start_[t.group + 1];
  for (std::size_t g = 0; g < groups; ++g) group_start_[g + 1] += group_start_[g];
  sorted_.resize(triples_.size());
  {
    std::vector<std::size_t> fill(group_start_.begin(), group_start_.end() - 1);
    for (const Triple& t : triples_) sorted_[fill[t.group]++] = t;
  }
  for (std::size_t g = 0; g < groups; ++g) {
    Segment seg{static_cast<std::uint32_t>(plan.pieces.size()), 0};
    const auto segment_index = static_cast<std::uint32_t>(plan.segments.size());
    for (std::size_t i = group_start_[g]; i < group_start_[g + 1]; ++i) {
      const Triple& t = sorted_[i];
      if (i == group_start_[g] || t.window != sorted_[i - 1].window) {
        const double position =
            g == 0 ? static_cast<double>(t.window * kWindowRows) : step_positions_[g - 1];
        plan.pieces.push_back(
            {static_cast<std::uint32_t>(plan.runs.size()), 0, segment_index, 0, position});
      }
      Piece& piece = plan.pieces.back();
      plan.runs.push_back({static_cast<std::uint32_t>(t.row - first_row + batch_row), t.rows});
      piece.run_end = static_cast<std::uint32_t>(plan.runs.size());
      piece.rows += t.rows;
      if (g > 0) step_positions_[g - 1] += t.rows;
    }
    seg.piece_end = static_cast<std::uint32_t>(plan.pieces.size());
    plan.segments.push_back(seg);
  }
  triples_.clear();
}

bool BatchPlanner::next(BatchPlan& plan) {
  plan.runs.clear();
  plan.pieces.clear();
  plan.segments.clear();
  plan.n_wafers = 0;
  plan.n_rows = 0;
  plan.sliced = plan.carry_in = plan.carry_out = false;
  const std::uint64_t n_wafers = offsets_.size() - 1;
  if (wafer_ >= n_wafers) return false;
  plan.wafer_begin = wafer_;
  plan.row_begin = offsets_[wafer_] - offsets_.front() + window_ * kWindowRows;

  if (window_ == 0) {  // as many whole wafers as fit
    for (; wafer_ < n_wafers; ++wafer_) {
      triples_.clear();
      collect(wafer_, 0, windows_of(wafer_));
      const std::uint64_t rows = plan.n_rows + wafer_rows(wafer_);
      if (bytes(plan, rows, triples_.size(), 1) > limit_) break;
      std::fill(step_positions_.begin(), step_positions_.end(), 0.0);
      commit(0, plan.n_rows, plan);
      ++plan.n_wafers;
      plan.n_rows = rows;
    }
    triples_.clear();
    if (plan.n_wafers > 0) return true;
    std::fill(step_positions_.begin(), step_positions_.end(), 0.0);
  }

  // Wafer wafer_ alone does not fit: as many of its windows as fit, from window_ on.
  const std::uint64_t n_windows = windows_of(wafer_);
  const std::uint64_t first_row = window_ * kWindowRows;
  const std::uint64_t total_rows = wafer_rows(wafer_);
  std::uint64_t end = window_;
  while (end < n_windows) {
    const std::size_t before = triples_.size();
    collect(wafer_, end, end + 1);
    const std::uint64_t rows = std::min((end + 1) * kWindowRows, total_rows) - first_row;
    if (bytes(plan, rows, triples_.size(), 1) > limit_) {
      if (end == window_) {
        throw std::runtime_error(
            "cuda backend: one window of " + std::to_string(kWindowRows) + " rows × " +
            std::to_string(shape_.n_columns) +
            " columns does not fit the device memory bound; raise device_memory_bytes");
      }
      triples_.resize(before);
      break;
    }
    ++end;
  }
  plan.sliced = true;
  plan.carry_in = window_ > 0;
  plan.carry_out = end < n_windows;
  plan.n_wafers = 1;
  plan.n_rows = std::min(end * kWindowRows, total_rows) - first_row;
  commit(first_row, 0, plan);
  if (plan.carry_out) {
    window_ = end;
  } else {
    window_ = 0;
    ++wafer_;
  }
  return true;
}

}  // namespace wafermill::features::detail
