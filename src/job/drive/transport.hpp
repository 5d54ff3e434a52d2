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

#include <functional>
#include <optional>
#include <vector>

#include <mpi.h>

#include "drive/progress.hpp"
#include "wafermill/partition/policy.hpp"
#include "drive/watchdog.hpp"

namespace wafermill::job {

/// The message tags of one pass; passes run one after another, each with its own tags, so a
/// late message of one can never be read as the next's.
struct PassTags {
  int request, unit, heartbeat, done;
};
inline constexpr PassTags kTraceTags{102, 103, 104, 105};
inline constexpr PassTags kPictureTags{201, 202, 203, 204};

/// A worker's heartbeats to rank 0 (see watchdog.hpp).
class Heartbeat {
 public:
  /// Beats at least every `interval_s` seconds when asked; interval 0 disables them.
  Heartbeat(MPI_Comm comm, double interval_s, const PassTags& tags)
      : comm_(comm), interval_s_(interval_s), beat_tag_(tags.heartbeat), done_tag_(tags.done) {}
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
  /// `stop` (null: never) is asked before each unit handed out; `progress` may be null.
  Coordinator(MPI_Comm comm, const PassTags& tags, partition::UnitDispenser* dynamic_dispenser,
              std::function<bool()> stop, WorkerWatch& watch, SelfWatchdog& self,
              Progress* progress);
  /// Sends every worker its first unit (dynamic policy); call once before rank 0's own work.
  void start();
  /// Handles every message already waiting (call between own chunks).
  void poll();
  /// Waits, sleeping between polls, until every worker sent DONE.
  void finish(double* wait_s);
  /// True when a stop kept a unit from being handed out.
  bool left_undone() const { return left_; }

 private:
  void handle(const MPI_Status& status);
  void send_unit(int rank);
  MPI_Comm comm_;
  PassTags tags_;
  partition::UnitDispenser* dispenser_;
  std::function<bool()> stop_;
  WorkerWatch& watch_;
  SelfWatchdog& self_;
  Progress* progress_;
  bool left_ = false;
  std::vector<std::uint64_t> wafers_seen_;  // per worker, from its heartbeats
  int size_;
};

/// A worker's source of units under the dynamic policy: one request always outstanding.
class UnitRequester {
 public:
  /// `wait_s` (may be null) gets the time spent waiting for units.
  UnitRequester(MPI_Comm comm, const PassTags& tags, double* wait_s);
  /// The next unit, or nullopt when the coordinator has no more.
  std::optional<partition::WorkUnit> next();

 private:
  void request();
  MPI_Comm comm_;
  PassTags tags_;
  double* wait_s_;
  bool finished_ = false;
};

}  // namespace wafermill::job
