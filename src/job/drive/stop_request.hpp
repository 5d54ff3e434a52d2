// A request to stop early, at the next work-unit or batch boundary: Slurm's time-limit warning
// (SIGUSR1, forwarded by slurm/run.sbatch) or the job's own wall-clock budget (--time-limit).
// The signal handler only sets a sig_atomic_t flag (FIELD_NOTES "Faults"); the worker loops
// ask requested() between units and batches. Private to job/.
#pragma once

#include <string>

namespace wafermill::job {

class StopRequest {
 public:
  /// Installs the SIGUSR1 handler (idempotent; it stays installed for the process: a warning
  /// that arrives after the work phase must not kill the rank).
  static void install_signal_handler();

  /// Stops when SIGUSR1 arrived or `time_limit_s` (> 0) seconds have passed since now.
  explicit StopRequest(double time_limit_s);

  /// True once a stop was asked for; latches.
  bool requested() const;
  /// Why: "SIGUSR1 (time-limit warning)" or "the --time-limit of N s".
  std::string reason() const;

 private:
  double deadline_;  // monotonic seconds; 0: none
  double limit_;
  mutable bool latched_ = false;
};

}  // namespace wafermill::job
