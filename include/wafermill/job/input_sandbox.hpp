// Reads the input's metadata once in a child process before the job touches it: HDF5 1.10.8
// crashes or loops forever on some damaged files (docs/RELIABILITY.md "HDF5 findings"); in a
// child, that becomes a clear InputError (exit code 2) instead of a dead or hung rank 0.
// The reads are deterministic, so a file whose metadata the child read safely is then read
// in-process by the pipeline. Public: `validate` runs its checks the same way.
// Many inputs (issue 19): one child checks many files, reporting each as it finishes, and the
// ranks share the files; a child that crashes or hangs names the file it was on.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <mpi.h>

#include "wafermill/report/run_report.hpp"

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

/// @brief The verdict of check_input_isolated's reads on one file.
struct InputCheck {
  enum class Outcome : unsigned char {
    good,    ///< valid; `warnings` about its storage
    bad,     ///< bad input (damaged, not wafermill traces, HDF5 crashed or hung on it)
    failed,  ///< the check itself failed (not the file's fault: exit code 1)
  };
  Outcome outcome = Outcome::good;
  std::string message;                ///< bad or failed: the message, naming the file
  std::vector<std::string> warnings;  ///< good: format::chunking_warnings
  /// good, on the rank that checked it: the trace index the check read (TraceIndex::serialize),
  /// so that the job does not read it again; empty without traces or elsewhere.
  std::string index;
  /// good, on the rank that checked it: the values of its /wafers fields
  /// (format::WaferFieldValues::encode), or empty (none, too large, or elsewhere).
  std::string fields;
};

/// @brief check_input_isolated's reads of every file, in as few children as it takes: one
/// child reads the files in order and reports each as it finishes, and the rest continue in a
/// fresh child when it ends early. A file on which it makes no progress for timeout_s (> 0) is
/// bad. A file on which it crashes is checked again alone: a crash there is its own; when alone
/// it reads fine, it is bad all the same (HDF5 crashed on it after the files before it, as the
/// job's in-process reads of the same files in the same order would), the message says so.
/// @throws std::runtime_error when no child can be started.
std::vector<InputCheck> check_inputs_isolated(const std::vector<std::string>& paths,
                                              double timeout_s);

/// @brief What a check does with one file in the child: returns its warnings joined by '\x1e';
/// throws InputError for a bad file.
using FileCheck = std::function<std::string(const std::string& path)>;

/// @brief check_inputs_isolated with another check of each file (tests give one that crashes
/// on cue).
std::vector<InputCheck> check_files_isolated(const std::vector<std::string>& paths,
                                             double timeout_s, const FileCheck& read);

/// @brief Collective over `comm` (MPI_COMM_NULL: this process checks every file): `paths`
/// becomes rank 0's list on every rank, rank r checks the files i ≡ r (mod P) with
/// check_inputs_isolated, and every rank returns every file's verdict, in the order of `paths`.
std::vector<InputCheck> check_inputs_spread(std::vector<std::string>& paths, double timeout_s,
                                            MPI_Comm comm);

/// @brief What the checks decide for a run.
struct InputVerdict {
  std::vector<std::string> files;            ///< the files to process, in order
  std::vector<report::SkippedFile> skipped;  ///< bad files left out (skip_bad_files)
  std::vector<std::string> warnings;         ///< about the kept files' storage
  /// Per kept file, its checked index where this rank read it (InputCheck::index), else "".
  std::vector<std::string> indexes;
  /// Per kept file, its /wafers values where this rank read them (InputCheck::fields), else "".
  std::vector<std::string> fields;
};

/// @brief The run's inputs after their checks (checks[i] for paths[i]).
/// @throws InputError with the first bad file's message (and how many others are bad) unless
/// skip_bad_files; InputError when every file is bad; std::runtime_error with the first failed
/// check's message.
InputVerdict judge_inputs(const std::vector<std::string>& paths,
                          const std::vector<InputCheck>& checks, bool skip_bad_files);

}  // namespace wafermill::job
