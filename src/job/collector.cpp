#include "collector.hpp"

#include <algorithm>

#include "store_directory.hpp"
#include "temp_output_guard.hpp"
#include "wafermill/metrics/metrics.hpp"

namespace wafermill::job {

void Collector::accept(BatchResult& batch) {
  metrics::ScopedTimer t(busy_s_);
  // Stored first: a block counts as done only once it would survive a crash. A store that
  // cannot be written (a full disk) costs resumability, never the run (store_directory.hpp).
  if (store_ != nullptr) {
    try {
      store_->put(batch);
      kept_ += batch.n_blocks;
      set_blocks_kept(kept_);
    } catch (const std::runtime_error& e) {
      store_unwritable(store_->dir(), e.what());
      store_ = nullptr;
    }
  }
  write(batch);
  computed_ += batch.n_blocks;
}

void Collector::accept_reused(BatchResult& batch) {
  metrics::ScopedTimer t(busy_s_);
  write(batch);
  reused_ += batch.n_blocks;
  kept_ += batch.n_blocks;
  set_blocks_kept(kept_);
}

void Collector::write(BatchResult& batch) {
  const auto& b = batch.block;
  writer_.write_features(b.first_wafer, b.n_wafers, b.values);
  if (b.layout.n_steps > 0) writer_.write_step_features(b.first_wafer, b.n_wafers, b.by_step);
  const std::size_t s = b.layout.n_sensors;
  for (std::uint64_t i = 0; i < batch.n_blocks; ++i) {
    reducer_.set_block(batch.first_block + i,
                       std::span<const reduce::Moments>(batch.partials).subspan(i * s, s));
    keys_[batch.first_block + i] = batch.keys[i];
  }
  std::copy(batch.latency_s.begin(), batch.latency_s.end(), latency_s_.begin() + b.first_wafer);
  progress_.add(b.n_wafers);
}

}  // namespace wafermill::job
