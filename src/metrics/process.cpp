/// @file process.cpp
/// @brief The monotonic clock and this process's memory figures from /proc/self/status.
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "wafermill/metrics/metrics.hpp"

namespace wafermill::metrics {

double now_seconds() {
  // steady_clock: wall time that never jumps backwards with NTP or a changed date.
  using seconds = std::chrono::duration<double>;
  return std::chrono::duration_cast<seconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

namespace {

// The value of a "Key:   1234 kB" line of /proc/self/status, in bytes (proc(5)); 0 when the
// file or the key is missing (not Linux) or the line does not parse.
std::uint64_t status_kib_field(std::string_view key) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.size() <= key.size() || line.compare(0, key.size(), key) != 0 ||
        line[key.size()] != ':')
      continue;
    std::istringstream fields(line.substr(key.size() + 1));
    std::uint64_t value = 0;
    std::string unit;
    if (!(fields >> value >> unit) || unit != "kB") return 0;
    return value * 1024;
  }
  return 0;
}

}  // namespace

std::uint64_t peak_rss_bytes() { return status_kib_field("VmHWM"); }

std::uint64_t current_rss_bytes() { return status_kib_field("VmRSS"); }

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string host_name() {
  char buf[256] = {0};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

}  // namespace wafermill::metrics
