#include "worker.hpp"

#include <algorithm>
#include <string>

#include "wafermill/error.hpp"
#include "wafermill/metrics/metrics.hpp"
#include "wafermill/reduce/fleet.hpp"

namespace wafermill::job {
namespace {

features::SampleType sample_type(format::ValueType t) {
  return t == format::ValueType::float32 ? features::SampleType::float32
                                         : features::SampleType::float64;
}

std::uint64_t value_size(format::ValueType t) { return t == format::ValueType::float32 ? 4 : 8; }

// Measured on demo-like data: 8 MiB chunks kept P=2 workers from idling behind rank 0.
constexpr std::uint64_t kChunkTargetBytes = 8ULL << 20;

}  // namespace

std::uint64_t result_bytes_per_wafer(const features::FeatureLayout& l) {
  const std::uint64_t f = l.features.size();
  return 8 * (l.n_sensors * f * (1 + l.n_steps)) + sizeof(reduce::Moments) * l.n_sensors + 16;
}

Worker::Worker(const format::TraceIndex& index, const JobConfig& config,
               const partition::BlockPlan& plan, format::TraceReader& reader,
               features::FeatureBackend& backend, ResultSink& sink)
    : index_(index), config_(config), plan_(plan), reader_(reader), backend_(backend), sink_(sink) {
  layout_.n_sensors = index.n_sensors;
  layout_.n_steps = index.n_steps;
  layout_.features = config.features;
  // Half the budget holds samples (and their steps); a quarter the results of one batch; the
  // rest is left to the backend's scratch (medians) and the message buffers.
  const std::uint64_t per_row = index.row_bytes() + (index.has_steps ? 4 : 0);
  read_budget_ = std::max<std::uint64_t>(config.memory_budget_bytes / 2, per_row);
  result_budget_ = config.memory_budget_bytes / 4;
}

void Worker::process(const partition::WorkUnit& unit, const std::function<void()>& between_chunks) {
  ++stats_.units;
  const std::uint64_t per_wafer = result_bytes_per_wafer(layout_);
  std::uint64_t b = unit.first_block;
  while (b < unit.end_block) {
    // A batch is as many whole blocks as fit the result budget, at least one.
    std::uint64_t e = b + 1;
    while (e < unit.end_block &&
           (plan_.end_wafer(e) - plan_.first_wafer(b)) * per_wafer <= result_budget_)
      ++e;
    process_batch(b, e, between_chunks);
    b = e;
  }
}

void Worker::process_batch(std::uint64_t first_block, std::uint64_t end_block,
                           const std::function<void()>& between_chunks) {
  const std::uint64_t w_begin = plan_.first_wafer(first_block);
  const std::uint64_t w_end = plan_.first_wafer(end_block);
  batch_.first_block = first_block;
  batch_.n_blocks = end_block - first_block;
  batch_.block.reset(w_begin, w_end - w_begin, layout_);
  batch_.latency_s.assign(w_end - w_begin, 0.0);

  const std::uint64_t row_bytes = index_.row_bytes() + (index_.has_steps ? 4 : 0);
  std::uint64_t w = w_begin;
  while (w < w_end) {
    if (index_.wafer_rows(w) * row_bytes > read_budget_) {
      process_oversize_wafer(w);
      ++w;
    } else {
      // A chunk is as many whole wafers as fit the read budget.
      std::uint64_t e = w + 1;
      // Chunks stop at kChunkTargetBytes even when the budget allows more: a few MiB read at
      // full speed, stay in cache, and keep rank 0's polling between chunks frequent.
      const std::uint64_t target = std::min(read_budget_, kChunkTargetBytes);
      while (e < w_end && (index_.offsets[e + 1] - index_.offsets[w]) * row_bytes <= target)
        ++e;
      process_wafers(w, e);
      w = e;
    }
    between_chunks();
  }

  {
    metrics::ScopedTimer t(stats_.compute_s);
    const std::size_t s = index_.n_sensors;
    batch_.partials.resize(batch_.n_blocks * s);
    for (std::uint64_t b = first_block; b < end_block; ++b) {
      const std::uint64_t a = plan_.first_wafer(b) - w_begin;
      const std::uint64_t n = plan_.end_wafer(b) - plan_.first_wafer(b);
      const auto folded = reduce::fold_wafers(
          std::span<const reduce::Moments>(batch_.block.moments).subspan(a * s, n * s), s);
      std::copy(folded.begin(), folded.end(), batch_.partials.begin() + (b - first_block) * s);
    }
  }
  stats_.wafers += w_end - w_begin;
  sink_.accept(batch_);
}

void Worker::process_wafers(std::uint64_t w0, std::uint64_t w1) {
  const std::uint64_t row0 = index_.offsets[w0];
  const std::uint64_t rows = index_.offsets[w1] - row0;
  const std::uint64_t bytes = rows * index_.row_bytes();
  if (buffer_.size() < bytes) buffer_.resize(bytes);
  if (index_.has_steps && steps_.size() < rows) steps_.resize(rows);
  const std::span<std::int32_t> steps =
      index_.has_steps ? std::span<std::int32_t>(steps_.data(), rows) : std::span<std::int32_t>();

  metrics::Stopwatch watch;
  if (rows > 0) reader_.read_rows(row0, rows, buffer_.data(), steps);
  const double read_s = watch.restart();
  stats_.read_s += read_s;
  stats_.samples += rows;
  stats_.bytes += bytes;

  features::TraceChunk chunk;
  chunk.first_wafer = w0;
  chunk.offsets = std::span<const std::uint64_t>(index_.offsets).subspan(w0, w1 - w0 + 1);
  chunk.type = sample_type(index_.value_type);
  chunk.values = buffer_.data();
  chunk.first_sensor = 0;
  chunk.n_columns = index_.n_sensors;
  chunk.steps = steps;
  backend_.extract(chunk, batch_.block);
  stats_.compute_s += watch.elapsed();

  // A wafer's latency: its share of the chunk's read (by rows) plus its own compute time.
  const std::uint64_t base = batch_.block.first_wafer;
  for (std::uint64_t w = w0; w < w1; ++w) {
    const double share = rows > 0 ? read_s * double(index_.wafer_rows(w)) / double(rows) : 0.0;
    batch_.latency_s[w - base] = share + batch_.block.compute_seconds[w - base];
  }
}

void Worker::process_oversize_wafer(std::uint64_t w) {
  // Too large for the read budget as whole rows: read and process it one sensor column at a
  // time. Each segment sees the same samples in the same order, so its features are bitwise
  // those of the whole-row path.
  const std::uint64_t row0 = index_.offsets[w];
  const std::uint64_t rows = index_.wafer_rows(w);
  const std::uint64_t column_bytes = rows * (value_size(index_.value_type) + (index_.has_steps ? 4 : 0));
  if (column_bytes > read_budget_)
    throw InputError(index_.path + ": /traces/values wafer " + std::to_string(w) + " has " +
                     std::to_string(rows) + " samples: one sensor column needs " +
                     std::to_string(column_bytes) + " bytes, more than the read budget of " +
                     std::to_string(read_budget_) + " bytes (half of --memory-budget); raise it");
  const std::uint64_t bytes = rows * value_size(index_.value_type);
  if (buffer_.size() < bytes) buffer_.resize(bytes);
  if (index_.has_steps && steps_.size() < rows) steps_.resize(rows);
  const std::span<std::int32_t> steps =
      index_.has_steps ? std::span<std::int32_t>(steps_.data(), rows) : std::span<std::int32_t>();

  const std::uint64_t base = batch_.block.first_wafer;
  double read_total = 0.0;
  for (std::uint64_t s = 0; s < index_.n_sensors; ++s) {
    metrics::Stopwatch watch;
    reader_.read_column(row0, rows, s, buffer_.data(), s == 0 ? steps : std::span<std::int32_t>());
    const double read_s = watch.restart();
    stats_.read_s += read_s;
    stats_.bytes += bytes;

    features::TraceChunk chunk;
    chunk.first_wafer = w;
    chunk.offsets = std::span<const std::uint64_t>(index_.offsets).subspan(w, 2);
    chunk.type = sample_type(index_.value_type);
    chunk.values = buffer_.data();
    chunk.first_sensor = s;
    chunk.n_columns = 1;
    chunk.steps = steps;
    backend_.extract(chunk, batch_.block);
    stats_.compute_s += watch.elapsed();
    read_total += read_s;
  }
  stats_.samples += rows;
  // The backend adds each column's time into compute_seconds.
  batch_.latency_s[w - base] = read_total + batch_.block.compute_seconds[w - base];
}

}  // namespace wafermill::job
