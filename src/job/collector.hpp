// Rank 0's sink: writes each batch's features as it arrives, stores its block partials for
// the block-ordered reduction, keeps per-wafer latencies and drives the progress display; puts
// each computed batch into the result store before counting it done.
#pragma once

#include <cstdint>
#include <vector>

#include "progress.hpp"
#include "result_store.hpp"
#include "wafermill/format/feature_file.hpp"
#include "wafermill/reduce/fleet.hpp"
#include "worker.hpp"

namespace wafermill::job {

class Collector : public ResultSink {
 public:
  /// `store` may be null (no result store).
  Collector(format::FeatureFileWriter& writer, reduce::BlockReducer& reducer,
            std::uint64_t n_wafers, std::uint64_t n_blocks, Progress& progress, double& busy_s,
            ResultStore* store)
      : writer_(writer), reducer_(reducer), latency_s_(n_wafers, 0.0), keys_(n_blocks, 0),
        progress_(progress), busy_s_(busy_s), store_(store) {}

  /// A computed batch: into the store, then into the output.
  void accept(BatchResult& batch) override;
  /// A batch read back from the store: into the output only.
  void accept_reused(BatchResult& batch);

  bool complete() const { return reducer_.complete(); }
  const std::vector<double>& latencies() const { return latency_s_; }
  /// Store key of every block received so far (0 for the others).
  const std::vector<std::uint64_t>& keys() const { return keys_; }
  std::uint64_t blocks_computed() const { return computed_; }
  std::uint64_t blocks_reused() const { return reused_; }
  std::uint64_t blocks_done() const { return computed_ + reused_; }
  /// Blocks the result store holds for --resume (reused or stored by this run).
  std::uint64_t blocks_kept() const { return kept_; }
  /// False once a write failed: the run goes on without the store.
  bool storing() const { return store_ != nullptr; }

 private:
  void write(BatchResult& batch);
  format::FeatureFileWriter& writer_;
  reduce::BlockReducer& reducer_;
  std::vector<double> latency_s_;
  std::vector<std::uint64_t> keys_;
  Progress& progress_;
  double& busy_s_;
  ResultStore* store_;
  std::uint64_t computed_ = 0, reused_ = 0, kept_ = 0;
};

}  // namespace wafermill::job
