#include "picture_units.hpp"

#include <array>
#include <cstdint>
#include <unistd.h>

#include "transport.hpp"
#include "watchdog.hpp"

namespace wafermill::job {
namespace {

using partition::WorkUnit;

std::array<std::uint64_t, 2> encode(const std::optional<WorkUnit>& u) {
  return u ? std::array<std::uint64_t, 2>{u->first_block, u->end_block}
           : std::array<std::uint64_t, 2>{0, 0};  // first == end: no more work
}

using Body = std::function<void(const WorkUnit&, const std::function<void()>& poll)>;

// A worker: its units (from its own dispenser, or asked of rank 0), with heartbeats.
bool work_as_worker(MPI_Comm comm, int rank, int size, const partition::PartitionPolicy& policy,
                    const partition::BlockPlan& plan, const PassWatch& watch, const Body& body,
                    const std::function<bool()>& stop) {
  SelfWatchdog self(comm, rank, watch.timeout_s, &plan, watch.resume_hint);
  Heartbeat heartbeat(comm, watch.timeout_s / 4.0, kTagPictureHeartbeat, kTagPictureDone);
  const std::function<void()> poll = [&] {
    heartbeat.maybe_beat();
    self.beat();
  };
  const auto work = [&](const WorkUnit& unit) {
    heartbeat.holds(unit);
    self.holds(unit, "computing a picture unit");
    body(unit, poll);
    self.holds({}, "between picture units");
  };
  bool left = false;
  if (!policy.dynamic()) {
    auto dispenser = policy.dispenser(plan, size);
    while (true) {
      if (stop()) {
        left = dispenser->next(rank).has_value();
        break;
      }
      const auto unit = dispenser->next(rank);
      if (!unit) break;
      work(*unit);
    }
  } else {
    self.holds({}, "waiting for a picture unit from rank 0");
    while (true) {
      MPI_Send(nullptr, 0, MPI_BYTE, 0, kTagPictureRequest, comm);
      std::array<std::uint64_t, 2> u{};
      MPI_Recv(u.data(), 2, MPI_UINT64_T, 0, kTagPictureUnit, comm, MPI_STATUS_IGNORE);
      if (u[0] == u[1]) break;  // rank 0 knows whether work was left
      work(WorkUnit{u[0], u[1]});
      self.holds({}, "waiting for a picture unit from rank 0");
    }
  }
  heartbeat.done();
  return left;
}

}  // namespace

bool for_each_unit(MPI_Comm comm, const partition::PartitionPolicy& policy,
                   const partition::BlockPlan& plan, const PassWatch& watch, const Body& body,
                   const std::function<bool()>& stop) {
  int rank = 0, size = 1;
  if (comm != MPI_COMM_NULL) {
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
  }
  if (size == 1) {
    const auto nothing = [] {};
    auto dispenser = policy.dispenser(plan, size);
    while (true) {
      if (stop()) return dispenser->next(rank).has_value();
      const auto unit = dispenser->next(rank);
      if (!unit) return false;
      body(*unit, nothing);
    }
  }
  if (rank != 0) return work_as_worker(comm, rank, size, policy, plan, watch, body, stop);

  // Rank 0: its own units, the requests of the dynamic policy, and the watch over the workers.
  SelfWatchdog self(comm, 0, watch.timeout_s, &plan, watch.resume_hint);
  WorkerWatch workers(size, watch.timeout_s, plan, watch.resume_hint);
  auto dispenser = policy.dispenser(plan, size);
  bool stopping = false;  // once set, every request is answered "no more work"
  bool left = false;      // units left undone
  // Handles every message already waiting, then checks that no worker fell silent.
  const std::function<void()> poll = [&] {
    for (bool any = true; any;) {
      any = false;
      int flag = 0;
      MPI_Status st;
      MPI_Iprobe(MPI_ANY_SOURCE, kTagPictureHeartbeat, comm, &flag, &st);
      if (flag) {
        std::uint64_t u[3];  // the unit, and wafers done (unused here)
        MPI_Recv(u, 3, MPI_UINT64_T, st.MPI_SOURCE, kTagPictureHeartbeat, comm, MPI_STATUS_IGNORE);
        workers.heard(st.MPI_SOURCE);
        workers.holds(st.MPI_SOURCE, WorkUnit{u[0], u[1]});
        any = true;
      }
      MPI_Iprobe(MPI_ANY_SOURCE, kTagPictureDone, comm, &flag, &st);
      if (flag) {
        MPI_Recv(nullptr, 0, MPI_BYTE, st.MPI_SOURCE, kTagPictureDone, comm, MPI_STATUS_IGNORE);
        workers.finished(st.MPI_SOURCE);
        any = true;
      }
      MPI_Iprobe(MPI_ANY_SOURCE, kTagPictureRequest, comm, &flag, &st);
      if (flag) {
        MPI_Recv(nullptr, 0, MPI_BYTE, st.MPI_SOURCE, kTagPictureRequest, comm, MPI_STATUS_IGNORE);
        workers.heard(st.MPI_SOURCE);
        stopping = stopping || stop();
        auto next = dispenser->next(st.MPI_SOURCE);
        if (stopping && next) {
          left = true;
          next.reset();
        }
        const auto u = encode(next);
        MPI_Send(u.data(), 2, MPI_UINT64_T, st.MPI_SOURCE, kTagPictureUnit, comm);
        any = true;
      }
    }
    self.beat();
    workers.check(comm);
  };
  while (true) {
    stopping = stopping || stop();
    auto unit = dispenser->next(0);
    if (stopping && unit) left = true;
    if (stopping || !unit) break;
    self.holds(*unit, "computing a picture unit");
    body(*unit, poll);
    poll();
  }
  // Wait (sleeping, not in a collective) until every worker said DONE, or the watch ends it.
  self.holds({}, "waiting for the workers' picture units");
  while (workers.finished_count() < size - 1) {
    poll();
    if (workers.finished_count() < size - 1) ::usleep(200);
  }
  return left;
}

}  // namespace wafermill::job
