/// @file batch_plan.hpp
/// @brief How the CUDA backend cuts a chunk into device batches, and each batch's segments
/// into pieces of at most kWindowRows rows. Pure host code (built in every configuration, so
/// its tests run without a GPU); the kernels read Run, Piece and Segment as they are.
///
/// A wafer's rows are split into windows of kWindowRows rows at fixed offsets from the wafer's
/// first row. A piece is the rows of one segment (whole wafer, or one recipe step) inside one
/// window, as a list of runs of consecutive rows; one GPU thread folds one piece of one column
/// with add_sample(), starting at the piece's position in its segment. Segments of at most
/// kWindowRows rows are therefore one piece — the same sequential fold as the CPU backend,
/// bitwise — and longer ones are merged piece by piece (sums_merge.hpp). Windows depend only
/// on the wafer, never on the chunk or the batch, so results do not depend on either.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace wafermill::features::detail {

/// @brief Rows per window: the longest segment folded by one thread.
inline constexpr std::uint64_t kWindowRows = 1024;

/// @brief Consecutive rows [row, row + rows) of a batch (rows relative to the batch's first).
struct Run {
  std::uint32_t row;
  std::uint32_t rows;
};

/// @brief The rows of one segment inside one window: runs [run_begin, run_end).
struct Piece {
  std::uint32_t run_begin;
  std::uint32_t run_end;
  std::uint32_t segment;  ///< index into the batch's segments
  std::uint32_t rows;     ///< Σ rows of its runs
  double position;        ///< position of its first sample in the segment
};

/// @brief One segment: pieces [piece_begin, piece_end), in segment order. Segment s of a
/// batch is group s % (1 + n_steps) of the batch's wafer s / (1 + n_steps); group 0 is the
/// whole wafer, group 1 + k recipe step k.
struct Segment {
  std::uint32_t piece_begin;
  std::uint32_t piece_end;
};

/// @brief Sizes of the per-element data a batch holds on the device (see DeviceLayout).
struct BatchShape {
  std::size_t n_columns = 0;
  std::size_t sample_bytes = 4;  ///< 4 (float32) or 8 (float64)
  std::size_t n_features = 0;    ///< selected features, columns of the feature output
  std::size_t groups = 1;        ///< 1 + n_steps
  bool median = false;
};

/// @brief One device batch: whole wafers [wafer_begin, wafer_begin + n_wafers) of the chunk
/// (chunk-local indices), or a slice — windows of a single wafer too large for one batch.
struct BatchPlan {
  std::uint64_t wafer_begin = 0;
  std::uint64_t n_wafers = 0;
  std::uint64_t row_begin = 0;  ///< first row, relative to the chunk's first row
  std::uint64_t n_rows = 0;
  bool sliced = false;     ///< part of one wafer; segment sums carry between its slices
  bool carry_in = false;   ///< a slice after the wafer's first
  bool carry_out = false;  ///< a slice before the wafer's last
  std::vector<Run> runs;
  std::vector<Piece> pieces;
  std::vector<Segment> segments;

  /// @brief Upper bound of the finite samples the median sort may hold: every sample of
  /// every column, once per group it belongs to.
  std::uint64_t max_keys(const BatchShape& shape) const {
    return n_rows * shape.n_columns * (shape.groups > 1 ? 2 : 1);
  }
};

/// @brief Byte offsets of a batch's buffers in one device arena, and its total size. The
/// planner sizes batches with it; the backend carves its arena with it.
struct DeviceLayout {
  std::size_t samples = 0, runs = 0, pieces = 0, segments = 0;
  std::size_t piece_sums = 0, segment_sums = 0, features = 0, moments = 0;
  // Median only: finite counts and offsets per (segment, column), each piece's first slot,
  // the sort's two key and two value buffers.
  std::size_t key_counts = 0, key_offsets = 0, piece_slots = 0;
  std::size_t keys = 0, keys_alt = 0, ids = 0, ids_alt = 0;
  std::size_t sort_temp = 0;  ///< CUB's temporary storage
  std::size_t total = 0;
  /// @brief Bytes copied back per batch: features then moments (a prefix of the download).
  std::size_t download_bytes = 0;
};

/// @brief The layout of a batch with these counts; sort_temp_bytes is CUB's requirement for
/// max_keys keys (0 without median).
DeviceLayout device_layout(const BatchShape& shape, std::uint64_t rows, std::size_t runs,
                           std::size_t pieces, std::size_t segments, std::uint64_t wafers,
                           std::size_t sort_temp_bytes);

/// @brief Bytes of the pinned upload buffer of a batch: samples, runs, pieces, segments.
std::size_t upload_bytes(const BatchShape& shape, std::uint64_t rows, std::size_t runs,
                         std::size_t pieces, std::size_t segments);

/// @brief Cuts a chunk into batches whose DeviceLayout fits `limit_bytes`.
class BatchPlanner {
 public:
  /// @brief Bytes CUB needs to sort n keys (the backend queries CUB; tests pass a formula).
  using SortTempBytes = std::size_t (*)(std::uint64_t n);

  /// @brief offsets: the chunk's n_wafers + 1 absolute row offsets; steps: one per row, or
  /// empty when n_steps == 0.
  BatchPlanner(std::span<const std::uint64_t> offsets, std::span<const std::int32_t> steps,
               std::size_t n_steps, const BatchShape& shape, std::size_t limit_bytes,
               SortTempBytes sort_temp_bytes);

  /// @brief The next batch; false when the chunk is done.
  /// @throws std::runtime_error when one window of kWindowRows rows does not fit the limit;
  /// std::out_of_range for a step outside [0, n_steps).
  bool next(BatchPlan& plan);

 private:
  struct Triple {  // a run of rows of one group inside one window; rows wafer-relative
    std::uint64_t window;
    std::uint64_t row;
    std::uint32_t rows;
    std::uint32_t group;
  };
  std::uint64_t wafer_rows(std::uint64_t w) const { return offsets_[w + 1] - offsets_[w]; }
  std::uint64_t windows_of(std::uint64_t w) const {
    return (wafer_rows(w) + kWindowRows - 1) / kWindowRows;
  }
  // Appends the triples of wafer w's windows [j0, j1) to triples_.
  void collect(std::uint64_t w, std::uint64_t j0, std::uint64_t j1);
  // Turns triples_ of the next wafer of `plan` into its pieces and segments; the wafer's row
  // `first_row` is the batch's row `batch_row`.
  void commit(std::uint64_t first_row, std::uint64_t batch_row, BatchPlan& plan);
  std::size_t bytes(const BatchPlan& plan, std::uint64_t rows, std::size_t extra_triples,
                    std::uint64_t extra_wafers) const;

  std::span<const std::uint64_t> offsets_;
  std::span<const std::int32_t> steps_;
  std::size_t n_steps_;
  BatchShape shape_;
  std::size_t limit_;
  SortTempBytes sort_temp_;
  std::uint64_t wafer_ = 0;             // next wafer (chunk-local)
  std::uint64_t window_ = 0;            // next window of that wafer, > 0 while slicing it
  std::vector<double> step_positions_;  // per step: samples seen in the wafer so far
  std::vector<Triple> triples_;
  std::vector<Triple> sorted_;
  std::vector<std::size_t> group_start_;
};

}  // namespace wafermill::features::detail
