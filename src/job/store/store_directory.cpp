#include "store/store_directory.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "wafermill/error.hpp"

namespace wafermill::job {
namespace {

namespace fs = std::filesystem;

std::string g_failure;

bool all_of(const std::string& s, std::size_t from, std::size_t n, int (*pred)(int)) {
  if (s.size() < from + n) return false;
  for (std::size_t i = from; i < from + n; ++i)
    if (!pred(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

int is_lower_hex(int c) { return std::isdigit(c) || (c >= 'a' && c <= 'f'); }

// "<prefix><20 digits>-<16 hex><suffix>": the stores' entry names (entry_path, path()).
bool entry_name(const std::string& s, const std::string& prefix, const std::string& suffix) {
  const std::size_t n = prefix.size() + 20 + 1 + 16 + suffix.size();
  return s.size() == n && s.compare(0, prefix.size(), prefix) == 0 &&
         all_of(s, prefix.size(), 20, std::isdigit) && s[prefix.size() + 20] == '-' &&
         all_of(s, prefix.size() + 21, 16, is_lower_hex) &&
         s.compare(n - suffix.size(), suffix.size(), suffix) == 0;
}

// "entry-<16 hex>.wmb": a trace entry found by its key alone (result_store.cpp).
bool key_entry_name(const std::string& s) {
  return s.size() == 6 + 16 + 4 && s.compare(0, 6, "entry-") == 0 &&
         all_of(s, 6, 16, is_lower_hex) && s.compare(22, 4, ".wmb") == 0;
}

// "pack-<16 hex>.wmb": a pack of trace entries named by a hash of its keys (result_store.cpp).
bool pack_file_name(const std::string& s) {
  return s.size() == 5 + 16 + 4 && s.compare(0, 5, "pack-") == 0 &&
         all_of(s, 5, 16, is_lower_hex) && s.compare(21, 4, ".wmb") == 0;
}

}  // namespace

bool is_store_file_name(const std::string& name, bool* temporary) {
  std::string base = name;
  bool temp = false;
  const std::size_t t = name.rfind(".tmp.");
  if (t != std::string::npos && t + 5 < name.size() &&
      all_of(name, t + 5, name.size() - t - 5, std::isdigit)) {
    base = name.substr(0, t);
    temp = true;
  }
  if (temporary != nullptr) *temporary = temp;
  if (!temp && name == kStoreMarker) return true;
  if (base == "files.wmf") return true;  // file_records.hpp kFileRecordsName
  return pack_file_name(base) || key_entry_name(base) || entry_name(base, "block-", ".wmb") ||
         entry_name(base, "maps-", ".wmp") || entry_name(base, "scores-", ".wmp");
}

std::string claim_store_directory(const std::string& dir) {
  std::error_code ec;
  const fs::file_status st = fs::symlink_status(dir, ec);
  if (!fs::exists(st)) return "";  // created, with its parents, by the first entry
  if (!fs::is_directory(fs::status(dir, ec)))
    throw UsageError("--store " + dir + ": exists and is not a directory");
  if (fs::exists(dir + "/" + kStoreMarker, ec)) return "";
  std::vector<std::string> foreign;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!is_store_file_name(name)) foreign.push_back(name);
  }
  if (ec) return dir + ": cannot list: " + ec.message();
  if (!foreign.empty())
    throw UsageError("--store " + dir + ": the directory holds " + std::to_string(foreign.size()) +
                     " file(s) that are not a wafermill result store's (e.g. '" + foreign.front() +
                     "'); a store removes the entries it no longer needs, so it needs a directory "
                     "of its own: name a new or empty directory (or --store none)");
  return "";
}

void ensure_store_directory(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error("cannot create " + dir + ": " + ec.message());
  const std::string marker = dir + "/" + kStoreMarker;
  const int fd = ::open(marker.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (errno == EEXIST) return;  // another rank, or an earlier run
    throw std::runtime_error("cannot create " + marker + ": " + std::strerror(errno));
  }
  static const char text[] =
      "wafermill result store 1: the files named pack-*, entry-*, block-*, maps-*, scores-* here "
      "are "
      "wafermill's\n";
  const bool ok = ::write(fd, text, sizeof text - 1) == static_cast<ssize_t>(sizeof text - 1);
  const int err = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(marker.c_str());
    throw std::runtime_error("cannot write " + marker + ": " + std::strerror(err));
  }
}

void store_unwritable(const std::string& dir, const std::string& why) {
  if (!g_failure.empty()) return;
  g_failure = why;
  std::fprintf(stderr,
               "wafermill: warning: the result store %s cannot be written (%s); the run goes on "
               "without it: its results are complete, but blocks finished from now on are not "
               "kept for --resume\n",
               dir.c_str(), why.c_str());
}

const std::string& store_failure() { return g_failure; }

std::string resume_hint(const std::string& store_dir) {
  return store_dir.empty() ? std::string("No result store (--store none): a rerun starts over.")
                           : "Finished blocks are kept in " + store_dir + ": rerun with --resume.";
}

}  // namespace wafermill::job
