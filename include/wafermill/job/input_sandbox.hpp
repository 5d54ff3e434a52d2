// Reads the input's metadata once in a child process before the job touches it: HDF5 1.10.8
// crashes or loops forever on some damaged files (docs/RELIABILITY.md "HDF5 findings"); in a
// child, that becomes a clear InputError (exit code 2) instead of a dead or hung rank 0.
// The reads are deterministic, so a file whose metadata the child read safely is then read
// in-process by the pipeline. Public: `validate` runs its checks the same way.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace wafermill::job {

/// Runs `read` in a forked child that uses HDF5 only, never MPI. Returns when `read` returned;
/// @throws InputError with the child's message when `read` threw InputError, and naming `path`
/// when the child was killed by a signal (HDF5 crashed) or ran longer than timeout_s (> 0);
/// std::runtime_error for other failures.
void run_isolated(const std::string& path, double timeout_s, const std::function<void()>& read);

/// run_isolated for a `read` that returns text: returns what it returned in the child.
/// @throws as run_isolated
std::string run_isolated_text(const std::string& path, double timeout_s,
                              const std::function<std::string()>& read);

/// run_isolated over every metadata read rank 0 makes of an input: its contents, and the trace,
/// map and image indexes that it holds. Returns the warnings about the traces' storage
/// (format::chunking_warnings), so that rank 0 can print them once before the run.
std::vector<std::string> check_input_isolated(const std::string& path, double timeout_s);

}  // namespace wafermill::job
