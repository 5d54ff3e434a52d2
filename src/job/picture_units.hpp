// Handing out work units of the picture pass (private to job/). Static policies: every rank
// runs its own dispenser. Dynamic: rank 0 owns the dispenser and answers REQUEST messages
// between its own items (it works too); a worker asks for its next unit only when it has
// finished the last, which costs one round trip per unit: units are runs of whole blocks, so
// this is small next to the reads.
//
// The watchdog is the trace pass's (watchdog.hpp), so a hung or stopped rank ends the job
// within --rank-timeout in this pass too, named: workers send HEARTBEAT (the unit they hold)
// when they start a unit and between items at least every timeout / 4, and DONE after their
// last unit; rank 0 tracks them in a WorkerWatch while it polls, and waits for every DONE
// (polling, not in a collective) before the pass's reductions. Every rank's main thread is
// watched by a SelfWatchdog while it takes part in the units.
#pragma once

#include <functional>
#include <string>

#include <mpi.h>

#include "wafermill/partition/policy.hpp"

namespace wafermill::job {

/// Tags of the picture pass (distinct from transport.hpp's, which run after it).
enum PictureTag : int {
  kTagPictureRequest = 201,
  kTagPictureUnit = 202,
  kTagPictureHeartbeat = 203,
  kTagPictureDone = 204
};

/// The watchdog settings of a pass: `timeout_s` 0 disables it (one process, or
/// --rank-timeout 0); `resume_hint` ends the message of a hung job.
struct PassWatch {
  double timeout_s = 0.0;
  std::string resume_hint;
};

/// Calls body(unit, poll) for every unit this rank gets under `policy`; body must call poll()
/// between items so rank 0 keeps answering requests and the heartbeats keep going.
/// Collective over comm (MPI_COMM_NULL: one process, every unit). `stop` is asked before each
/// unit: once it is true, static policies take no more units on that rank and under dynamic
/// rank 0 hands out no more (the workers finish the unit they hold). Returns true when this
/// rank left units undone. A rank silent for longer than watch.timeout_s ends the job
/// (MPI_Abort) with a message naming it and its unit.
bool for_each_unit(MPI_Comm comm, const partition::PartitionPolicy& policy,
                   const partition::BlockPlan& plan, const PassWatch& watch,
                   const std::function<void(const partition::WorkUnit&,
                                            const std::function<void()>& poll)>& body,
                   const std::function<bool()>& stop = [] { return false; });

}  // namespace wafermill::job
