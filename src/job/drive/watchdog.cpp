#include "drive/watchdog.hpp"

#include <chrono>
#include <cstdio>
#include <unistd.h>

#include "store/store_directory.hpp"
#include "wafermill/metrics/metrics.hpp"
#include "safety/temp_output_guard.hpp"
#include "wafermill/metrics/metrics.hpp"

namespace wafermill::job {
namespace {

[[noreturn]] void abort_job(MPI_Comm comm, const std::string& message, int code = kExitRankHung) {
  std::fprintf(stderr, "wafermill: error: %s\n", message.c_str());
  std::fflush(stderr);
  unlink_guarded_temp_output();  // MPI_Abort kills this process too: no destructor will run
  if (comm != MPI_COMM_NULL) MPI_Abort(comm, code);
  std::_Exit(code);  // MPI_Abort does not return; this is for the compiler
}

}  // namespace

std::string describe_unit(const partition::WorkUnit& u, const partition::BlockPlan& plan) {
  if (u.end_block <= u.first_block) return "no blocks (between units)";
  return "blocks [" + std::to_string(u.first_block) + ", " + std::to_string(u.end_block) +
         ") = wafers [" + std::to_string(plan.first_wafer(u.first_block)) + ", " +
         std::to_string(plan.first_wafer(u.end_block)) + ")";
}

WorkerWatch::WorkerWatch(int n_ranks, double timeout_s, const partition::BlockPlan& plan,
                         std::string resume_hint)
    : workers_(static_cast<std::size_t>(n_ranks)), timeout_s_(timeout_s), plan_(plan),
      resume_hint_(std::move(resume_hint)) {
  const double now = metrics::now_seconds();
  for (auto& w : workers_) w.last_heard = now;
  // Rank 0 is watched by its own thread, not here.
  workers_[0].finished = true;
}

void WorkerWatch::heard(int rank) { workers_.at(rank).last_heard = metrics::now_seconds(); }

void WorkerWatch::holds(int rank, const partition::WorkUnit& unit) { workers_.at(rank).unit = unit; }

void WorkerWatch::finished(int rank) {
  auto& w = workers_.at(rank);
  if (!w.finished) ++finished_count_;
  w.finished = true;
  w.unit = {};
}

void WorkerWatch::check(MPI_Comm comm) const {
  if (timeout_s_ <= 0) return;
  const double now = metrics::now_seconds();
  for (std::size_t r = 1; r < workers_.size(); ++r) {
    const Worker& w = workers_[r];
    if (w.finished || now - w.last_heard <= timeout_s_) continue;
    char silent[32];
    std::snprintf(silent, sizeof silent, "%.1f", now - w.last_heard);
    abort_job(comm, "rank " + std::to_string(r) + " sent nothing for " + silent +
                        " s (--rank-timeout " + std::to_string(static_cast<long>(timeout_s_)) +
                        ") while holding " + describe_unit(w.unit, plan_) +
                        ": it hangs or was stopped; aborting the job. " + resume_hint_);
  }
}

SelfWatchdog::SelfWatchdog(MPI_Comm comm, int rank, double timeout_s,
                           const partition::BlockPlan* plan, std::string resume_hint)
    : comm_(comm), rank_(rank), timeout_s_(timeout_s), plan_(plan), resume_hint_(std::move(resume_hint)),
      last_beat_(metrics::now_seconds()) {
  if (timeout_s_ > 0) thread_ = std::thread([this] { watch(); });
}

SelfWatchdog::~SelfWatchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SelfWatchdog::beat() { last_beat_.store(metrics::now_seconds(), std::memory_order_relaxed); }

void SelfWatchdog::holds(const partition::WorkUnit& unit, const char* phase) {
  first_block_.store(unit.first_block);
  end_block_.store(unit.end_block);
  phase_.store(phase);
  beat();
}

void SelfWatchdog::watch() {
  // Checks a few times per timeout: the job ends within about 1.25 timeouts of the last beat.
  const auto period = std::chrono::duration<double>(std::min(timeout_s_ / 4.0, 1.0));
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_cv_.wait_for(lock, period, [this] { return stop_; })) {
    const double silent = metrics::now_seconds() - last_beat_.load(std::memory_order_relaxed);
    if (silent <= timeout_s_) continue;
    const partition::WorkUnit u{first_block_.load(), end_block_.load()};
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.1f", silent);
    const std::string head = "rank " + std::to_string(rank_) + " (" + metrics::host_name() +
                             ") made no progress for " + secs + " s (--rank-timeout " +
                             std::to_string(static_cast<long>(timeout_s_)) + ") while " +
                             phase_.load();
    // Before the blocks are known the rank is reading the input's index: a file on which
    // HDF5 itself loops (docs/RELIABILITY.md "HDF5 findings") is bad input, exit code 2.
    if (plan_ == nullptr)
      abort_job(comm_, head + "; the file is probably damaged (HDF5 1.10 can loop forever on some damaged metadata); aborting the job", kExitInputHung);
    abort_job(comm_, head + ", holding " + describe_unit(u, *plan_) + "; aborting the job. " +
                         resume_hint_);
  }
}

}  // namespace wafermill::job
