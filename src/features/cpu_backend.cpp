/// @file cpu_backend.cpp
/// @brief The CPU feature backend: one pass over each wafer's rows into structure-of-arrays
/// sums (column_sums.hpp) by the SIMD strip kernel (strip_kernel.hpp), which keeps the sums of
/// a few adjacent sensors in registers over a block of rows; when the median is selected, the
/// wafer's columns are transposed once (in the samples' own type) into a reused buffer and
/// each column's medians selected there (segment_median.hpp).
///
/// Every segment sees its samples in file order whatever the chunking, and a column's sums do
/// not depend on the other columns of the chunk, so a wafer gives bitwise the same results
/// in any chunk and in the one-column-at-a-time path for wafers too large for memory.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "column_sums.hpp"
#include "segment_median.hpp"
#include "strip_kernel.hpp"
#include "wafermill/features/backend.hpp"
#include "wafermill/features/segment.hpp"

namespace wafermill::features {
namespace {

using Clock = std::chrono::steady_clock;

class CpuBackend final : public FeatureBackend {
 public:
  CpuBackend(const FeatureLayout& layout, std::uint64_t scratch_bytes)
      : layout_(layout),
        want_median_(layout.features.contains(Feature::median)),
        column_scratch_bytes_(std::max<std::uint64_t>(scratch_bytes / 6, 1)) {
    for (const Feature f : layout.features.list()) selected_.push_back(static_cast<std::size_t>(f));
    guesses_.resize(layout.n_sensors * (1 + layout.n_steps));
    guess_windows_.resize(2 * (1 + layout.n_steps));
    spreads_.resize(2 * (1 + layout.n_steps));
  }

  std::string_view name() const override { return "cpu"; }

  void extract(const TraceChunk& chunk, FeatureBlock& out) override {
    check(chunk, out);
    const auto start = Clock::now();
    if (chunk.type == SampleType::float32) {
      extract_typed(static_cast<const float*>(chunk.values), chunk, out);
    } else {
      extract_typed(static_cast<const double*>(chunk.values), chunk, out);
    }
    busy_seconds_ += std::chrono::duration<double>(Clock::now() - start).count();
  }

  double busy_seconds() const override { return busy_seconds_; }
  // Half of a typical per-core L2 cache: a slice hashed by the caller is read again from there.
  std::uint64_t slice_bytes() const override { return 256 * 1024; }

 private:
  // A chunk or block that does not match the layout is a caller's bug, not bad input.
  void check(const TraceChunk& chunk, const FeatureBlock& out) const {
    const auto fail = [](const std::string& what) {
      throw std::invalid_argument("cpu backend: " + what);
    };
    if (chunk.first_sensor + chunk.n_columns > layout_.n_sensors) {
      fail("sensor columns [" + std::to_string(chunk.first_sensor) + ", " +
           std::to_string(chunk.first_sensor + chunk.n_columns) + ") exceed the layout's " +
           std::to_string(layout_.n_sensors) + " sensors");
    }
    if (out.layout.n_sensors != layout_.n_sensors || out.layout.n_steps != layout_.n_steps ||
        out.layout.features.mask() != layout_.features.mask()) {
      fail("the feature block was sized for another layout");
    }
    if (chunk.first_wafer < out.first_wafer ||
        chunk.first_wafer + chunk.n_wafers() > out.first_wafer + out.n_wafers) {
      fail("wafers [" + std::to_string(chunk.first_wafer) + ", " +
           std::to_string(chunk.first_wafer + chunk.n_wafers()) +
           ") lie outside the feature block's");
    }
    if (layout_.n_steps > 0 && chunk.steps.size() != chunk.n_rows()) {
      fail("the layout has steps but the chunk has " + std::to_string(chunk.steps.size()) +
           " step values for " + std::to_string(chunk.n_rows()) + " rows");
    }
    if (chunk.values == nullptr && chunk.n_rows() > 0 && chunk.n_columns > 0) {
      fail("the chunk has rows but no values");
    }
  }

  template <class T>
  void extract_typed(const T* values, const TraceChunk& chunk, FeatureBlock& out) {
    const std::uint64_t row0 = chunk.offsets.empty() ? 0 : chunk.offsets.front();
    for (std::uint64_t i = 0; i < chunk.n_wafers(); ++i) {
      const auto start = Clock::now();
      const std::uint64_t begin = chunk.offsets[i] - row0;
      const std::uint64_t n_rows = chunk.offsets[i + 1] - chunk.offsets[i];
      const T* rows = values + begin * chunk.n_columns;
      const std::int32_t* steps = layout_.n_steps > 0 ? chunk.steps.data() + begin : nullptr;
      accumulate_wafer(rows, n_rows, steps, chunk.n_columns);
      if (want_median_) wafer_medians(rows, n_rows, steps, chunk.first_sensor, chunk.n_columns);
      write_wafer(rows, n_rows, steps, chunk, chunk.first_wafer + i, out);
      out.compute_seconds[chunk.first_wafer + i - out.first_wafer] +=
          std::chrono::duration<double>(Clock::now() - start).count();
    }
  }

  // Group 0 holds the whole-wafer segments, group 1 + k those of step k; a sample's position
  // in a step segment is the number of the wafer's earlier rows of that step. Steps come in
  // runs of rows (recipe steps are contiguous), and each run continues its step's sums.
  template <class T>
  void accumulate_wafer(const T* rows, std::uint64_t n_rows, const std::int32_t* steps,
                        std::size_t n_columns) {
    const std::size_t n_groups = 1 + layout_.n_steps;
    sums_.reset(n_groups, n_columns);
    groups_.resize(n_groups);
    for (std::size_t g = 0; g < n_groups; ++g) groups_[g] = sums_.group(g);
    std::vector<T>& pad = padding<T>();
    detail::accumulate_rows(isa_, rows, n_columns, n_rows, 0.0, groups_[0], pad);
    sums_.positions(0) = static_cast<double>(n_rows);
    if (steps == nullptr) return;
    for (std::uint64_t r = 0; r < n_rows;) {
      const std::int32_t step = steps[r];
      const std::size_t g = 1 + checked_step(step);
      std::uint64_t end = r + 1;
      while (end < n_rows && steps[end] == step) ++end;
      double& position = sums_.positions(g);
      detail::accumulate_rows(isa_, rows + r * n_columns, n_columns, end - r, position, groups_[g],
                              pad);
      position += static_cast<double>(end - r);
      r = end;
    }
  }

  template <class T>
  std::vector<T>& padding() {
    return detail::buffer_of<T>(pad_float_, pad_double_);
  }

  // The reader validated steps; an out-of-range one here would corrupt memory, so it is
  // checked anyway (one comparison per row).
  std::size_t checked_step(std::int32_t step) const {
    if (step < 0 || static_cast<std::size_t>(step) >= layout_.n_steps) {
      throw std::out_of_range("cpu backend: step " + std::to_string(step) + " outside [0, " +
                              std::to_string(layout_.n_steps) + ")");
    }
    return static_cast<std::size_t>(step);
  }

  template <class T>
  void write_wafer(const T* rows, std::uint64_t n_rows, const std::int32_t* steps,
                   const TraceChunk& chunk, std::uint64_t wafer, FeatureBlock& out) {
    const std::size_t n_steps = layout_.n_steps;
    const std::size_t block_row = (wafer - out.first_wafer) * layout_.n_sensors;
    const std::size_t per_column = 1 + n_steps;
    for (std::size_t c = 0; c < chunk.n_columns; ++c) {
      const std::size_t sensor = chunk.first_sensor + c;
      const double* median = want_median_ ? medians_.data() + c * per_column : nullptr;
      const SegmentSums whole = sums_.segment(0, c);
      write_features(whole, median != nullptr ? median[0] : NAN, out.at(wafer, sensor));
      out.moments[block_row + sensor] = to_moments(whole);
      for (std::size_t k = 0; k < n_steps; ++k) {
        write_features(sums_.segment(1 + k, c), median != nullptr ? median[1 + k] : NAN,
                       out.at_step(wafer, k, sensor));
      }
    }
  }

  // medians_[c·(1 + K) + 0] = median of column c over the wafer, [.. + 1 + k] over step k.
  // Columns of up to column_scratch_bytes_ are copied, as many at a time as fit that many
  // bytes, into a column-major buffer of the samples' type (one pass over the rows, not one
  // strided gather per column) and selected there; a longer column (a wafer larger than
  // that, e.g. one read a column at a time) is selected in place by StridedMedians, so the
  // backend's scratch stays bounded whatever the input.
  //
  // Each column's medians are first sought around guesses from the same sensor's earlier
  // wafers (MedianGuesses), which learns every median: the medians are the same bits whatever
  // the guesses, and so whatever the order in which this rank sees the wafers.
  template <class T>
  void wafer_medians(const T* rows, std::uint64_t n_rows, const std::int32_t* steps,
                     std::size_t first_sensor, std::size_t n_columns) {
    const std::size_t n_steps = steps == nullptr ? 0 : layout_.n_steps;
    const std::size_t per_column = 1 + layout_.n_steps;
    medians_.resize(n_columns * per_column);
    ranges_.resize(per_column);
    const auto fill_ranges = [this, n_steps](std::size_t c) {
      for (std::size_t s = 0; s <= n_steps; ++s) {
        const detail::ColumnGroup& g = groups_[s];
        ranges_[s] = {static_cast<std::size_t>(g.count[c]), g.min[c], g.max[c]};
      }
    };
    const std::size_t column_bytes = n_rows * sizeof(T);
    if (column_bytes > column_scratch_bytes_) {
      for (std::size_t c = 0; c < n_columns; ++c) {
        fill_ranges(c);
        strided_.medians(rows + c, n_columns, n_rows, steps, n_steps, ranges_.data(),
                         medians_.data() + c * per_column);
      }
      return;
    }
    // Columns lie `ld` samples apart: a multiple of 64 bytes plus 64, so that the columns of a
    // row do not all map to the same cache set, as they would at a power-of-two distance (the
    // copy ran 4 times slower at 2048 rows).
    constexpr std::size_t kLine = 64 / sizeof(T);
    const std::size_t ld = (n_rows + kLine - 1) / kLine * kLine + kLine;
    const std::size_t block =
        std::clamp<std::size_t>(column_scratch_bytes_ / (ld * sizeof(T)), 1, n_columns);
    std::vector<T>& buffer = column_buffer<T>();
    if (buffer.size() < block * ld) buffer.resize(block * ld);
    if (n_steps > 0) detail::find_step_runs(steps, n_rows, step_runs_);
    for (std::size_t c0 = 0; c0 < n_columns; c0 += block) {
      const std::size_t width = std::min(block, n_columns - c0);
      T* dst = buffer.data();
      detail::transpose_columns(rows, n_columns, n_rows, c0, width, dst, ld);
      for (std::size_t j = 0; j < width; ++j) {
        const std::size_t c = c0 + j;
        fill_ranges(c);
        double* out = medians_.data() + c * per_column;
        // Each segment's guess (the wafer's, then each step's), NaN where there is none.
        const std::size_t first_guess = (first_sensor + c) * per_column;
        bool any = false;
        for (std::size_t s = 0; s <= n_steps; ++s) {
          double* w = guess_windows_.data() + 2 * s;
          w[0] = w[1] = NAN;
          if (spread_of(s, c, spreads_[2 * s], spreads_[2 * s + 1]))
            any = guesses_.guess(first_guess + s, spreads_[2 * s], spreads_[2 * s + 1], w) || any;
        }
        if (!column_.medians(dst + j * ld, n_rows, step_runs_, n_steps, ranges_.data(), out,
                             any ? guess_windows_.data() : nullptr))
          reference_medians(rows, n_rows, steps, c, n_columns, out);
        for (std::size_t s = 0; s <= n_steps; ++s)
          guesses_.learn(first_guess + s, spreads_[2 * s], spreads_[2 * s + 1], out[s]);
      }
    }
  }

  // The mean and standard deviation of column c's finite samples in segment g (0: the wafer,
  // 1 + k: step k), from its sums (only to guess its median: MedianGuesses); NaN with fewer
  // than two samples (MedianGuesses then neither guesses nor learns).
  bool spread_of(std::size_t g, std::size_t c, double& mean, double& spread) {
    const SegmentSums s = sums_.segment(g, c);
    mean = spread = NAN;
    if (!(s.count >= 2.0)) return false;
    const double m1 = s.s1 / s.count;
    mean = s.shift + m1;
    spread = std::sqrt(std::max(0.0, s.s2 / s.count - m1 * m1));
    return true;
  }

  template <class T>
  std::vector<T>& column_buffer() {
    return detail::buffer_of<T>(column_float_, column_double_);
  }

  void write_features(const SegmentSums& sums, double median, double* dst) const {
    double all[kFeatureCount];
    finalize_all(sums, median, all);
    for (std::size_t j = 0; j < selected_.size(); ++j) dst[j] = all[selected_[j]];
  }

  // The first implementation, kept for the one case ColumnMedians hands back: a zero median
  // among zeros of both signs, whose sign depends on this exact sequence of permutations.
  // out[0] = median of column c over the wafer, out[1 + k] over step k. The finite
  // samples are gathered into scratch_ grouped by step (a counting sort: the step sums
  // already hold each step's finite count), each step's range is selected in place, then
  // the whole range, which holds every finite sample of the column.
  template <class T>
  void reference_medians(const T* rows, std::uint64_t n_rows, const std::int32_t* steps,
                         std::size_t c, std::size_t n_columns, double* medians) {
    const std::size_t n_steps = steps == nullptr ? 0 : layout_.n_steps;
    const auto n_finite = static_cast<std::size_t>(groups_[0].count[c]);
    scratch_.resize(n_finite);
    double* out = scratch_.data();
    if (n_steps == 0) {
      std::size_t filled = 0;
      for (std::uint64_t r = 0; r < n_rows; ++r) {
        const double x = static_cast<double>(rows[r * n_columns + c]);
        if (std::isfinite(x)) out[filled++] = x;
      }
    } else {
      step_fill_.resize(n_steps + 1);
      step_fill_[0] = 0;
      for (std::size_t k = 0; k < n_steps; ++k) {
        step_fill_[k + 1] = step_fill_[k] + static_cast<std::size_t>(groups_[1 + k].count[c]);
      }
      step_begin_.assign(step_fill_.begin(), step_fill_.end());
      for (std::uint64_t r = 0; r < n_rows; ++r) {
        const double x = static_cast<double>(rows[r * n_columns + c]);
        if (std::isfinite(x)) out[step_fill_[static_cast<std::size_t>(steps[r])]++] = x;
      }
      for (std::size_t k = 0; k < n_steps; ++k) {
        const detail::ColumnGroup& g = groups_[1 + k];
        medians[1 + k] = selector_.median(out + step_begin_[k], step_begin_[k + 1] - step_begin_[k],
                                          g.min[c], g.max[c]);
      }
    }
    medians[0] = selector_.median(out, n_finite, groups_[0].min[c], groups_[0].max[c]);
  }

  FeatureLayout layout_;
  bool want_median_;
  std::vector<std::size_t> selected_;  // enum index of each output column
  detail::ColumnSums sums_;
  detail::KernelIsa isa_ = detail::best_kernel_isa();
  std::vector<float> pad_float_;  // partial strips (strip_kernel.hpp)
  std::vector<double> pad_double_;
  std::vector<detail::ColumnGroup> groups_;
  // Median scratch, reused from wafer to wafer: no allocation once the largest is seen.
  // A sixth of the scratch bound: the column copy; its 16-bit bucket indices (two arrays) and
  // the candidates take at most as much again each for float32, less for float64; the
  // counters (n/4 for the wafer, at most one a sample for its steps) and their three spare
  // copies of the wafer's at most 2.25 times as much for float32 (a column of n rows), half
  // that for float64: 5.25 sixths of the bound in all.
  std::size_t column_scratch_bytes_;
  std::vector<float> column_float_;
  std::vector<double> column_double_;
  detail::ColumnMedians column_;
  detail::MedianGuesses guesses_;      // per sensor and segment of the layout
  std::vector<double> guess_windows_;  // one column's: [low, high) per segment
  std::vector<double> spreads_;        // one column's: mean, std per segment
  detail::StridedMedians strided_;
  std::vector<detail::SegmentRange> ranges_;
  std::vector<detail::StepRun> step_runs_;
  std::vector<double> medians_;
  std::vector<double> scratch_;  // reference_medians only
  detail::MedianSelector selector_;
  std::vector<std::size_t> step_fill_;
  std::vector<std::size_t> step_begin_;
  double busy_seconds_ = 0.0;
};

}  // namespace

std::unique_ptr<FeatureBackend> make_cpu_backend(const FeatureLayout& layout,
                                                 std::uint64_t scratch_bytes) {
  return std::make_unique<CpuBackend>(layout, scratch_bytes);
}

}  // namespace wafermill::features
