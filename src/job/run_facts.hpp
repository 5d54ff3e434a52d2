// Small facts both passes of a run state the same way: the start time of the report and what
// to tell the user about resuming after a stop. Private to job/.
#pragma once

#include <string>

namespace wafermill::job {

/// The current UTC time as ISO 8601, e.g. "2026-11-21T22:40:00Z".
std::string utc_now();

/// This machine's host name (for reports, messages and lock files).
std::string host_name();

/// What a stopped or aborted run tells the user about its finished blocks, given the result
/// store directory ("" with --store none).
std::string resume_hint(const std::string& store_dir);

}  // namespace wafermill::job
