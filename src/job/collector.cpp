#include "collector.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>

#include "safety/temp_output_guard.hpp"
#include "store/store_directory.hpp"
#include "wafermill/metrics/metrics.hpp"

namespace wafermill::job {

Collector::Collector(format::FeatureFileWriter& writer, const features::FeatureLayout& layout,
                     std::size_t histogram_bins, Progress* progress, double& busy_s,
                     ResultStore* store, std::vector<double> fleet_shift,
                     std::uint64_t keep_rows_bytes)
    : writer_(writer),
      fleet_(std::move(fleet_shift)),
      columns_(layout.n_sensors * layout.features.size(), histogram_bins),
      kept_(layout.n_sensors * layout.features.size(), keep_rows_bytes),
      progress_(progress),
      busy_s_(busy_s),
      store_(store) {}

void Collector::accept(BatchResult& batch) {
  metrics::ScopedTimer t(busy_s_);
  // Stored first: a block counts as done only once it would survive a crash. A store that
  // cannot be written (a full disk) costs resumability, never the run (store_directory.hpp).
  if (store_ != nullptr) {
    try {
      store_->put(batch);
    } catch (const std::runtime_error& e) {
      store_unwritable(store_->dir(), e.what());
      store_ = nullptr;
    }
  }
  write(batch);
  computed_ += batch.n_blocks;
  // The count the SIGTERM message gives: this rank's (rank 0's) stored blocks.
  if (store_ != nullptr) set_blocks_kept(computed_ + reused_);
}

void Collector::accept_reused(BatchResult& batch) {
  metrics::ScopedTimer t(busy_s_);
  write(batch);
  reused_ += batch.n_blocks;
  if (store_ != nullptr) set_blocks_kept(computed_ + reused_);
}

void Collector::write(BatchResult& batch) {
  const auto& b = batch.block;
  writer_.write_features(b.first_wafer, b.n_wafers, b.values);
  if (b.layout.n_steps > 0) writer_.write_step_features(b.first_wafer, b.n_wafers, b.by_step);
  const std::size_t s = b.layout.n_sensors;
  if (s != fleet_.n_sensors())
    throw std::logic_error("Collector: the fleet shift has " + std::to_string(fleet_.n_sensors()) +
                           " sensors, the batch " + std::to_string(s));
  fleet_.add(b.moments);
  for (std::uint64_t i = 0; i < batch.n_blocks; ++i)
    keys_.emplace_back(batch.first_block + i, batch.keys[i]);
  columns_.add(b.values, b.n_wafers);
  kept_.add(b.first_wafer, b.n_wafers, b.values);
  for (double l : batch.latency_s) latency_.add(l);
  if (!ranges_.empty() && ranges_.back().second == b.first_wafer)
    ranges_.back().second += b.n_wafers;
  else
    ranges_.emplace_back(b.first_wafer, b.first_wafer + b.n_wafers);
  wafers_ += b.n_wafers;
  if (progress_ != nullptr) progress_->add(b.n_wafers);
}

}  // namespace wafermill::job
