#include "collector.hpp"

#include <algorithm>

#include "wafermill/metrics/metrics.hpp"

namespace wafermill::job {

void Collector::accept(BatchResult& batch) {
  metrics::ScopedTimer t(busy_s_);
  const auto& b = batch.block;
  writer_.write_features(b.first_wafer, b.n_wafers, b.values);
  if (b.layout.n_steps > 0) writer_.write_step_features(b.first_wafer, b.n_wafers, b.by_step);
  const std::size_t s = b.layout.n_sensors;
  for (std::uint64_t i = 0; i < batch.n_blocks; ++i)
    reducer_.set_block(batch.first_block + i,
                       std::span<const reduce::Moments>(batch.partials).subspan(i * s, s));
  std::copy(batch.latency_s.begin(), batch.latency_s.end(), latency_s_.begin() + b.first_wafer);
  progress_.add(b.n_wafers);
}

}  // namespace wafermill::job
