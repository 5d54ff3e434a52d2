#include "drive/stop_request.hpp"

#include <csignal>
#include <cstdio>

#include "wafermill/metrics/metrics.hpp"

namespace wafermill::job {
namespace {

volatile std::sig_atomic_t g_usr1 = 0;

extern "C" void note_usr1(int) { g_usr1 = 1; }

double now_s() { return metrics::now_seconds(); }

}  // namespace

void StopRequest::install_signal_handler() {
  struct sigaction sa {};
  sa.sa_handler = note_usr1;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // system calls (reads, MPI's polls) carry on
  sigaction(SIGUSR1, &sa, nullptr);
}

StopRequest::StopRequest(double time_limit_s)
    : deadline_(time_limit_s > 0 ? now_s() + time_limit_s : 0.0), limit_(time_limit_s) {}

bool StopRequest::requested() const {
  if (!latched_ && (g_usr1 != 0 || (deadline_ > 0 && now_s() >= deadline_))) latched_ = true;
  return latched_;
}

std::string StopRequest::reason() const {
  if (g_usr1 != 0) return "SIGUSR1 (the time-limit warning)";
  char buf[64];
  std::snprintf(buf, sizeof buf, "the --time-limit of %g s", limit_);
  return buf;
}

}  // namespace wafermill::job
