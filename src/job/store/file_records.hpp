// What the result store remembers of each input file (docs/RELIABILITY.md "Only new work"): the
// file's stamp when a complete run read it — device, inode, size, modification and status-change
// times — and the store keys of its blocks under that run's configuration digest. A later
// --resume over an input file whose stamp and digest are unchanged takes its blocks' keys from
// here instead of reading the file again to hash it: a night over the last 30 days reads only the
// files that are new or changed. The status-change time (ctime) cannot be set back by a user, so
// a file rewritten in place, even with its size and mtime restored, is read and hashed again;
// `--rehash` ignores the records altogether. Private to job/.
//
// One text file, `files.wmf` in the store directory, written whole under a temporary name and
// renamed. A missing or damaged file is no records (every input is hashed), never an error.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace wafermill::job {

/// The records file's name inside a store directory.
inline constexpr const char* kFileRecordsName = "files.wmf";

/// What identifies one version of a file on its file system.
struct FileStamp {
  std::uint64_t device = 0, inode = 0, size = 0;
  std::int64_t mtime_ns = 0, ctime_ns = 0;
  friend bool operator==(const FileStamp&, const FileStamp&) = default;
};

/// The stamp of `path` now, or nothing when it cannot be read.
std::optional<FileStamp> file_stamp(const std::string& path);

/// The name a file is recorded under: its absolute, normalised path (runs from another working
/// directory find the same record).
std::string record_name(const std::string& path);

struct FileRecord {
  std::uint64_t digest = 0;  ///< the configuration digest the keys were made under
  FileStamp stamp;
  std::vector<std::uint64_t> keys;  ///< the file's blocks' keys, in order
};

class FileRecords {
 public:
  /// The records of the store in `dir` (none when the file is missing or damaged).
  static FileRecords read(const std::string& dir);
  /// The keys of `path`'s blocks when a record has this digest, this stamp and `n_blocks` keys.
  const std::vector<std::uint64_t>* keys(const std::string& path, std::uint64_t digest,
                                         const FileStamp& stamp, std::size_t n_blocks) const;
  /// Records (or replaces) `path`'s record.
  void set(const std::string& path, FileRecord record);
  std::size_t size() const { return by_name_.size(); }
  /// Writes every record to `dir` (temporary name, fsync, rename).
  /// @throws std::runtime_error naming the file when the write fails.
  void write(const std::string& dir) const;

 private:
  std::map<std::string, FileRecord> by_name_;
};

}  // namespace wafermill::job
