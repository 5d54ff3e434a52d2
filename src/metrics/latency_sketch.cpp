/// @file latency_sketch.cpp
/// @brief The mergeable latency histogram (latency_sketch.hpp).
#include "wafermill/metrics/latency_sketch.hpp"

#include <algorithm>
#include <cmath>

namespace wafermill::metrics {
namespace {

const double kLogGrowth = std::log(LatencySketch::kGrowth);
const std::size_t kBuckets =
    static_cast<std::size_t>(std::ceil(std::log(LatencySketch::kLargest / LatencySketch::kSmallest) / kLogGrowth));

std::size_t bucket_of(double x) {
  if (!(x > LatencySketch::kSmallest)) return 0;
  const double i = std::floor(std::log(x / LatencySketch::kSmallest) / kLogGrowth);
  return std::min(kBuckets - 1, static_cast<std::size_t>(i));
}

}  // namespace

double LatencySketch::relative_error() { return std::sqrt(kGrowth) - 1.0; }

LatencySketch::LatencySketch() : buckets_(kBuckets, 0) {}

void LatencySketch::add(double seconds) {
  const double x = seconds > 0.0 ? seconds : 0.0;  // NaN too
  ++buckets_[bucket_of(x)];
  ++n_;
  sum_ += x;
  max_ = std::max(max_, x);
  min_ = std::min(min_, x);
}

void LatencySketch::allreduce(MPI_Comm comm) {
  if (comm == MPI_COMM_NULL) return;
  MPI_Allreduce(MPI_IN_PLACE, buckets_.data(), static_cast<int>(buckets_.size()), MPI_UINT64_T,
                MPI_SUM, comm);
  MPI_Allreduce(MPI_IN_PLACE, &n_, 1, MPI_UINT64_T, MPI_SUM, comm);
  MPI_Allreduce(MPI_IN_PLACE, &sum_, 1, MPI_DOUBLE, MPI_SUM, comm);
  MPI_Allreduce(MPI_IN_PLACE, &max_, 1, MPI_DOUBLE, MPI_MAX, comm);
  MPI_Allreduce(MPI_IN_PLACE, &min_, 1, MPI_DOUBLE, MPI_MIN, comm);
}

double LatencySketch::percentile(double p) const {
  if (n_ == 0) return 0.0;
  // Nearest rank: the smallest bucket whose cumulative count reaches ceil(p/100 · n).
  const auto rank = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(n_))));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      const double mid = kSmallest * std::pow(kGrowth, static_cast<double>(i) + 0.5);
      return std::clamp(mid, min_, max_);  // the exact extremes bound every percentile
    }
  }
  return max_;
}

LatencySummary LatencySketch::summary() const {
  LatencySummary s;
  s.n = n_;
  if (n_ == 0) return s;
  s.mean = sum_ / static_cast<double>(n_);
  s.p50 = percentile(50.0);
  s.p95 = percentile(95.0);
  s.p99 = percentile(99.0);
  s.max = max_;
  return s;
}

}  // namespace wafermill::metrics
