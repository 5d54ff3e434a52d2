// The worker stage of the pipeline: a work unit → bounded chunks of rows → the feature backend →
// batches of whole reduction blocks handed to a ResultSink. Private to job/.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "drive/stop_request.hpp"
#include "store/content_hash.hpp"
#include "wafermill/features/backend.hpp"
#include "wafermill/format/trace_index.hpp"
#include "wafermill/format/trace_reader.hpp"
#include "wafermill/job/job_config.hpp"
#include "wafermill/partition/policy.hpp"
#include "wafermill/reduce/moments.hpp"

namespace wafermill::job {

/// Per-wafer results of consecutive whole blocks (the fleet moments are summed from the wafers'
/// own moments, block.moments: no per-block partial, reduce/fleet.hpp).
struct BatchResult {
  std::uint64_t first_block = 0;
  std::uint64_t n_blocks = 0;
  features::FeatureBlock block;     // the blocks' wafers
  std::vector<double> latency_s;    // [wafers]: read share + compute of each wafer
  std::vector<std::uint64_t> keys;  // [n_blocks]: result-store key of each block
};

/// Where finished batches go: the local collector on rank 0, an MPI sender elsewhere.
class ResultSink {
 public:
  virtual ~ResultSink() = default;
  virtual void accept(BatchResult& batch) = 0;
};

/// What one rank did, in the units of report::RankFigures.
struct WorkerStats {
  std::uint64_t units = 0, wafers = 0, samples = 0, bytes = 0;
  double read_s = 0.0, compute_s = 0.0, reduce_s = 0.0, wait_s = 0.0;
};

/// Field-wise sum.
WorkerStats operator+(const WorkerStats& a, const WorkerStats& b);

/// Reads and processes work units within the memory budget.
class Worker {
 public:
  Worker(const format::TraceIndex& index, const JobConfig& config, const partition::BlockPlan& plan,
         format::TraceReader& reader, features::FeatureBackend& backend, ResultSink& sink);

  /// Processes every block of `unit` that is not marked reused; calls `between_chunks` after
  /// each chunk (the coordinator polls, workers beat there). Stops between batches when the
  /// stop request (if set) asks; returns false then.
  bool process(const partition::WorkUnit& unit, const std::function<void()>& between_chunks);

  /// Reads blocks [first_block, end_block) without computing features and writes their
  /// result-store keys into keys[first_block..end_block) (the resume pass).
  void hash_blocks(std::uint64_t first_block, std::uint64_t end_block,
                   std::vector<std::uint64_t>& keys, const std::function<void()>& between_chunks);

  /// Blocks with reused[b] != 0 are skipped by process() (their results came from the store).
  void set_reused(const std::vector<std::uint8_t>* reused) { reused_ = reused; }
  /// Consulted between batches; null: never stop.
  void set_stop(const StopRequest* stop) { stop_ = stop; }
  /// The configuration digest that every block key includes (content_hash.hpp).
  void set_key_digest(std::uint64_t digest) { digest_ = digest; }

  WorkerStats& stats() { return stats_; }

 private:
  void process_batch(std::uint64_t first_block, std::uint64_t end_block,
                     const std::function<void()>& between_chunks);
  // Calls rows(w0, w1) for runs of whole wafers within the read budget and oversize(w) for a
  // wafer too large for it, over [w_begin, w_end); between_chunks after each.
  void for_each_chunk(std::uint64_t w_begin, std::uint64_t w_end,
                      const std::function<void(std::uint64_t, std::uint64_t)>& rows,
                      const std::function<void(std::uint64_t)>& oversize,
                      const std::function<void()>& between_chunks);
  void read_rows(std::uint64_t w0, std::uint64_t w1);  // into buffer_ and steps_
  void hash_rows(std::uint64_t w0, std::uint64_t w1, std::uint64_t* hashes);
  void process_wafers(std::uint64_t w0, std::uint64_t w1);
  // Hashes (with a store) and extracts wafers [a, b), whose rows read_rows read last.
  void compute_rows(std::uint64_t a, std::uint64_t b);
  // Latencies of wafers [w0, w1): each its share (by rows) of `read_s` plus its compute time.
  void set_latencies(std::uint64_t w0, std::uint64_t w1, double read_s);
  // Reads wafer w one sensor column at a time; `column` gets each column in turn.
  void read_oversize_wafer(std::uint64_t w,
                           const std::function<void(std::uint64_t, double)>& column);
  void process_oversize_wafer(std::uint64_t w);
  // buffer_ at least `bytes` long.
  void grow_buffer(std::uint64_t bytes);
  // Wafer w's hash from its whole rows, read in slices within the read budget.
  std::uint64_t hash_oversize_wafer(std::uint64_t w);

  const format::TraceIndex& index_;
  const JobConfig& config_;
  const partition::BlockPlan& plan_;
  format::TraceReader& reader_;
  features::FeatureBackend& backend_;
  ResultSink& sink_;
  features::FeatureLayout layout_;
  std::uint64_t read_budget_;    // bytes of sample buffer
  std::uint64_t result_budget_;  // bytes of one batch's results
  std::vector<unsigned char> buffer_;
  const unsigned char* rows_ = nullptr;  // read_rows' rows: a mapping of the file or buffer_
  std::uint64_t rows_row0_ = 0;          // the file row of rows_[0] (and of steps_[0])
  bool map_rows_ = format::native_reads() == format::NativeReads::map;  // else rows in buffer_
  std::vector<std::int32_t> steps_;
  BatchResult batch_;
  WorkerStats stats_;
  WaferHasher hasher_;
  bool hash_content_ = true;               // false without a result store: keys are then never used
  std::vector<std::uint64_t> wafer_hash_;  // of the batch's wafers
  const std::vector<std::uint8_t>* reused_ = nullptr;
  const StopRequest* stop_ = nullptr;
  std::uint64_t digest_ = 0;
};

/// Read budget of a worker: half the memory budget, at least one row.
std::uint64_t read_budget_bytes(const format::TraceIndex& index, const JobConfig& config);

/// Checks, before any work, that every wafer fits the read budget at least one sensor column
/// at a time. @throws InputError naming the first wafer that does not.
void check_read_budget(const format::TraceIndex& index, const JobConfig& config);

/// Bytes of per-wafer results in a batch (values, by_step, moments, latency).
std::uint64_t result_bytes_per_wafer(const features::FeatureLayout& layout);

/// What the memory budget leaves beside a worker's buffers: the budget less the sample buffer
/// (the chunk target, or the largest wafer up to the read budget), one result batch and the
/// backend's scratch (an eighth); 0 when nothing is left. The scoring pass keeps its rows in
/// memory within it (KeptRows).
std::uint64_t budget_left_by_worker(const format::TraceIndex& index, const JobConfig& config);

}  // namespace wafermill::job
