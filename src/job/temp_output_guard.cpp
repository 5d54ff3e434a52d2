#include "temp_output_guard.hpp"

#include <csignal>
#include <cstring>
#include <unistd.h>

namespace wafermill::job {
namespace {

// A fixed buffer: the handler may only use async-signal-safe calls (unlink, signal, raise).
char g_temp_path[4096] = {0};

extern "C" void remove_temp_and_reraise(int sig) {
  unlink_guarded_temp_output();
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

}  // namespace

void unlink_guarded_temp_output() {
  if (g_temp_path[0] != '\0') ::unlink(g_temp_path);
}

TempOutputGuard::TempOutputGuard(const std::string& path) {
  std::strncpy(g_temp_path, path.c_str(), sizeof g_temp_path - 1);
  std::signal(SIGTERM, remove_temp_and_reraise);
  std::signal(SIGINT, remove_temp_and_reraise);
}

TempOutputGuard::~TempOutputGuard() {
  std::signal(SIGTERM, SIG_DFL);
  std::signal(SIGINT, SIG_DFL);
  g_temp_path[0] = '\0';
}

}  // namespace wafermill::job
