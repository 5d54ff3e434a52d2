// Removes rank 0's temporary output when the process is ended from outside (SIGTERM, SIGINT:
// mpirun sends SIGTERM to every rank when another one aborts) or by the watchdog's MPI_Abort,
// so a failed run leaves nothing half-written, and says on stderr that the job was terminated
// and what --resume will reuse. Private to job/.
#pragma once

#include <cstdint>
#include <string>

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

/// What the message on SIGTERM/SIGINT says about resuming: the run's store ("" none).
void set_termination_store(const std::string& dir);
/// The number of blocks the store holds for --resume, when this process knows it (rank 0 of
/// the trace pass); otherwise the message leaves the number out.
void set_blocks_kept(std::uint64_t n);

}  // namespace wafermill::job
