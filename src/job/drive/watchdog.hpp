// Hung ranks end the job within a bounded time (--rank-timeout), with a message naming the rank
// and the blocks it held (docs/RELIABILITY.md "A rank hangs"). Private to job/.
//
// - Workers send a heartbeat (transport.hpp) when they start a unit and between chunks at least
//   every timeout / 4 seconds. Rank 0 records, per worker, the unit it holds and when it last
//   heard from it (WorkerWatch), and checks after each drain of its message queue: a worker
//   silent for longer than the timeout is hung. Receipt times are taken when rank 0 polls, so a
//   rank 0 that was itself busy never blames a worker for its own delay.
// - Rank 0's own main thread is watched by a thread (SelfWatchdog): when it has not marked
//   progress for the timeout (stuck in a read, a computation, or waiting in a collective on a
//   rank that hangs), the thread aborts the job.
// Both call MPI_Abort, which ends every rank (FIELD_NOTES "Faults": 0.4 s).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <mpi.h>

#include "wafermill/partition/policy.hpp"

namespace wafermill::job {

/// Exit code of a job aborted because a rank hung.
inline constexpr int kExitRankHung = 1;

/// Describes blocks [first, end) with their wafers, for messages.
std::string describe_unit(const partition::WorkUnit& u, const partition::BlockPlan& plan);

/// Exit code of a job aborted because reading the input's index made no progress.
inline constexpr int kExitInputHung = 2;

/// Rank 0's record of the workers: what each holds, when each was last heard from.
class WorkerWatch {
 public:
  WorkerWatch(int n_ranks, double timeout_s, const partition::BlockPlan& plan,
              std::string resume_hint);
  /// A message from `rank` arrived.
  void heard(int rank);
  /// `rank` now holds `unit` (empty unit: it holds nothing).
  void holds(int rank, const partition::WorkUnit& unit);
  /// `rank` sent its last message.
  void finished(int rank);
  int finished_count() const { return finished_count_; }
  /// Calls MPI_Abort on `comm` when an unfinished worker was silent longer than the timeout.
  void check(MPI_Comm comm) const;

 private:
  struct Worker {
    double last_heard = 0.0;
    partition::WorkUnit unit;
    bool finished = false;
  };
  std::vector<Worker> workers_;
  int finished_count_ = 0;
  double timeout_s_;
  const partition::BlockPlan& plan_;
  std::string resume_hint_;
};

/// A thread that aborts the job when this rank's main thread marks no progress for the
/// timeout. Armed from construction to destruction.
class SelfWatchdog {
 public:
  /// `comm` may be MPI_COMM_NULL (one process: the thread then exits the process itself);
  /// `plan` may be null before the blocks are known.
  SelfWatchdog(MPI_Comm comm, int rank, double timeout_s, const partition::BlockPlan* plan,
               std::string resume_hint);
  ~SelfWatchdog();
  SelfWatchdog(const SelfWatchdog&) = delete;
  SelfWatchdog& operator=(const SelfWatchdog&) = delete;

  /// The main thread made progress.
  void beat();
  /// The main thread now works on `unit` (empty: none) in `phase` (a static string).
  void holds(const partition::WorkUnit& unit, const char* phase);

 private:
  void watch();
  MPI_Comm comm_;
  int rank_ = 0;
  double timeout_s_;
  const partition::BlockPlan* plan_;
  std::string resume_hint_;
  std::atomic<double> last_beat_;
  std::atomic<std::uint64_t> first_block_{0}, end_block_{0};
  std::atomic<const char*> phase_{"starting"};
  std::mutex mutex_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace wafermill::job
