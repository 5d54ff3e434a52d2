#include "drive/transport.hpp"

#include <unistd.h>
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "wafermill/metrics/metrics.hpp"

namespace wafermill::job {
namespace {

void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) throw std::runtime_error(std::string("MPI error in ") + what);
}

}  // namespace

Heartbeat::~Heartbeat() {
  if (request_ != MPI_REQUEST_NULL) MPI_Wait(&request_, MPI_STATUS_IGNORE);
}

void Heartbeat::send() {
  if (request_ != MPI_REQUEST_NULL) check(MPI_Wait(&request_, MPI_STATUS_IGNORE), "MPI_Wait");
  std::copy(std::begin(state_), std::end(state_), std::begin(payload_));
  check(MPI_Isend(payload_, 3, MPI_UINT64_T, 0, beat_tag_, comm_, &request_), "MPI_Isend");
  last_ = metrics::now_seconds();
}

void Heartbeat::holds(const partition::WorkUnit& unit, std::uint64_t wafers_done) {
  state_[0] = unit.first_block;
  state_[1] = unit.end_block;
  state_[2] = wafers_done;
  if (interval_s_ > 0) send();
}

void Heartbeat::maybe_beat() {
  if (interval_s_ > 0 && metrics::now_seconds() - last_ >= interval_s_) send();
}

void Heartbeat::done() {
  if (request_ != MPI_REQUEST_NULL) check(MPI_Wait(&request_, MPI_STATUS_IGNORE), "MPI_Wait");
  check(MPI_Send(nullptr, 0, MPI_BYTE, 0, done_tag_, comm_), "MPI_Send");
}

Coordinator::Coordinator(MPI_Comm comm, const PassTags& tags,
                         partition::UnitDispenser* dynamic_dispenser, std::function<bool()> stop,
                         WorkerWatch& watch, SelfWatchdog& self, Progress* progress)
    : comm_(comm),
      tags_(tags),
      dispenser_(dynamic_dispenser),
      stop_(std::move(stop)),
      watch_(watch),
      self_(self),
      progress_(progress) {
  MPI_Comm_size(comm, &size_);
  wafers_seen_.assign(static_cast<std::size_t>(size_), 0);
}

void Coordinator::send_unit(int rank) {
  std::uint64_t unit[2] = {0, 0};
  // Once a stop is requested no unit is handed out: the workers finish what they hold.
  if (dispenser_ != nullptr) {
    if (auto u = dispenser_->next(rank)) {
      if (stop_ && stop_()) {
        left_ = true;
      } else {
        unit[0] = u->first_block;
        unit[1] = u->end_block;
      }
    }
  }
  check(MPI_Send(unit, 2, MPI_UINT64_T, rank, tags_.unit, comm_), "MPI_Send");
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
  if (status.MPI_TAG == tags_.request) {
    check(MPI_Recv(nullptr, 0, MPI_BYTE, source, tags_.request, comm_, MPI_STATUS_IGNORE),
          "MPI_Recv");
    send_unit(source);
  } else if (status.MPI_TAG == tags_.heartbeat) {
    std::uint64_t beat[3];
    check(MPI_Recv(beat, 3, MPI_UINT64_T, source, tags_.heartbeat, comm_, MPI_STATUS_IGNORE),
          "MPI_Recv");
    watch_.holds(source, partition::WorkUnit{beat[0], beat[1]});
    std::uint64_t& seen = wafers_seen_[static_cast<std::size_t>(source)];
    if (beat[2] > seen) {
      if (progress_ != nullptr) progress_->add(beat[2] - seen);
      seen = beat[2];
    }
  } else if (status.MPI_TAG == tags_.done) {
    check(MPI_Recv(nullptr, 0, MPI_BYTE, source, tags_.done, comm_, MPI_STATUS_IGNORE), "MPI_Recv");
    watch_.finished(source);
  } else {
    throw std::runtime_error("unexpected message tag " + std::to_string(status.MPI_TAG) +
                             " from rank " + std::to_string(source));
  }
}

void Coordinator::finish(double* wait_s) {
  double ignored = 0.0;
  metrics::ScopedTimer t(wait_s != nullptr ? *wait_s : ignored);
  self_.holds({}, "waiting for the workers to finish their units");
  // Polls and sleeps rather than blocking in MPI_Probe: a worker that never answers must not
  // keep rank 0 from noticing (watchdog.hpp), and sleeping leaves the cores to the workers.
  while (watch_.finished_count() < size_ - 1) {
    poll();
    ::usleep(200);
  }
}

UnitRequester::UnitRequester(MPI_Comm comm, const PassTags& tags, double* wait_s)
    : comm_(comm), tags_(tags), wait_s_(wait_s) {
  // No initial request: the coordinator sends every worker its first unit unasked (start()).
}

void UnitRequester::request() {
  check(MPI_Send(nullptr, 0, MPI_BYTE, 0, tags_.request, comm_), "MPI_Send");
}

std::optional<partition::WorkUnit> UnitRequester::next() {
  if (finished_) return std::nullopt;
  std::uint64_t unit[2];
  {
    double ignored = 0.0;
    metrics::ScopedTimer t(wait_s_ != nullptr ? *wait_s_ : ignored);
    check(MPI_Recv(unit, 2, MPI_UINT64_T, 0, tags_.unit, comm_, MPI_STATUS_IGNORE), "MPI_Recv");
  }
  if (unit[0] == unit[1]) {
    finished_ = true;
    return std::nullopt;
  }
  request();  // keep one request in flight while this unit is processed
  return partition::WorkUnit{unit[0], unit[1]};
}

}  // namespace wafermill::job
