#include "temp_output_guard.hpp"

#include <atomic>
#include <csignal>
#include <cstring>
#include <unistd.h>

namespace wafermill::job {
namespace {

// Fixed buffers: the handler may only use async-signal-safe calls (unlink, write, signal,
// raise), so nothing is allocated or formatted with stdio there.
char g_temp_path[4096] = {0};
char g_store_dir[4096] = {0};
volatile std::sig_atomic_t g_kept_known = 0;
std::atomic<std::uint64_t> g_kept{0};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

void say(const char* s) {
  const std::size_t n = std::strlen(s);
  if (n > 0 && ::write(STDERR_FILENO, s, n) < 0) {
    // nothing left to tell anyone
  }
}

void say_number(std::uint64_t v) {
  char buf[24];
  char* p = buf + sizeof buf;
  *--p = '\0';
  do {
    *--p = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  say(p);
}

extern "C" void remove_temp_and_reraise(int sig) {
  unlink_guarded_temp_output();
  say(sig == SIGINT ? "wafermill: interrupted (SIGINT)" : "wafermill: terminated (SIGTERM)");
  say("; no output was written. ");
  if (g_store_dir[0] == '\0') {
    say("No result store (--store none): a rerun starts over.\n");
  } else {
    say("The result store ");
    say(g_store_dir);
    if (g_kept_known) {
      say(" keeps ");
      say_number(g_kept.load());
      say(" finished block(s)");
    } else {
      say(" keeps the finished blocks");
    }
    say(": rerun with --resume to reuse them.\n");
  }
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

}  // namespace

void set_termination_store(const std::string& dir) {
  std::strncpy(g_store_dir, dir.c_str(), sizeof g_store_dir - 1);
}

void set_blocks_kept(std::uint64_t n) {
  g_kept.store(n);
  g_kept_known = 1;
}

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
