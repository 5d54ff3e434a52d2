#include "transport.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <unistd.h>

#include "wafermill/metrics/metrics.hpp"

namespace wafermill::job {
namespace {

constexpr std::size_t kHeader = 4;
constexpr std::size_t kMomentDoubles = sizeof(reduce::Moments) / sizeof(double);
static_assert(sizeof(reduce::Moments) == 7 * sizeof(double), "Moments must be 7 packed doubles");

std::size_t packed_size(const features::FeatureLayout& l, std::uint64_t n_wafers,
                        std::uint64_t n_blocks) {
  const std::size_t f = l.features.size(), s = l.n_sensors;
  return kHeader + n_wafers * s * f * (1 + l.n_steps) + n_blocks * s * kMomentDoubles + n_wafers +
         n_blocks;
}

void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) throw std::runtime_error(std::string("MPI error in ") + what);
}

}  // namespace

void pack_batch(const BatchResult& batch, std::vector<double>& out) {
  const auto& b = batch.block;
  out.resize(packed_size(b.layout, b.n_wafers, batch.n_blocks));
  double* p = out.data();
  // Counts are far below 2^53, so doubles carry them exactly.
  *p++ = static_cast<double>(batch.first_block);
  *p++ = static_cast<double>(batch.n_blocks);
  *p++ = static_cast<double>(b.first_wafer);
  *p++ = static_cast<double>(b.n_wafers);
  p = std::copy(b.values.begin(), b.values.end(), p);
  p = std::copy(b.by_step.begin(), b.by_step.end(), p);
  std::memcpy(p, batch.partials.data(), batch.partials.size() * sizeof(reduce::Moments));
  p += batch.partials.size() * kMomentDoubles;
  p = std::copy(batch.latency_s.begin(), batch.latency_s.end(), p);
  std::memcpy(p, batch.keys.data(), batch.keys.size() * sizeof(std::uint64_t));
}

void unpack_batch(const std::vector<double>& in, const features::FeatureLayout& layout,
                  BatchResult& batch) {
  if (in.size() < kHeader) throw std::runtime_error("truncated result message");
  batch.first_block = static_cast<std::uint64_t>(in[0]);
  batch.n_blocks = static_cast<std::uint64_t>(in[1]);
  const auto first_wafer = static_cast<std::uint64_t>(in[2]);
  const auto n_wafers = static_cast<std::uint64_t>(in[3]);
  if (in.size() != packed_size(layout, n_wafers, batch.n_blocks))
    throw std::runtime_error("result message of unexpected size");
  batch.block.reset(first_wafer, n_wafers, layout);
  const double* p = in.data() + kHeader;
  std::copy(p, p + batch.block.values.size(), batch.block.values.begin());
  p += batch.block.values.size();
  std::copy(p, p + batch.block.by_step.size(), batch.block.by_step.begin());
  p += batch.block.by_step.size();
  batch.partials.resize(batch.n_blocks * layout.n_sensors);
  std::memcpy(static_cast<void*>(batch.partials.data()), p, batch.partials.size() * sizeof(reduce::Moments));
  p += batch.partials.size() * kMomentDoubles;
  batch.latency_s.assign(p, p + n_wafers);
  p += n_wafers;
  batch.keys.resize(batch.n_blocks);
  std::memcpy(batch.keys.data(), p, batch.n_blocks * sizeof(std::uint64_t));
}

MpiSender::~MpiSender() {
  // Normal paths call flush(); on an exception the job is aborted anyway.
  for (auto& p : pending_)
    if (p.request != MPI_REQUEST_NULL) MPI_Request_free(&p.request);
}

void MpiSender::accept(BatchResult& batch) {
  {
    metrics::ScopedTimer t(stats_.wait_s);
    while (pending_.size() >= 2) {
      check(MPI_Wait(&pending_.front().request, MPI_STATUS_IGNORE), "MPI_Wait");
      pending_.pop_front();
    }
  }
  metrics::ScopedTimer t(stats_.reduce_s);
  pending_.emplace_back();
  Pending& p = pending_.back();
  pack_batch(batch, p.buffer);
  check(MPI_Isend(p.buffer.data(), static_cast<int>(p.buffer.size()), MPI_DOUBLE, 0, kTagResult,
                  comm_, &p.request),
        "MPI_Isend");
}

void MpiSender::flush() {
  metrics::ScopedTimer t(stats_.wait_s);
  for (auto& p : pending_) check(MPI_Wait(&p.request, MPI_STATUS_IGNORE), "MPI_Wait");
  pending_.clear();
}

Heartbeat::~Heartbeat() {
  if (request_ != MPI_REQUEST_NULL) MPI_Wait(&request_, MPI_STATUS_IGNORE);
}

void Heartbeat::send() {
  if (request_ != MPI_REQUEST_NULL) check(MPI_Wait(&request_, MPI_STATUS_IGNORE), "MPI_Wait");
  payload_[0] = unit_[0];
  payload_[1] = unit_[1];
  check(MPI_Isend(payload_, 2, MPI_UINT64_T, 0, beat_tag_, comm_, &request_), "MPI_Isend");
  last_ = metrics::now_seconds();
}

void Heartbeat::holds(const partition::WorkUnit& unit) {
  unit_[0] = unit.first_block;
  unit_[1] = unit.end_block;
  if (interval_s_ > 0) send();
}

void Heartbeat::maybe_beat() {
  if (interval_s_ > 0 && metrics::now_seconds() - last_ >= interval_s_) send();
}

void Heartbeat::done() {
  if (request_ != MPI_REQUEST_NULL) check(MPI_Wait(&request_, MPI_STATUS_IGNORE), "MPI_Wait");
  check(MPI_Send(nullptr, 0, MPI_BYTE, 0, done_tag_, comm_), "MPI_Send");
}

Coordinator::Coordinator(MPI_Comm comm, Collector& collector, const features::FeatureLayout& layout,
                         partition::UnitDispenser* dynamic_dispenser, const StopRequest& stop,
                         WorkerWatch& watch, SelfWatchdog& self)
    : comm_(comm), collector_(collector), layout_(layout), dispenser_(dynamic_dispenser),
      stop_(stop), watch_(watch), self_(self) {
  MPI_Comm_size(comm, &size_);
}

void Coordinator::send_unit(int rank) {
  std::uint64_t unit[2] = {0, 0};
  // Once a stop is requested no unit is handed out: the workers finish what they hold.
  if (dispenser_ != nullptr && !stop_.requested()) {
    if (auto u = dispenser_->next(rank)) {
      unit[0] = u->first_block;
      unit[1] = u->end_block;
    }
  }
  check(MPI_Send(unit, 2, MPI_UINT64_T, rank, kTagUnit, comm_), "MPI_Send");
}

void Coordinator::start() {
  if (dispenser_ == nullptr) return;
  for (int r = 1; r < size_; ++r) send_unit(r);
}

void Coordinator::poll() {
  self_.beat();
  int flag = 1;
  while (true) {
    MPI_Status status;
    check(MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm_, &flag, &status), "MPI_Iprobe");
    if (!flag) break;
    handle(status);
  }
  watch_.check(comm_);
}

void Coordinator::handle(const MPI_Status& status) {
  const int source = status.MPI_SOURCE;
  watch_.heard(source);
  if (status.MPI_TAG == kTagResult) {
    int count = 0;
    MPI_Get_count(&status, MPI_DOUBLE, &count);
    buffer_.resize(static_cast<std::size_t>(count));
    check(MPI_Recv(buffer_.data(), count, MPI_DOUBLE, source, kTagResult, comm_,
                   MPI_STATUS_IGNORE),
          "MPI_Recv");
    unpack_batch(buffer_, layout_, batch_);
    collector_.accept(batch_);
  } else if (status.MPI_TAG == kTagRequest) {
    check(MPI_Recv(nullptr, 0, MPI_BYTE, source, kTagRequest, comm_, MPI_STATUS_IGNORE),
          "MPI_Recv");
    send_unit(source);
  } else if (status.MPI_TAG == kTagHeartbeat) {
    std::uint64_t unit[2];
    check(MPI_Recv(unit, 2, MPI_UINT64_T, source, kTagHeartbeat, comm_, MPI_STATUS_IGNORE),
          "MPI_Recv");
    watch_.holds(source, partition::WorkUnit{unit[0], unit[1]});
  } else if (status.MPI_TAG == kTagDone) {
    check(MPI_Recv(nullptr, 0, MPI_BYTE, source, kTagDone, comm_, MPI_STATUS_IGNORE), "MPI_Recv");
    watch_.finished(source);
  } else {
    throw std::runtime_error("unexpected message tag " + std::to_string(status.MPI_TAG) +
                             " from rank " + std::to_string(source));
  }
}

void Coordinator::finish(double& wait_s) {
  metrics::ScopedTimer t(wait_s);
  self_.holds({}, "waiting for the workers' results");
  // Polls and sleeps rather than blocking in MPI_Probe: a worker that never answers must not
  // keep rank 0 from noticing (watchdog.hpp), and sleeping leaves the cores to the workers.
  while (watch_.finished_count() < size_ - 1) {
    poll();
    ::usleep(200);
  }
}

UnitRequester::UnitRequester(MPI_Comm comm, WorkerStats& stats) : comm_(comm), stats_(stats) {
  // No initial request: the coordinator sends every worker its first unit unasked (start()).
}

void UnitRequester::request() {
  check(MPI_Send(nullptr, 0, MPI_BYTE, 0, kTagRequest, comm_), "MPI_Send");
}

std::optional<partition::WorkUnit> UnitRequester::next() {
  if (finished_) return std::nullopt;
  std::uint64_t unit[2];
  {
    metrics::ScopedTimer t(stats_.wait_s);
    check(MPI_Recv(unit, 2, MPI_UINT64_T, 0, kTagUnit, comm_, MPI_STATUS_IGNORE), "MPI_Recv");
  }
  if (unit[0] == unit[1]) {
    finished_ = true;
    return std::nullopt;
  }
  request();  // keep one request in flight while this unit is processed
  return partition::WorkUnit{unit[0], unit[1]};
}

}  // namespace wafermill::job
