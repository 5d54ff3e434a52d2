/// @file file_guard.hpp
/// @brief What keeps a run from destroying files the user owns (docs/RELIABILITY.md
/// "Files the user owns"): path identity (two spellings of one file are one file) and an
/// exclusive lock on an output for the duration of a run.
#pragma once

#include <string>

namespace wafermill::format {

/// @brief True when `a` and `b` name the same file: the same device and inode when both
/// exist; otherwise the same absolute path once `.`/`..` and the symbolic links of its
/// existing part are resolved (so `x.h5`, `./x.h5`, `/abs/x.h5` and a link to it agree).
bool same_file(const std::string& a, const std::string& b);

/// @brief True when `path` lies inside directory `dir` (after the same resolution).
bool inside_directory(const std::string& path, const std::string& dir);

/// @brief An exclusive lock on `<target>.lock` (fcntl, so the kernel releases it when the
/// holder dies, on any node of a file system with POSIX locks: no stale lock to clear by
/// hand). The file holds the holder's host, pid and start time for the message a second
/// job gets. Removed when released.
class FileLock {
 public:
  /// @brief Takes the lock for `what` ("output", "result store") of `target`; `holder`
  /// describes this process for the message a second job gets (e.g. "host H pid P since T").
  /// @throws UsageError naming the holder (host, pid, since) and how to proceed when another
  /// process holds it. On a file system without POSIX locks, warns once on stderr and holds
  /// nothing (held() is false).
  FileLock(const std::string& target, const std::string& what, const std::string& holder);
  /// @brief Unlinks the lock file and releases the lock.
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  /// @brief The lock file's path.
  const std::string& path() const { return path_; }
  /// @brief False when the file system refused POSIX locks (see the constructor).
  bool held() const { return fd_ >= 0; }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace wafermill::format
