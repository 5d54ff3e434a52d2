/// @file fleet.cpp
/// @brief Block partials of per-sensor moments and their block-ordered merge.
///
/// Reproducibility rests on two fixed orders: wafers inside a block are folded left to
/// right, and blocks are merged left to right by index. Neither depends on which rank
/// computed a block or when it arrived, so the result is bitwise the same for any rank
/// count and any arrival order (FIELD_NOTES "Reproducible reductions").
#include "wafermill/reduce/fleet.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace wafermill::reduce {

std::vector<Moments> fold_wafers(std::span<const Moments> per_wafer, std::size_t n_sensors) {
  if (n_sensors == 0) {
    if (!per_wafer.empty()) throw std::invalid_argument("fold_wafers: n_sensors is 0 but moments were given");
    return {};
  }
  if (per_wafer.size() % n_sensors != 0) {
    throw std::invalid_argument("fold_wafers: " + std::to_string(per_wafer.size()) +
                                " moments are not a whole number of rows of " +
                                std::to_string(n_sensors) + " sensors");
  }
  std::vector<Moments> folded(n_sensors);
  const std::size_t n_wafers = per_wafer.size() / n_sensors;
  for (std::size_t w = 0; w < n_wafers; ++w) {
    for (std::size_t s = 0; s < n_sensors; ++s) {
      folded[s] = merge(folded[s], per_wafer[w * n_sensors + s]);
    }
  }
  return folded;
}

BlockReducer::BlockReducer(std::uint64_t n_blocks, std::size_t n_sensors)
    : n_blocks_(n_blocks),
      n_sensors_(n_sensors),
      partials_(static_cast<std::size_t>(n_blocks) * n_sensors),
      set_(static_cast<std::size_t>(n_blocks), 0) {}

void BlockReducer::set_block(std::uint64_t b, std::span<const Moments> partial) {
  if (b >= n_blocks_) {
    throw std::logic_error("BlockReducer: block " + std::to_string(b) + " is out of range (" +
                           std::to_string(n_blocks_) + " blocks)");
  }
  if (set_[b] != 0) {
    throw std::logic_error("BlockReducer: block " + std::to_string(b) + " was already set");
  }
  if (partial.size() != n_sensors_) {
    throw std::logic_error("BlockReducer: block " + std::to_string(b) + " has " +
                           std::to_string(partial.size()) + " sensors, expected " +
                           std::to_string(n_sensors_));
  }
  std::copy(partial.begin(), partial.end(), partials_.begin() + static_cast<std::ptrdiff_t>(b * n_sensors_));
  set_[b] = 1;
  ++n_set_;
}

bool BlockReducer::complete() const { return n_set_ == n_blocks_; }

std::vector<Moments> BlockReducer::result() const {
  if (!complete()) {
    throw std::logic_error("BlockReducer: only " + std::to_string(n_set_) + " of " +
                           std::to_string(n_blocks_) + " blocks were set");
  }
  return fold_wafers(partials_, n_sensors_);  // the same left fold, one row per block
}

}  // namespace wafermill::reduce
