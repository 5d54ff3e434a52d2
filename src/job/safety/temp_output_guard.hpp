// Removes rank 0's temporary output when the process is ended from outside (SIGTERM, SIGINT:
// mpirun sends SIGTERM to every rank when another one aborts) or by the watchdog's MPI_Abort,
// so a failed run leaves nothing half-written, and says on stderr that the job was terminated
// and what --resume will reuse. Private to job/.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace wafermill::job {

/// While alive, the temporary output `path` is unlinked on SIGTERM/SIGINT (then re-raised).
class TempOutputGuard {
 public:
  explicit TempOutputGuard(const std::string& path);
  ~TempOutputGuard();
  TempOutputGuard(const TempOutputGuard&) = delete;
  TempOutputGuard& operator=(const TempOutputGuard&) = delete;
};

/// Unlinks the guarded temporary output now, if any (async-signal-safe).
void unlink_guarded_temp_output();

/// Installs the SIGTERM/SIGINT handler of this file while held (counted: the run guard holds
/// it for the whole run, each temporary output for its own life).
void hold_termination_handler();
void release_termination_handler();

/// The run's lock files (at most two: output, store), unlinked by the handler; empty: none.
void guard_lock_files(const std::vector<std::string>& paths);

/// What the message on SIGTERM/SIGINT says about resuming: the run's store ("" none).
void set_termination_store(const std::string& dir);
/// The number of blocks the store holds for --resume, when this process knows it (rank 0 of
/// the trace pass); otherwise the message leaves the number out.
void set_blocks_kept(std::uint64_t n);

}  // namespace wafermill::job
