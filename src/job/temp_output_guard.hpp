// Removes rank 0's temporary output when the process is ended from outside (SIGTERM, SIGINT:
// mpirun sends SIGTERM to every rank when another one aborts) or by the watchdog's MPI_Abort,
// so a failed run leaves nothing half-written. Private to job/.
#pragma once

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

}  // namespace wafermill::job
