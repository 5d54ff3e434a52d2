// The scoring pass on rank 0: fleet statistics from the block-ordered reduction, per-(sensor,
// feature) statistics and histograms across wafers, anomaly scores and flags; all written into
// the output. Reads the features back from the output in bounded chunks, in wafer order, so
// every figure is reproducible for any number of ranks and any policy.
#pragma once

#include <cstdint>
#include <vector>

#include "wafermill/format/feature_file.hpp"
#include "wafermill/format/trace_index.hpp"
#include "wafermill/job/job_config.hpp"
#include "wafermill/reduce/fleet.hpp"

namespace wafermill::job {

struct ScoringResult {
  std::vector<std::uint8_t> flags;  // [n_wafers]
  std::uint64_t flagged = 0;
};

ScoringResult score_and_summarise(format::FeatureFileWriter& writer,
                                  const format::TraceIndex& index, const JobConfig& config,
                                  const reduce::BlockReducer& reducer);

}  // namespace wafermill::job
