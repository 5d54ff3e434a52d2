#include "run_facts.hpp"

#include <ctime>
#include <unistd.h>

namespace wafermill::job {

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

std::string resume_hint(const std::string& store_dir) {
  return store_dir.empty() ? std::string("No result store (--store none): a rerun starts over.")
                           : "Finished blocks are kept in " + store_dir + ": rerun with --resume.";
}

}  // namespace wafermill::job
