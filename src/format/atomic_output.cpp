/// @file atomic_output.cpp
/// @brief Temporary file + fsync + rename + directory fsync (atomic_output.hpp).
#include "wafermill/format/atomic_output.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "wafermill/error.hpp"
#include "wafermill/format/file_guard.hpp"

namespace wafermill::format {
namespace {

std::string errno_text() { return std::strerror(errno); }

/// fsync of a path opened read-only: enough on Linux to flush its data and metadata.
void fsync_path(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) throw InputError(path + ": cannot open for fsync: " + errno_text());
  const int rc = ::fsync(fd);
  const std::string err = errno_text();
  ::close(fd);
  if (rc != 0) throw InputError(path + ": fsync failed: " + err);
}

}  // namespace

AtomicOutput::AtomicOutput(std::string final_path, bool force, const std::vector<std::string>& inputs)
    : final_path_(std::move(final_path)),
      temp_path_(final_path_ + ".tmp." + std::to_string(::getpid())) {
  for (const auto& in : inputs)
    if (same_file(in, final_path_))
      throw UsageError("the output " + final_path_ + " and the input " + in +
                       " are the same file; the output would replace it");
  std::error_code ec;
  if (std::filesystem::is_directory(final_path_, ec))
    throw UsageError(final_path_ + ": is a directory; name a file for the output");
  if (std::filesystem::exists(final_path_, ec) && !force) {
    throw UsageError(final_path_ + " exists; pass --force to overwrite");
  }
  // A temporary of this pid can only be left over from an earlier crashed process.
  std::filesystem::remove(temp_path_, ec);
}

AtomicOutput::~AtomicOutput() {
  if (!committed_) {
    std::error_code ec;
    std::filesystem::remove(temp_path_, ec);
  }
}

void AtomicOutput::commit() {
  try {
    fsync_path(temp_path_, O_RDONLY);
    if (std::rename(temp_path_.c_str(), final_path_.c_str()) != 0) {
      throw InputError(final_path_ + ": cannot rename " + temp_path_ +
                       " into place: " + errno_text());
    }
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove(temp_path_, ec);
    throw;
  }
  committed_ = true;
  // The rename is durable only once the directory entry is on disk.
  std::filesystem::path dir = std::filesystem::path(final_path_).parent_path();
  if (dir.empty()) dir = ".";
  fsync_path(dir.string(), O_RDONLY | O_DIRECTORY);
}

}  // namespace wafermill::format
