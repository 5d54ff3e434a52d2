// Rank 0's sink: writes each batch's features as it arrives, stores its block partials for
// the block-ordered reduction, keeps per-wafer latencies and drives the progress display.
#pragma once

#include <vector>

#include "progress.hpp"
#include "wafermill/format/feature_file.hpp"
#include "wafermill/reduce/fleet.hpp"
#include "worker.hpp"

namespace wafermill::job {

class Collector : public ResultSink {
 public:
  Collector(format::FeatureFileWriter& writer, reduce::BlockReducer& reducer,
            std::uint64_t n_wafers, Progress& progress, double& busy_s)
      : writer_(writer), reducer_(reducer), latency_s_(n_wafers, 0.0), progress_(progress),
        busy_s_(busy_s) {}

  void accept(BatchResult& batch) override;
  bool complete() const { return reducer_.complete(); }
  const std::vector<double>& latencies() const { return latency_s_; }

 private:
  format::FeatureFileWriter& writer_;
  reduce::BlockReducer& reducer_;
  std::vector<double> latency_s_;
  Progress& progress_;
  double& busy_s_;
};

}  // namespace wafermill::job
