#include "store/file_records.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace wafermill::job {
namespace {

constexpr const char* kHeader = "wafermill file records 1";

std::int64_t ns(const struct timespec& t) {
  return static_cast<std::int64_t>(t.tv_sec) * 1000000000LL + t.tv_nsec;
}

}  // namespace

std::optional<FileStamp> file_stamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileStamp{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
                   static_cast<std::uint64_t>(st.st_size), ns(st.st_mtim), ns(st.st_ctim)};
}

std::string record_name(const std::string& path) {
  std::error_code ec;
  const auto abs = std::filesystem::absolute(path, ec);
  return ec ? path : abs.lexically_normal().string();
}

FileRecords FileRecords::read(const std::string& dir) {
  FileRecords out;
  std::ifstream in(std::filesystem::path(dir) / kFileRecordsName);
  std::string line;
  if (!in || !std::getline(in, line) || line != kHeader) return out;
  // One line a file: digest device inode size mtime ctime n key... then a tab and the path.
  while (std::getline(in, line)) {
    const auto tab = line.find('\t');
    if (tab == std::string::npos) return FileRecords{};
    std::istringstream fields(line.substr(0, tab));
    FileRecord r;
    std::size_t n = 0;
    fields >> std::hex >> r.digest >> std::dec >> r.stamp.device >> r.stamp.inode >> r.stamp.size >>
        r.stamp.mtime_ns >> r.stamp.ctime_ns >> n;
    if (!fields || n > line.size()) return FileRecords{};  // damaged: no records at all
    r.keys.resize(n);
    for (auto& k : r.keys) fields >> std::hex >> k;
    if (!fields) return FileRecords{};
    out.by_name_[line.substr(tab + 1)] = std::move(r);
  }
  return out;
}

const std::vector<std::uint64_t>* FileRecords::keys(const std::string& path, std::uint64_t digest,
                                                    const FileStamp& stamp,
                                                    std::size_t n_blocks) const {
  const auto it = by_name_.find(record_name(path));
  if (it == by_name_.end()) return nullptr;
  const FileRecord& r = it->second;
  return r.digest == digest && r.stamp == stamp && r.keys.size() == n_blocks ? &r.keys : nullptr;
}

void FileRecords::set(const std::string& path, FileRecord record) {
  by_name_[record_name(path)] = std::move(record);
}

void FileRecords::write(const std::string& dir) const {
  const std::string path = (std::filesystem::path(dir) / kFileRecordsName).string();
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  std::ostringstream text;
  text << kHeader << '\n';
  for (const auto& [name, r] : by_name_) {
    if (name.find('\n') != std::string::npos) continue;  // not representable: hashed each time
    text << std::hex << r.digest << std::dec << ' ' << r.stamp.device << ' ' << r.stamp.inode << ' '
         << r.stamp.size << ' ' << r.stamp.mtime_ns << ' ' << r.stamp.ctime_ns << ' '
         << r.keys.size() << std::hex;
    for (auto k : r.keys) text << ' ' << k;
    text << std::dec << '\t' << name << '\n';
  }
  const std::string bytes = text.str();
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(tmp + ": cannot create: " + std::strerror(errno));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      throw std::runtime_error(tmp + ": write failed: " + why);
    }
    done += static_cast<std::size_t>(w);
  }
  const bool synced = ::fsync(fd) == 0;
  const bool closed = ::close(fd) == 0;
  if (!synced || !closed || std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    throw std::runtime_error(path + ": cannot write: " + why);
  }
}

}  // namespace wafermill::job
