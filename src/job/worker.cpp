#include "worker.hpp"

#include <algorithm>
#include <string>

#include "wafermill/error.hpp"
#include "wafermill/huge_pages.hpp"
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
constexpr std::uint64_t kResultBatchBytes = 8ULL << 20;

// Bytes a sample row takes in the read buffer: its values and, with steps, its int32 step.
std::uint64_t buffered_row_bytes(const format::TraceIndex& index) {
  return index.row_bytes() + (index.has_steps ? 4 : 0);
}

}  // namespace

std::uint64_t read_budget_bytes(const format::TraceIndex& index, const JobConfig& config) {
  return std::max<std::uint64_t>(config.memory_budget_bytes / 2, buffered_row_bytes(index));
}

namespace {

InputError column_too_large(const format::TraceIndex& index, std::uint64_t w,
                            std::uint64_t column_bytes, std::uint64_t budget) {
  return InputError(index.wafer_where(w) + " has " + std::to_string(index.wafer_rows(w)) +
                    " samples: one sensor column needs " + std::to_string(column_bytes) +
                    " bytes, more than the read budget of " + std::to_string(budget) +
                    " bytes (half of --memory-budget); raise it");
}

std::uint64_t column_bytes(const format::TraceIndex& index, std::uint64_t w) {
  return index.wafer_rows(w) * (value_size(index.value_type) + (index.has_steps ? 4 : 0));
}

}  // namespace

void check_read_budget(const format::TraceIndex& index, const JobConfig& config) {
  const std::uint64_t budget = read_budget_bytes(index, config);
  for (std::uint64_t w = 0; w < index.n_wafers; ++w)
    if (column_bytes(index, w) > budget)
      throw column_too_large(index, w, column_bytes(index, w), budget);
}

std::uint64_t result_bytes_per_wafer(const features::FeatureLayout& l) {
  const std::uint64_t f = l.features.size();
  return 8 * (l.n_sensors * f * (1 + l.n_steps)) + sizeof(reduce::Moments) * l.n_sensors + 16;
}

std::uint64_t budget_left_by_worker(const format::TraceIndex& index, const JobConfig& config) {
  const std::uint64_t budget = config.memory_budget_bytes;
  const std::uint64_t row_bytes = buffered_row_bytes(index);
  std::uint64_t largest = 0;  // rows of the longest wafer
  for (std::uint64_t w = 0; w < index.n_wafers; ++w)
    largest = std::max(largest, index.wafer_rows(w));
  // for_each_chunk's chunks: up to the target, or one whole wafer up to the read budget (an
  // oversize wafer is read a column at a time, within it too).
  const std::uint64_t samples =
      std::min(read_budget_bytes(index, config), std::max(kChunkTargetBytes, largest * row_bytes));
  const std::uint64_t batch = std::min(budget / 4, kResultBatchBytes);
  const std::uint64_t scratch = budget / 8;  // the backend's (make_backend_everywhere)
  const std::uint64_t used = samples + batch + scratch;
  return used < budget ? budget - used : 0;
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
  read_budget_ = read_budget_bytes(index, config);
  // Result batches stop at kResultBatchBytes: bigger ones only made memory grow with the input
  // (bench: peak RSS +50 % from 1 GB to 4 GB with batches of a quarter of the budget).
  result_budget_ = std::min(config.memory_budget_bytes / 4, kResultBatchBytes);
  // Content hashes only feed the result store: without one (--store none), skip them (13 % of
  // the cycles of a P=1 run, bench/perf).
  hash_content_ = !config.store_path().empty();
}

bool Worker::process(const partition::WorkUnit& unit, const std::function<void()>& between_chunks) {
  ++stats_.units;
  const std::uint64_t per_wafer = result_bytes_per_wafer(layout_);
  const auto reused = [this](std::uint64_t b) { return reused_ != nullptr && (*reused_)[b] != 0; };
  std::uint64_t b = unit.first_block;
  while (b < unit.end_block) {
    if (reused(b)) {
      ++b;
      continue;
    }
    if (stop_ != nullptr && stop_->requested()) return false;
    // A batch is as many whole blocks as fit the result budget, at least one, and stops
    // before a block whose results came from the store.
    std::uint64_t e = b + 1;
    while (e < unit.end_block && !reused(e) &&
           (plan_.end_wafer(e) - plan_.first_wafer(b)) * per_wafer <= result_budget_)
      ++e;
    process_batch(b, e, between_chunks);
    b = e;
  }
  return true;
}

void Worker::for_each_chunk(std::uint64_t w_begin, std::uint64_t w_end,
                            const std::function<void(std::uint64_t, std::uint64_t)>& rows,
                            const std::function<void(std::uint64_t)>& oversize,
                            const std::function<void()>& between_chunks) {
  const std::uint64_t row_bytes = buffered_row_bytes(index_);
  // Chunks stop at kChunkTargetBytes even when the budget allows more: a few MiB read at
  // full speed, stay in cache, and keep rank 0's polling between chunks frequent.
  const std::uint64_t target = std::min(read_budget_, kChunkTargetBytes);
  std::uint64_t w = w_begin;
  while (w < w_end) {
    if (index_.wafer_rows(w) * row_bytes > read_budget_) {
      oversize(w);
      ++w;
    } else {
      // A chunk is as many whole wafers of one file as fit the read budget (within one file,
      // a chunk can be read in place).
      const std::uint64_t end = std::min(w_end, index_.source_end_wafer(w));
      std::uint64_t e = w + 1;
      while (e < end && (index_.offsets[e + 1] - index_.offsets[w]) * row_bytes <= target) ++e;
      rows(w, e);
      w = e;
    }
    between_chunks();
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
  wafer_hash_.assign(w_end - w_begin, 0);

  for_each_chunk(
      w_begin, w_end, [this](std::uint64_t w0, std::uint64_t w1) { process_wafers(w0, w1); },
      [this](std::uint64_t w) { process_oversize_wafer(w); }, between_chunks);

  {
    metrics::ScopedTimer t(stats_.compute_s);
    batch_.keys.resize(batch_.n_blocks);
    for (std::uint64_t b = first_block; b < end_block; ++b) {
      const std::uint64_t a = plan_.first_wafer(b) - w_begin;
      const std::uint64_t n = plan_.end_wafer(b) - plan_.first_wafer(b);
      batch_.keys[b - first_block] =
          block_key(digest_, index_.wafer_source(plan_.first_wafer(b)).second,
                    std::span<const std::uint64_t>(wafer_hash_).subspan(a, n));
    }
  }
  stats_.wafers += w_end - w_begin;
  sink_.accept(batch_);
}

void Worker::hash_blocks(std::uint64_t first_block, std::uint64_t end_block,
                         std::vector<std::uint64_t>& keys,
                         const std::function<void()>& between_chunks) {
  const std::uint64_t w_begin = plan_.first_wafer(first_block);
  const std::uint64_t w_end = plan_.first_wafer(end_block);
  std::vector<std::uint64_t> hashes(w_end - w_begin, 0);
  for_each_chunk(
      w_begin, w_end,
      [&](std::uint64_t w0, std::uint64_t w1) {
        read_rows(w0, w1);
        hash_rows(w0, w1, hashes.data() + (w0 - w_begin));
      },
      [&](std::uint64_t w) { hashes[w - w_begin] = hash_oversize_wafer(w); }, between_chunks);
  for (std::uint64_t b = first_block; b < end_block; ++b) {
    const std::uint64_t a = plan_.first_wafer(b) - w_begin;
    const std::uint64_t n = plan_.end_wafer(b) - plan_.first_wafer(b);
    keys[b] = block_key(digest_, index_.wafer_source(plan_.first_wafer(b)).second,
                        std::span<const std::uint64_t>(hashes).subspan(a, n));
  }
}

void Worker::grow_buffer(std::uint64_t bytes) {
  if (buffer_.size() >= bytes) return;
  // Faulted in once, in 2 MiB pages where the kernel offers them, in one call.
  reserve_huge(buffer_, bytes, Populate::yes);
  buffer_.resize(bytes);
}

void Worker::read_rows(std::uint64_t w0, std::uint64_t w1) {
  const std::uint64_t row0 = index_.offsets[w0];
  const std::uint64_t rows = index_.offsets[w1] - row0;
  const std::uint64_t bytes = rows * index_.row_bytes();
  if (index_.has_steps && steps_.size() < rows) steps_.resize(rows);
  const std::span<std::int32_t> steps =
      index_.has_steps ? std::span<std::int32_t>(steps_.data(), rows) : std::span<std::int32_t>();
  metrics::ScopedTimer t(stats_.read_s);
  rows_row0_ = row0;
  // Mapped in place where asked for and the file stores the native array (map_rows), else
  // read into the buffer (pread of the native array's bytes where the file has one).
  rows_ = rows > 0 && map_rows_
              ? static_cast<const unsigned char*>(reader_.map_rows(row0, rows, steps))
              : nullptr;
  if (rows_ == nullptr) {
    grow_buffer(bytes);
    if (rows > 0) reader_.read_rows(row0, rows, buffer_.data(), steps);
    rows_ = buffer_.data();
  }
  stats_.samples += rows;
  stats_.bytes += bytes;
}

void Worker::hash_rows(std::uint64_t w0, std::uint64_t w1, std::uint64_t* hashes) {
  for (std::uint64_t w = w0; w < w1; ++w) {
    // rows_ and steps_ hold the rows read last, from row rows_row0_ on.
    const std::uint64_t first = index_.offsets[w] - rows_row0_, rows = index_.wafer_rows(w);
    hasher_.reset(rows, index_.row_bytes());
    hasher_.add_rows(rows_ + first * index_.row_bytes(), rows);
    if (index_.has_steps)
      hasher_.add_steps(std::span<const std::int32_t>(steps_.data() + first, rows));
    hashes[w - w0] = hasher_.finish();
  }
}

void Worker::process_wafers(std::uint64_t w0, std::uint64_t w1) {
  const std::uint64_t row_bytes = index_.row_bytes();
  const std::uint64_t slice_target = backend_.slice_bytes();
  // Where rows are read by pread (maps_in_place: the file's own bytes), they are read slice by
  // slice into a buffer that stays in cache while each slice is hashed and extracted: the copy
  // out of the page cache lands in cache, and the passes over it read from there rather than
  // memory. Elsewhere (HDF5 hyperslabs, which may decompress whole chunks; mappings) the chunk
  // is read at once, and with the result store on it is hashed and extracted slice by slice,
  // so that the extraction reads what the hash just brought into cache (whole chunks where the
  // backend wants them: slice_bytes() 0). Wafers are independent: the same bits for any slicing.
  const bool sliced_reads = slice_target > 0 && !map_rows_ && reader_.maps_in_place();
  const std::uint64_t slice = sliced_reads || hash_content_ ? slice_target : 0;
  const auto slice_end = [&](std::uint64_t a) {
    std::uint64_t b = a + 1;
    if (slice == 0) return w1;
    while (b < w1 && (index_.offsets[b + 1] - index_.offsets[a]) * row_bytes <= slice) ++b;
    return b;
  };
  if (sliced_reads) {
    for (std::uint64_t a = w0; a < w1;) {
      const std::uint64_t b = slice_end(a);
      const double read_before = stats_.read_s;
      read_rows(a, b);
      compute_rows(a, b);
      set_latencies(a, b, stats_.read_s - read_before);
      a = b;
    }
    return;
  }
  const double read_before = stats_.read_s;
  read_rows(w0, w1);
  const double read_s = stats_.read_s - read_before;
  for (std::uint64_t a = w0; a < w1;) {
    const std::uint64_t b = slice_end(a);
    compute_rows(a, b);
    a = b;
  }
  set_latencies(w0, w1, read_s);
}

void Worker::compute_rows(std::uint64_t a, std::uint64_t b) {
  const std::uint64_t row_bytes = index_.row_bytes();
  const std::uint64_t base = batch_.block.first_wafer;
  metrics::Stopwatch watch;
  if (hash_content_) hash_rows(a, b, wafer_hash_.data() + (a - base));
  // rows_ and steps_ hold the rows read last, from row rows_row0_ on.
  const std::uint64_t first_row = index_.offsets[a] - rows_row0_;
  const std::uint64_t rows = index_.offsets[b] - index_.offsets[a];
  features::TraceChunk chunk;
  chunk.first_wafer = a;
  chunk.offsets = std::span<const std::uint64_t>(index_.offsets).subspan(a, b - a + 1);
  chunk.type = sample_type(index_.value_type);
  chunk.values = rows_ + first_row * row_bytes;
  chunk.first_sensor = 0;
  chunk.n_columns = index_.n_sensors;
  chunk.steps = index_.has_steps ? std::span<const std::int32_t>(steps_).subspan(first_row, rows)
                                 : std::span<const std::int32_t>();
  backend_.extract(chunk, batch_.block);
  stats_.compute_s += watch.elapsed();
}

void Worker::set_latencies(std::uint64_t w0, std::uint64_t w1, double read_s) {
  // A wafer's latency: its share of its rows' read (by rows) plus its own compute time.
  const std::uint64_t base = batch_.block.first_wafer;
  const std::uint64_t rows = index_.offsets[w1] - index_.offsets[w0];
  for (std::uint64_t w = w0; w < w1; ++w) {
    const double share = rows > 0 ? read_s * double(index_.wafer_rows(w)) / double(rows) : 0.0;
    batch_.latency_s[w - base] = share + batch_.block.compute_seconds[w - base];
  }
}

void Worker::read_oversize_wafer(std::uint64_t w,
                                 const std::function<void(std::uint64_t, double)>& column) {
  // Too large for the read budget as whole rows: read it one sensor column at a time. Each
  // segment sees the same samples in the same order, so its features are bitwise those of the
  // whole-row path.
  const std::uint64_t row0 = index_.offsets[w];
  const std::uint64_t rows = index_.wafer_rows(w);
  if (column_bytes(index_, w) > read_budget_)
    throw column_too_large(index_, w, column_bytes(index_, w), read_budget_);
  const std::uint64_t bytes = rows * value_size(index_.value_type);
  grow_buffer(bytes);
  if (index_.has_steps && steps_.size() < rows) steps_.resize(rows);
  const std::span<std::int32_t> steps =
      index_.has_steps ? std::span<std::int32_t>(steps_.data(), rows) : std::span<std::int32_t>();
  for (std::uint64_t s = 0; s < index_.n_sensors; ++s) {
    metrics::Stopwatch watch;
    reader_.read_column(row0, rows, s, buffer_.data(), s == 0 ? steps : std::span<std::int32_t>());
    const double read_s = watch.elapsed();
    stats_.read_s += read_s;
    stats_.bytes += bytes;
    column(s, read_s);
  }
  stats_.samples += rows;
}

std::uint64_t Worker::hash_oversize_wafer(std::uint64_t w) {
  // The column pass cannot give the rows' hash: read the wafer once more as whole rows, in
  // slices within the read budget (at least one row).
  const std::uint64_t row0 = index_.offsets[w];
  const std::uint64_t rows = index_.wafer_rows(w);
  const std::uint64_t row_bytes = index_.row_bytes();
  const std::uint64_t slice = std::max<std::uint64_t>(1, read_budget_ / row_bytes);
  grow_buffer(slice * row_bytes);
  if (index_.has_steps && steps_.size() < slice) steps_.resize(slice);
  hasher_.reset(rows, row_bytes);
  for (std::uint64_t r = 0; r < rows; r += slice) {
    const std::uint64_t n = std::min(slice, rows - r);
    const std::span<std::int32_t> steps =
        index_.has_steps ? std::span<std::int32_t>(steps_.data(), n) : std::span<std::int32_t>();
    {
      metrics::ScopedTimer t(stats_.read_s);
      reader_.read_rows(row0 + r, n, buffer_.data(), steps);
    }
    stats_.bytes += n * row_bytes;
    hasher_.add_rows(buffer_.data(), n);
    hasher_.add_steps(steps);
  }
  return hasher_.finish();
}

void Worker::process_oversize_wafer(std::uint64_t w) {
  const std::uint64_t rows = index_.wafer_rows(w);
  const std::uint64_t base = batch_.block.first_wafer;
  double read_total = 0.0;
  if (hash_content_) {
    const double read_before = stats_.read_s;
    wafer_hash_[w - base] = hash_oversize_wafer(w);
    read_total += stats_.read_s - read_before;
  }
  read_oversize_wafer(w, [&](std::uint64_t s, double read_s) {
    metrics::Stopwatch watch;
    // steps_ was sized by read_oversize_wafer: take the span only now.
    const std::span<std::int32_t> steps =
        index_.has_steps ? std::span<std::int32_t>(steps_.data(), rows) : std::span<std::int32_t>();
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
  });
  // The backend adds each column's time into compute_seconds.
  batch_.latency_s[w - base] = read_total + batch_.block.compute_seconds[w - base];
}

}  // namespace wafermill::job
