/// @file block_plan.cpp
/// @brief Fixed reduction blocks of a file and their weights.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "wafermill/error.hpp"
#include "wafermill/partition/policy.hpp"

namespace wafermill::partition {

BlockPlan::BlockPlan(std::span<const std::uint64_t> offsets, std::uint64_t block_size,
                     double wafer_overhead_rows)
    : BlockPlan(offsets, block_size, wafer_overhead_rows, {}) {}

BlockPlan::BlockPlan(std::span<const std::uint64_t> offsets, std::uint64_t block_size,
                     double wafer_overhead_rows, std::span<const std::uint64_t> file_starts) {
  if (block_size == 0) throw UsageError("block size must be at least 1 wafer");
  if (!(wafer_overhead_rows >= 0.0) || !std::isfinite(wafer_overhead_rows)) {
    throw UsageError("wafer overhead must be a finite number of rows >= 0, got " +
                     std::to_string(wafer_overhead_rows));
  }
  if (offsets.empty()) throw InputError("wafer offsets are empty: expected n_wafers + 1 entries");
  for (std::size_t i = 1; i < offsets.size(); ++i) {
    if (offsets[i] < offsets[i - 1]) {
      throw InputError("wafer offsets decrease at index " + std::to_string(i) + " (" +
                       std::to_string(offsets[i - 1]) + " then " + std::to_string(offsets[i]) +
                       ")");
    }
  }
  n_wafers_ = offsets.size() - 1;
  block_size_ = block_size;
  build(offsets, wafer_overhead_rows, file_starts);
}

void BlockPlan::build(std::span<const std::uint64_t> offsets, double wafer_overhead_rows,
                      std::span<const std::uint64_t> file_starts) {
  const std::uint64_t block_size = block_size_;
  if (file_starts.size() > 1) {
    if (file_starts.front() != 0) throw InputError("the first input file must start at wafer 0");
    for (std::size_t k = 0; k < file_starts.size(); ++k) {
      const std::uint64_t begin = file_starts[k];
      const std::uint64_t end = k + 1 < file_starts.size() ? file_starts[k + 1] : n_wafers_;
      if (end < begin || end > n_wafers_)
        throw InputError("input file " + std::to_string(k + 1) + " starts at wafer " +
                         std::to_string(begin) + ", after the next or past the last wafer");
      for (std::uint64_t w = begin; w < end; w += block_size) starts_.push_back(w);
    }
    starts_.push_back(n_wafers_);
  }
  const std::uint64_t n_blocks =
      !starts_.empty() ? starts_.size() - 1
                       : n_wafers_ / block_size + (n_wafers_ % block_size != 0 ? 1 : 0);
  weights_.resize(n_blocks);
  prefix_.assign(n_blocks + 1, 0.0);
  for (std::uint64_t b = 0; b < n_blocks; ++b) {
    const std::uint64_t first = first_wafer(b);
    const std::uint64_t end = first_wafer(b + 1);
    // The cost model: rows to read and reduce, plus a fixed per-wafer cost in row units.
    weights_[b] = static_cast<double>(offsets[end] - offsets[first]) +
                  wafer_overhead_rows * static_cast<double>(end - first);
    prefix_[b + 1] = prefix_[b] + weights_[b];
  }
}

std::uint64_t BlockPlan::first_wafer(std::uint64_t b) const {
  if (b > n_blocks()) {
    throw std::out_of_range("BlockPlan: block " + std::to_string(b) + " of " +
                            std::to_string(n_blocks()));
  }
  if (!starts_.empty()) return starts_[b];
  // The last block may be partial: it ends at n_wafers.
  return b * block_size_ < n_wafers_ ? b * block_size_ : n_wafers_;
}

std::uint64_t BlockPlan::first_block_at(std::uint64_t file_start) const {
  if (starts_.empty()) return (file_start + block_size_ - 1) / block_size_;
  return static_cast<std::uint64_t>(
      std::lower_bound(starts_.begin(), starts_.end() - 1, file_start) - starts_.begin());
}

double BlockPlan::weight(const WorkUnit& u) const {
  if (u.first_block > u.end_block || u.end_block > n_blocks()) {
    throw std::out_of_range("BlockPlan: unit [" + std::to_string(u.first_block) + ", " +
                            std::to_string(u.end_block) + ") of " + std::to_string(n_blocks()) +
                            " blocks");
  }
  return prefix_[u.end_block] - prefix_[u.first_block];
}

double BlockPlan::total_weight() const { return prefix_.back(); }

}  // namespace wafermill::partition
