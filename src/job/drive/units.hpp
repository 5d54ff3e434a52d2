// The one driver of every pass's work units (private to job/; docs/ARCHITECTURE.md "One
// pipeline, several passes"). A pass says what a unit is (its BlockPlan) and how to process one
// (its body); the driver owns the rest, the same for traces, maps and images:
// - handing out units: static and weighted policies from each rank's own dispenser, the
//   dynamic one from rank 0 over the messages of transport.hpp (one request always in flight);
// - the watchdog: heartbeats from every worker, rank 0's WorkerWatch, a SelfWatchdog on every
//   rank while it takes part (watchdog.hpp), so a hung or stopped rank ends the job named;
// - stop requests (SIGUSR1, --time-limit): asked before each unit and by the body between
//   chunks; no unit is handed out once one is seen;
// - fault injection at unit boundaries (tests);
// - progress on rank 0 from the workers' heartbeats.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "drive/fault_injection.hpp"
#include "drive/progress.hpp"
#include "drive/team.hpp"
#include "drive/transport.hpp"
#include "wafermill/partition/policy.hpp"

namespace wafermill::job {

/// Test faults (fault_injection.hpp) and the units they count: one counter may span passes.
struct UnitFaults {
  FaultInjection faults;
  std::uint64_t units = 0;
  void unit_started() { faults.at_unit_start(units++); }
};

/// What a pass gives the driver besides its plan and its body.
struct UnitDriverOptions {
  PassTags tags = kTraceTags;    ///< the pass's message tags (distinct per pass)
  double timeout_s = 0.0;        ///< --rank-timeout; 0: no watchdog (one process)
  std::string resume_hint;       ///< ends the message of a hung job
  std::function<bool()> stop;    ///< null: never; asked before each unit
  UnitFaults* faults = nullptr;  ///< null: none
  Progress* progress = nullptr;  ///< rank 0: fed with the items every rank finished
  /// This rank's finished items (for its heartbeats and rank 0's progress); null: 0.
  std::function<std::uint64_t()> items_done;
  double* wait_s = nullptr;         ///< rank 0: time waiting for the workers; a worker: for units
  const char* phase = "computing";  ///< what the self-watchdog's message says the rank did
};

/// Processes `unit`, calling poll() between chunks or items (rank 0 answers messages there,
/// workers beat); returns false when it stopped inside the unit (a stop request).
using UnitBody =
    std::function<bool(const partition::WorkUnit& unit, const std::function<void()>& poll)>;

/// Runs this rank's units of `plan` under `policy` through `body`; collective over team.comm
/// (MPI_COMM_NULL: one process, every unit). Returns true when this rank left units undone
/// (a stop); passes that must be complete agree on it afterwards. A rank silent for longer
/// than the timeout ends the job (MPI_Abort) with a message naming it and its unit.
bool drive_units(const Team& team, const partition::PartitionPolicy& policy,
                 const partition::BlockPlan& plan, const UnitDriverOptions& options,
                 const UnitBody& body);

}  // namespace wafermill::job
