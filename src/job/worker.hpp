// The worker stage of the pipeline: a work unit → bounded chunks of rows → the feature backend →
// batches of whole reduction blocks handed to a ResultSink. Private to job/.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "wafermill/features/backend.hpp"
#include "wafermill/format/trace_index.hpp"
#include "wafermill/format/trace_reader.hpp"
#include "wafermill/job/job_config.hpp"
#include "wafermill/partition/policy.hpp"
#include "wafermill/reduce/moments.hpp"

namespace wafermill::job {

/// Per-wafer results and block partials of consecutive whole blocks.
struct BatchResult {
  std::uint64_t first_block = 0;
  std::uint64_t n_blocks = 0;
  features::FeatureBlock block;             // the blocks' wafers
  std::vector<reduce::Moments> partials;    // [n_blocks, S], each block folded in wafer order
  std::vector<double> latency_s;            // [wafers]: read share + compute of each wafer
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

  /// Processes every block of `unit`; calls `between_chunks` after each chunk (the coordinator
  /// polls for messages there).
  void process(const partition::WorkUnit& unit, const std::function<void()>& between_chunks);

  WorkerStats& stats() { return stats_; }

 private:
  void process_batch(std::uint64_t first_block, std::uint64_t end_block,
                     const std::function<void()>& between_chunks);
  void process_wafers(std::uint64_t w0, std::uint64_t w1);
  void process_oversize_wafer(std::uint64_t w);

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
  std::vector<std::int32_t> steps_;
  BatchResult batch_;
  WorkerStats stats_;
};

/// Bytes of per-wafer results in a batch (values, by_step, moments, latency).
std::uint64_t result_bytes_per_wafer(const features::FeatureLayout& layout);

}  // namespace wafermill::job
