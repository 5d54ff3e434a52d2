// MPI messages between workers and the coordinator (rank 0). Private to job/.
//
// No results travel: every rank writes its own rows and keeps its own partials (collector.hpp).
// The messages only hand out work and watch the workers:
//   REQUEST   worker → 0   empty: "give me a unit" (dynamic policy only)
//   UNIT      0 → worker   two uint64: [first_block, end_block); first == end means "no more".
//                           The first unit of every worker is sent unasked at the start.
//   HEARTBEAT worker → 0   three uint64: the unit the worker holds and the wafers it has
//                           finished; sent when it starts a unit and between chunks at least
//                           every rank-timeout / 4 (watchdog.hpp)
//   DONE      worker → 0   empty: the worker's last message
// A worker keeps one request outstanding (it asks for unit k+1 before processing unit k), so the
// coordinator's polling between its own chunks is hidden behind the worker's work.
#pragma once

#include <optional>
#include <vector>

#include <mpi.h>

#include "progress.hpp"
#include "stop_request.hpp"
#include "watchdog.hpp"
#include "wafermill/partition/policy.hpp"
#include "worker.hpp"

namespace wafermill::job {

enum Tag : int {
  kTagRequest = 102,
  kTagUnit = 103,
  kTagHeartbeat = 104,
  kTagDone = 105
};

/// A worker's heartbeats to rank 0 (see watchdog.hpp).
class Heartbeat {
 public:
  /// Beats at least every `interval_s` seconds when asked; interval 0 disables them. The
  /// picture pass sends its beats and DONE under tags of its own (picture_units.hpp).
  Heartbeat(MPI_Comm comm, double interval_s, int beat_tag = kTagHeartbeat, int done_tag = kTagDone)
      : comm_(comm), interval_s_(interval_s), beat_tag_(beat_tag), done_tag_(done_tag) {}
  ~Heartbeat();
  /// The worker starts `unit` having finished `wafers_done` wafers: tells rank 0 at once.
  void holds(const partition::WorkUnit& unit, std::uint64_t wafers_done = 0);
  /// Between chunks: beats if the interval has passed since the last one.
  void maybe_beat();
  /// Sends DONE: no further message from this worker.
  void done();

 private:
  void send();
  MPI_Comm comm_;
  double interval_s_;
  int beat_tag_, done_tag_;
  double last_ = 0.0;
  std::uint64_t state_[3] = {0, 0, 0};
  std::uint64_t payload_[3] = {0, 0, 0};
  MPI_Request request_ = MPI_REQUEST_NULL;
};

/// Rank 0's side of the protocol: answers requests from the dispenser, tracks the workers for
/// the watchdog and the progress display, and stops handing out units once a stop is
/// requested.
class Coordinator {
 public:
  Coordinator(MPI_Comm comm, partition::UnitDispenser* dynamic_dispenser, const StopRequest& stop,
              WorkerWatch& watch, SelfWatchdog& self, Progress& progress);
  /// Sends every worker its first unit (dynamic policy); call once before rank 0's own work.
  void start();
  /// Handles every message already waiting (call between own chunks).
  void poll();
  /// Waits, sleeping between polls, until every worker sent DONE.
  void finish(double& wait_s);

 private:
  void handle(const MPI_Status& status);
  void send_unit(int rank);
  MPI_Comm comm_;
  partition::UnitDispenser* dispenser_;
  const StopRequest& stop_;
  WorkerWatch& watch_;
  SelfWatchdog& self_;
  Progress& progress_;
  std::vector<std::uint64_t> wafers_seen_;  // per worker, from its heartbeats
  int size_;
};

/// A worker's source of units under the dynamic policy: one request always outstanding.
class UnitRequester {
 public:
  UnitRequester(MPI_Comm comm, WorkerStats& stats);
  /// The next unit, or nullopt when the coordinator has no more.
  std::optional<partition::WorkUnit> next();

 private:
  void request();
  MPI_Comm comm_;
  WorkerStats& stats_;
  bool finished_ = false;
};

}  // namespace wafermill::job
