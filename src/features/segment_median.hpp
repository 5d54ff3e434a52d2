/// @file segment_median.hpp
/// @brief The medians of a sensor column's segments (the whole wafer and each recipe step)
/// over their finite samples (CPU backend, private).
///
/// Semantics, kept bit for bit from the first implementation (MedianSelector below): only
/// finite samples count; n == 0 gives NaN; odd n gives the middle value; even n gives
/// (lower + upper) / 2 of the two middle values, halved first where the sum overflows; a
/// segment whose min equals its max gives that min (the sign add_sample saw first when -0 and
/// +0 are both present). The one case where "the middle value" has two bit patterns is a zero
/// median over zeros of both signs: there the first implementation returns whichever zero
/// std::nth_element's permutation leaves at the middle. ColumnMedians reports that case and
/// the backend reruns MedianSelector on the column, so every result stays what it was.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace wafermill::features::detail {

/// @brief Median of v[0, n), all finite: the middle value, or the mean of the two middle
/// values when n is even; NaN when n == 0. Reorders v (std::nth_element, O(n) on average).
double median_in_place(double* v, std::size_t n);

/// @brief (lower + upper) / 2, halving first where lower + upper overflows.
double median_midpoint(double lower, double upper);

/// @brief The first implementation: exact medians by bucket selection over samples widened to
/// double, reusing its histogram from call to call. Kept as the reference the tests compare
/// with and for the zero-sign case described above.
///
/// The segment's min and max are known from its sums, so one counting pass over n/2 equal
/// buckets between them finds the bucket that holds the middle rank; only that bucket's
/// samples go through nth_element. Bucket index floor((x - min)·scale) is monotonic in x
/// (subtracting a constant and multiplying by a positive one round monotonically), so the
/// k-th smallest sample is the right one exactly, whatever the distribution.
class MedianSelector {
 public:
  /// @brief As median_in_place(), given lo = min and hi = max of v[0, n).
  double median(double* v, std::size_t n, double lo, double hi);

 private:
  std::vector<std::uint32_t> counts_;
};

/// @brief What the sums already know of one segment: its finite samples' count, min and max.
struct SegmentRange {
  std::size_t count = 0;
  double min = 0.0;
  double max = 0.0;
};

/// @brief Of a pair of buffers, the one of T (float or double): the CPU backend keeps its
/// scratch in both types and picks by the samples'.
template <class T>
std::vector<T>& buffer_of(std::vector<float>& f, std::vector<double>& d) {
  if constexpr (sizeof(T) == sizeof(float)) {
    return f;
  } else {
    return d;
  }
}

/// @brief Rows [begin, end) of a wafer, all of recipe step `step`.
struct StepRun {
  std::size_t begin;
  std::size_t end;
  std::size_t step;
};

/// @brief The runs of equal steps[r], r in [0, n_rows), into `runs` (cleared first). Recipe
/// steps are contiguous, so a wafer has a few; all its columns share them.
void find_step_runs(const std::int32_t* steps, std::size_t n_rows, std::vector<StepRun>& runs);

/// @brief dst[j * ld + r] = rows[r * n_columns + c0 + j] for r < n_rows, j < width: a block of
/// a wafer's columns copied column-major, in 8×8 (float) or 4×4 (double) register tiles in the
/// AVX2 clone, 8-row tiles of scalar copies otherwise.
template <class T>
void transpose_columns(const T* rows, std::size_t n_columns, std::size_t n_rows, std::size_t c0,
                       std::size_t width, T* dst, std::size_t ld);

/// @brief Medians of one sensor column held contiguously in its own type (float stays float),
/// non-finite samples included, for the whole wafer and each step at once.
///
/// One pass maps every sample to a bucket of the whole-wafer grid (n/4 equal buckets over the
/// segment's [min, max]; a non-finite sample maps to a bucket past the end); the counting
/// (four interleaved copies of the counters) goes to the wafer's counters, or, for a step whose
/// samples spread over enough of that grid, to the step's part of it, which then adds to the
/// wafer's: each sample is mapped and counted once. A step too narrow for the wafer's grid gets
/// its own grid and a second pass over its rows. A second scan, 32 indices at a time, copies
/// only the chosen buckets' samples (a few), the wafer's and the row's step's at once, and
/// selects among them. Any grid gives the same medians: the bucket only narrows the search to
/// samples holding the middle rank. Buffers are kept from call to call: nothing is allocated
/// once the longest column has been seen.
///
/// A long column without steps counts only the samples near its median (window_median): a
/// sample of every 7th row places a window of ranks around the middle, one vector pass counts
/// the samples below it and copies those inside (about a fifth, for unpatterned data), and the
/// bucket selection above runs on those alone. The counts are exact, so a window placed badly
/// only costs time: where it misses a middle rank the column is counted in full as above.
class ColumnMedians {
 public:
  /// @brief out[0] = median over the rows [0, n_rows) of x, out[1 + k] = median over the rows
  /// of step k, given as runs (find_step_runs; ignored when n_steps == 0). ranges[0] is the
  /// whole column's, ranges[1 + k] step k's. Returns false (out then unspecified) when some
  /// median is a zero chosen among zeros of both signs: the caller then asks MedianSelector.
  ///
  /// `guess` (optional): for each segment s, values [guess[2s], guess[2s + 1]) the caller
  /// expects to hold its middle ranks, e.g. from the same sensor's earlier wafers (CpuBackend's
  /// MedianGuesses); NaN where it has none. Tried first: one vector pass over each segment's
  /// rows counts the finite samples below its window and copies those in it, and only those
  /// are selected among; where some segment has no guess or a middle rank falls outside its
  /// window, the column goes on as without guesses. Exact either way: a guess costs or saves
  /// time only.
  template <class T>
  bool medians(const T* x, std::size_t n_rows, const std::vector<StepRun>& runs,
               std::size_t n_steps, const SegmentRange* ranges, double* out,
               const double* guess = nullptr);

  /// Whether the last medians() call found its median inside the guess it was given.
  bool guess_held() const { return guess_held_; }

 private:
  /// How a segment's median is found: none (no finite sample), its min (min == max), among
  /// all its samples (max - min overflows), or in one bucket of the grid.
  enum class Mode : std::uint8_t { empty, constant, wide, buckets };
  /// One segment's grid: n_buckets equal buckets over [lo, lo + n_buckets / scale].
  struct Grid {
    Mode mode = Mode::empty;
    bool shared = false;          // a step counted on the wafer's grid, in its buckets
    std::uint32_t first = 0;      // [first, first + n_buckets) of it (when shared)
    std::uint32_t n_buckets = 1;  // counter n_buckets (past the end) takes the other samples
    std::size_t base = 0;         // its first counter in counts_
    double lo = 0.0;
    double scale = 0.0;
    double limit = 2.0;  // n_buckets + 1: every finite sample's (x - lo)·scale is below it
  };
  /// What a segment selecting in buckets looks for (in its index array's numbering: the
  /// wafer's grid when shared), and its candidates so far, at cand[offset, offset + m).
  struct Target {
    std::uint16_t bucket = 0xFFFF;
    std::uint16_t below = 0xFFFF;  // for an even count whose upper middle is bucket's first
    std::size_t rank = 0;          // of the upper middle among bucket's samples
    std::size_t offset = 0;
    std::size_t m = 0;
    double low = -HUGE_VAL;  // largest sample of below seen so far
  };
  /// The wafer's median (no steps) from a window around it: the window is placed by a sample
  /// of every few rows (buckets of a coarse grid, or where those would hold most samples the
  /// sample's order statistics), one vector pass counts the samples below it and copies those
  /// in it, and only those are selected among (select_among). False when the column is too
  /// short, its range too wide for a grid, or the window misses a middle rank: the caller
  /// then counts every sample.
  template <class T>
  bool window_median(const T* x, std::size_t n_rows, const SegmentRange& range, double& out,
                     T& lower, T& upper);

  /// Every segment's median from the caller's guesses (medians()' `guess`): false when some
  /// segment selecting in buckets has no guess, or a middle rank lies outside its guess; else
  /// true, with `decided` false where medians() would return false.
  template <class T>
  bool guessed_segments(const T* x, std::size_t n_rows, const std::vector<StepRun>& runs,
                        std::size_t n_steps, const SegmentRange* ranges, const double* guess,
                        double* out, bool& decided);
  /// One segment's median from a guess [low, high): its rows are runs(f), which calls
  /// f(begin, end) for each run; false when a middle rank lies outside.
  template <class T, class Runs>
  bool guessed_median(const T* x, std::size_t n_rows, const Runs& runs, const SegmentRange& range,
                      double low, double high, double& out, T& lower, T& upper);

  /// The samples of rank `rank` (and rank - 1 when even; rank >= 1 then) among v[0, m), all
  /// finite, and the median they make, by the same bucket selection on a grid of their own.
  template <class T>
  double select_among(const T* v, std::size_t m, std::size_t rank, bool even, T& lower, T& upper);

  // The window, candidate and bucket-index buffers sized for a column of n_rows (the window
  // paths: window_median, guessed_median).
  template <class T>
  void reserve_window(std::size_t n_rows);
  // This type's candidate and window buffers.
  template <class T>
  std::vector<T>& cand_buffer() {
    return buffer_of<T>(cand_float_, cand_double_);
  }
  template <class T>
  std::vector<T>& window_buffer() {
    return buffer_of<T>(window_float_, window_double_);
  }

  std::vector<Grid> grids_;
  std::vector<Target> targets_;
  std::vector<std::uint32_t> counts_;
  std::vector<std::uint32_t> spare_;  // count_all4's three more copies
  std::vector<std::uint16_t> whole_idx_;
  std::vector<std::uint16_t> step_idx_;
  std::vector<float> cand_float_;
  std::vector<double> cand_double_;
  std::vector<float> window_float_;  // window_median's and guessed_median's window samples
  std::vector<double> window_double_;
  bool guess_held_ = false;
};

/// @brief Per slot (the CPU backend keeps one per sensor and segment: the wafer, each recipe
/// step), where its wafers' medians lay from their means, in standard deviations: a guess of
/// the next wafer's (ColumnMedians::medians' `guess`). Wafers of one sensor on one
/// tool are alike, so the median's place relative to the mean and spread, which the moments
/// pass has already summed, repeats from wafer to wafer far more closely than the median's
/// own rank spread. The guess is mean + std·(offset ± kWidth·error), with `offset` the last
/// wafer's place and `error` a running mean of how far each place was from the one before;
/// none while that window would be wide enough to hold most samples (it would save nothing),
/// but every median keeps teaching it. A guess only saves time or costs a pass: the medians
/// are exact either way.
class MedianGuesses {
 public:
  /// Guesses' half-width, in running mean absolute errors (about 5 standard deviations of a
  /// normal error).
  static constexpr double kWidth = 4.0;
  /// The error assumed after a sensor's first median, in standard deviations (a window of
  /// ±1 then: about two thirds of a normal column's samples).
  static constexpr double kFirstError = 0.25;
  /// No guess while kWidth·error exceeds this many standard deviations.
  static constexpr double kMaxHalfWidth = 1.0;
  /// Weight of the newest error in the running mean.
  static constexpr double kLearningRate = 0.125;

  void resize(std::size_t n_slots) { sensors_.resize(n_slots); }
  /// Slot s's window [window[0], window[1]) for a wafer of this mean and std; false when
  /// there is none (no earlier median, a spread of zero or not finite, or errors too wide).
  bool guess(std::size_t s, double mean, double std, double* window) const;
  /// Learns slot s's median of a wafer of this mean and std.
  void learn(std::size_t s, double mean, double std, double median);

 private:
  struct Sensor {
    double offset = 0.0;  // (median - mean) / std of its last wafer
    double error = 0.0;   // running mean of |offset - the one before|
    bool known = false;
  };
  std::vector<Sensor> sensors_;
};

/// @brief The same medians over a column read in place with a stride (rows of a wafer too
/// large to copy), in memory bounded by the histograms: a radix selection over the samples'
/// order-preserving bit patterns, 11 bits a pass (3 passes for float32, 6 for float64), every
/// segment and both middle ranks in the same pass. Where the middle holds zeros of both signs
/// it orders -0 before +0 (the one place it may differ from MedianSelector, whose choice
/// there depends on its permutation).
class StridedMedians {
 public:
  /// @brief As ColumnMedians::medians with x[r * stride] the sample of row r; always succeeds.
  template <class T>
  void medians(const T* x, std::size_t stride, std::size_t n_rows, const std::int32_t* steps,
               std::size_t n_steps, const SegmentRange* ranges, double* out);

 private:
  /// One middle rank of one segment being narrowed down.
  struct Target {
    std::size_t rank = 0;      // rank still sought among the samples matching prefix
    std::uint64_t prefix = 0;  // the high bits of its bit pattern chosen so far
  };
  std::vector<Target> targets_;
  std::vector<std::size_t> first_target_;  // per segment, into targets_; +1 entry
  std::vector<std::size_t> counted_end_;   // per segment: its targets that count this pass
  std::vector<std::size_t> source_;        // per target: whose histogram it reads
  std::vector<std::uint64_t> hist_;
};

}  // namespace wafermill::features::detail
