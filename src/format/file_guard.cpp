/// @file file_guard.cpp
/// @brief Path identity and the output lock (file_guard.hpp).
#include "wafermill/format/file_guard.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "wafermill/error.hpp"

namespace wafermill::format {
namespace {

namespace fs = std::filesystem;

fs::path resolved(const std::string& p) {
  std::error_code ec;
  fs::path abs = fs::absolute(p, ec);
  if (ec) return fs::path(p).lexically_normal();
  fs::path r = fs::weakly_canonical(abs, ec);
  return ec ? abs.lexically_normal() : r;
}

// The holder's line ("host H pid P since T"), as far as it was written.
std::string read_holder(int fd) {
  char buf[512] = {0};
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  std::string s = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\0')) s.pop_back();
  return s.empty() ? std::string("a process that has not yet written its name") : s;
}

}  // namespace

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa {}, sb {};
  if (::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0)
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  return resolved(a) == resolved(b);
}

bool inside_directory(const std::string& path, const std::string& dir) {
  const fs::path p = resolved(path), d = resolved(dir);
  auto pi = p.begin();
  for (auto di = d.begin(); di != d.end(); ++di, ++pi) {
    if (di->empty()) continue;  // a trailing separator
    if (pi == p.end() || *pi != *di) return false;
  }
  return pi != p.end();
}

FileLock::FileLock(const std::string& target, const std::string& what, const std::string& holder)
    : path_(target + ".lock") {
  // Lock, then check that the name still leads to the locked file: a holder that finished
  // unlinks it, and a lock taken on the unlinked file would exclude nobody.
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
      throw UsageError(path_ + ": cannot create the lock file of the " + what + " " + target + ": " +
                       std::strerror(errno));
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (::fcntl(fd, F_SETLK, &fl) != 0) {
      const int err = errno;
      if (err == EACCES || err == EAGAIN) {
        const std::string other = read_holder(fd);
        ::close(fd);
        throw UsageError("the " + what + " " + target + " is in use by another wafermill job (" +
                         other + "; lock " + path_ + "). Wait for that job to end, or name another " +
                         (what == "output" ? std::string("--output") : std::string("--store")) +
                         ". A job that died releases its lock by itself.");
      }
      ::close(fd);
      std::fprintf(stderr,
                   "wafermill: warning: %s: this file system does not support POSIX locks (%s): "
                   "two jobs writing the %s %s at once are not detected\n",
                   path_.c_str(), std::strerror(err), what.c_str(), target.c_str());
      return;
    }
    struct stat by_fd {}, by_name {};
    if (::fstat(fd, &by_fd) != 0 || ::stat(path_.c_str(), &by_name) != 0 ||
        by_fd.st_dev != by_name.st_dev || by_fd.st_ino != by_name.st_ino) {
      ::close(fd);  // the holder before us removed it: take the new one
      continue;
    }
    const std::string line = holder + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, line.data(), line.size(), 0) < 0) {
      // The lock holds without its text; a second job's message then says less.
    }
    fd_ = fd;
    return;
  }
  throw UsageError(path_ + ": the lock file keeps being replaced; is another job starting and stopping?");
}

FileLock::~FileLock() {
  if (fd_ < 0) return;
  ::unlink(path_.c_str());  // while still locked: nobody can hold the name we remove
  ::close(fd_);
}

}  // namespace wafermill::format
