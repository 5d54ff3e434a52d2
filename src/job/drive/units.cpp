#include "drive/units.hpp"

#include <memory>

#include "drive/watchdog.hpp"

namespace wafermill::job {
namespace {

using partition::WorkUnit;

bool asked_to_stop(const UnitDriverOptions& o) { return o.stop && o.stop(); }

std::uint64_t items_done(const UnitDriverOptions& o) { return o.items_done ? o.items_done() : 0; }

void unit_started(const UnitDriverOptions& o) {
  if (o.faults != nullptr) o.faults->unit_started();
}

// One rank: every unit in order, no messages; its own watchdog under mpirun -np 1.
bool drive_alone(const Team& team, const partition::PartitionPolicy& policy,
                 const partition::BlockPlan& plan, const UnitDriverOptions& o,
                 const UnitBody& body) {
  SelfWatchdog self(team.comm, 0, o.timeout_s, &plan, o.resume_hint);
  const std::function<void()> beat = [&self] { self.beat(); };
  auto dispenser = policy.dispenser(plan, 1);
  while (true) {
    const auto unit = dispenser->next(0);
    if (!unit) return false;
    if (asked_to_stop(o)) return true;
    self.holds(*unit, o.phase);
    unit_started(o);
    if (!body(*unit, beat)) return true;
  }
}

// Rank 0: its own units, the coordinator between its chunks (requests of the dynamic policy,
// heartbeats, the watch over the workers), then waits for every worker's DONE.
bool drive_root(const Team& team, const partition::PartitionPolicy& policy,
                const partition::BlockPlan& plan, const UnitDriverOptions& o,
                const UnitBody& body) {
  SelfWatchdog self(team.comm, 0, o.timeout_s, &plan, o.resume_hint);
  WorkerWatch watch(team.size, o.timeout_s, plan, o.resume_hint);
  auto dispenser = policy.dispenser(plan, team.size);
  Coordinator coordinator(team.comm, o.tags, policy.dynamic() ? dispenser.get() : nullptr, o.stop,
                          watch, self, o.progress);
  const std::function<void()> poll = [&coordinator] { coordinator.poll(); };
  coordinator.start();
  bool left = false;
  while (true) {
    const auto unit = dispenser->next(0);
    if (!unit) break;
    if (asked_to_stop(o)) {
      left = true;
      break;
    }
    self.holds(*unit, o.phase);
    unit_started(o);
    const bool finished = body(*unit, poll);  // rank 0's own items reach the progress itself
    coordinator.poll();
    if (!finished) {
      left = true;
      break;
    }
  }
  self.holds({}, "waiting for the workers to finish their units");
  coordinator.finish(o.wait_s);
  return left || coordinator.left_undone();
}

// A worker: units from its own dispenser (static policies) or from rank 0 (dynamic), with
// heartbeats to rank 0 and a SelfWatchdog of its own.
bool drive_worker(const Team& team, const partition::PartitionPolicy& policy,
                  const partition::BlockPlan& plan, const UnitDriverOptions& o,
                  const UnitBody& body) {
  // A worker's own watchdog is the backstop for a rank 0 that froze as a whole (its watchdog
  // thread with it): twice the timeout, so a rank 0 that hangs but still watches itself ends the
  // job first and names itself, not a worker that waited for it.
  SelfWatchdog self(team.comm, team.rank, 2.0 * o.timeout_s, &plan, o.resume_hint);
  // Beats at a quarter of the timeout, so one late beat is no false alarm.
  Heartbeat heartbeat(team.comm, o.timeout_s / 4.0, o.tags);
  const std::function<void()> poll = [&] {
    heartbeat.maybe_beat();
    self.beat();
  };
  // Returns false when the body stopped inside the unit.
  const auto work = [&](const WorkUnit& unit) {
    heartbeat.holds(unit, items_done(o));
    self.holds(unit, o.phase);
    unit_started(o);
    const bool finished = body(unit, poll);
    self.holds({}, "between units");
    return finished;
  };
  bool left = false;
  if (policy.dynamic()) {
    self.holds({}, "waiting for a unit from rank 0");
    UnitRequester requester(team.comm, o.tags, o.wait_s);
    // After a stop, units still arriving are dropped: the coordinator learns of the stop on
    // its own (the same signal or clock) or, at worst, hands out the rest unprocessed.
    while (auto unit = requester.next()) {
      if (left || asked_to_stop(o)) {
        left = true;
        continue;
      }
      left = !work(*unit);
    }
  } else {
    auto dispenser = policy.dispenser(plan, team.size);
    while (const auto unit = dispenser->next(team.rank)) {
      if (asked_to_stop(o) || !work(*unit)) {
        left = true;
        break;
      }
    }
  }
  heartbeat.holds({}, items_done(o));
  heartbeat.done();
  return left;
}

}  // namespace

bool drive_units(const Team& team, const partition::PartitionPolicy& policy,
                 const partition::BlockPlan& plan, const UnitDriverOptions& options,
                 const UnitBody& body) {
  if (team.size == 1) return drive_alone(team, policy, plan, options, body);
  if (team.rank == 0) return drive_root(team, policy, plan, options, body);
  return drive_worker(team, policy, plan, options, body);
}

}  // namespace wafermill::job
