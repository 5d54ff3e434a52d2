// The result store's directory and what in it belongs to the store (docs/RELIABILITY.md
// "Files the user owns"). A store touches only files it can recognise as its own: the
// directory carries a marker file, and only names of the store's own patterns (entries of
// either pass and their temporaries) are ever removed. A directory that holds other files
// and no marker is refused before any work: the store deletes entries it no longer needs.
// Private to job/.
#pragma once

#include <string>

namespace wafermill::job {

/// The marker file's name inside a store directory.
inline constexpr const char* kStoreMarker = "WAFERMILL-STORE";

/// Checks, before any work, that `dir` may be this run's store: missing (created by the first
/// entry), carrying the marker, empty, or holding only store entries (stores made before the
/// marker existed). Creates nothing. Returns "" when usable, otherwise why not (an I/O error:
/// the run then goes on without a store, see store_unwritable()).
/// @throws UsageError when `dir` exists but is not a directory, or holds files of others.
std::string claim_store_directory(const std::string& dir);

/// Creates `dir` and its marker if missing (any rank, before its first entry; idempotent and
/// safe when several ranks race). @throws std::runtime_error naming the path on failure.
void ensure_store_directory(const std::string& dir);

/// True for the names the stores write: `pack-<16 hex>.wmb` (and `entry-<16 hex>.wmb` of
/// schema 3, `block-<20 digits>-<16 hex>.wmb` of stores before schema 3),
/// `maps-…/scores-…` `.wmp` entries, each optionally followed by `.tmp.<digits>` (`temporary`
/// then says so), and the marker.
bool is_store_file_name(const std::string& name, bool* temporary = nullptr);

/// Says once per process (stderr) that the store at `dir` cannot be written (`why`) and the
/// run goes on without it. Both passes call it when a write fails (a full disk, a lost
/// mount); the report says so too (store_failure()).
void store_unwritable(const std::string& dir, const std::string& why);

/// The first store failure of this process ("" when none).
const std::string& store_failure();

/// What a stopped or aborted run tells the user about its finished blocks, given the result
/// store directory ("" with --store none).
std::string resume_hint(const std::string& store_dir);

}  // namespace wafermill::job
