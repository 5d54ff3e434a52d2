// What rank 0 settles before any work of a run, so that a run never destroys a file the user
// did not ask it to overwrite (docs/RELIABILITY.md "Files the user owns"):
// - every path the run reads or writes names a different file (compared as files: device and
//   inode, or resolved paths, not as strings), the output is not a directory, the report can
//   be written and is not a file of someone else's;
// - the output and the result store are locked for the run (format::FileLock), so a second
//   job on the same output ends at once, naming the first;
// - the store directory is claimed as the store's own (store_directory.hpp).
// Private to job/.
#pragma once

#include <memory>
#include <string>

#include "wafermill/format/file_guard.hpp"
#include "wafermill/job/job_config.hpp"

namespace wafermill::job {

/// Checks the run's paths against each other and the file system; touches nothing.
/// @throws UsageError naming both paths of a clash, or the path that cannot be written.
void check_run_paths(const JobConfig& config);

class RunGuard {
 public:
  /// Checks the paths, locks the output and the store and claims the store directory.
  /// @throws UsageError (exit code 2) before anything is written.
  explicit RunGuard(const JobConfig& config);
  /// Releases the locks. While alive, SIGTERM/SIGINT remove the lock files too.
  ~RunGuard();
  RunGuard(const RunGuard&) = delete;
  RunGuard& operator=(const RunGuard&) = delete;

  /// The store directory this run uses: "" with --store none, or when the directory is unusable
  /// (the run then goes on without one, and says so). It is created, with its marker, by the
  /// first entry written (ensure_store_directory), so a run that finishes no block leaves none.
  const std::string& store_dir() const { return store_dir_; }

 private:
  std::unique_ptr<format::FileLock> output_lock_, store_lock_;
  std::string store_dir_;
};

}  // namespace wafermill::job
