// Every rank's sink (docs/SCALING.md): the batches this rank computed (or read back from the
// result store) go into the output as its own rows, into the store (the rank that computed a
// block keeps it), and into O(columns) partial statistics — exact sums of the sensor moments
// from each wafer's own moments, exact column sums, a latency sketch — that are reduced over the
// ranks at the end.
// Nothing per wafer crosses ranks. Private to job/.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "drive/progress.hpp"
#include "kept_rows.hpp"
#include "store/result_store.hpp"
#include "wafermill/format/feature_file.hpp"
#include "wafermill/metrics/latency_sketch.hpp"
#include "wafermill/reduce/fleet.hpp"
#include "worker.hpp"

namespace wafermill::job {

class Collector : public ResultSink {
 public:
  /// `store` may be null (no result store); `progress` may be null (ranks above 0);
  /// `fleet_shift`: the shift of the sensor moments per sensor, the same on every rank
  /// (choose_fleet_shift, fleet_shift.hpp); `keep_rows_bytes`: the most its /features/values
  /// rows may take in memory for the scoring pass (KeptRows; 0: never kept).
  Collector(format::FeatureFileWriter& writer, const features::FeatureLayout& layout,
            std::size_t histogram_bins, Progress* progress, double& busy_s, ResultStore* store,
            std::vector<double> fleet_shift, std::uint64_t keep_rows_bytes = 0);

  /// A computed batch: into the store, then into the output and the partials.
  void accept(BatchResult& batch) override;
  /// A batch read back from the store: into the output and the partials only.
  void accept_reused(BatchResult& batch);

  /// The sensor moments' exact sums over this rank's wafers.
  const reduce::FleetMoments& fleet() const { return fleet_; }
  /// This rank's column sums (pass 1 of the scoring pass).
  reduce::FeatureColumnStats& columns() { return columns_; }
  /// The leading rows of this rank in memory (in the order of wafer_ranges()), within the limit.
  const KeptRows& kept_rows() const { return kept_; }
  /// This rank's per-wafer latencies.
  metrics::LatencySketch& latencies() { return latency_; }
  /// The wafer ranges [first, end) whose rows this rank wrote, in the order written.
  const std::vector<std::pair<std::uint64_t, std::uint64_t>>& wafer_ranges() const {
    return ranges_;
  }
  /// (block, store key) of every block this rank wrote.
  const std::vector<std::pair<std::uint64_t, std::uint64_t>>& keys() const { return keys_; }
  std::uint64_t blocks_computed() const { return computed_; }
  std::uint64_t blocks_reused() const { return reused_; }
  std::uint64_t blocks_done() const { return computed_ + reused_; }
  std::uint64_t wafers_done() const { return wafers_; }
  /// False once a write failed: the run goes on without the store.
  bool storing() const { return store_ != nullptr; }

 private:
  void write(BatchResult& batch);
  format::FeatureFileWriter& writer_;
  reduce::FleetMoments fleet_;
  reduce::FeatureColumnStats columns_;
  metrics::LatencySketch latency_;
  KeptRows kept_;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges_, keys_;
  Progress* progress_;
  double& busy_s_;
  ResultStore* store_;
  std::uint64_t computed_ = 0, reused_ = 0, wafers_ = 0;
};

}  // namespace wafermill::job
