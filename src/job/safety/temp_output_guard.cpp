#include "safety/temp_output_guard.hpp"

#include <atomic>
#include <csignal>
#include <cstring>
#include <unistd.h>

#include <vector>

namespace wafermill::job {
namespace {

// Fixed buffers: the handler may only use async-signal-safe calls (unlink, write, signal,
// raise), so nothing is allocated or formatted with stdio there.
char g_temp_path[4096] = {0};
char g_store_dir[4096] = {0};
constexpr int kLockFiles = 2;
char g_lock_path[kLockFiles][4096] = {};
int g_handler_holders = 0;  // main thread only
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
  // The locks die with the process; their files go too, so nothing of the run is left.
  for (auto& p : g_lock_path)
    if (p[0] != '\0') ::unlink(p);
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

void hold_termination_handler() {
  if (g_handler_holders++ > 0) return;
  std::signal(SIGTERM, remove_temp_and_reraise);
  std::signal(SIGINT, remove_temp_and_reraise);
}

void release_termination_handler() {
  if (--g_handler_holders > 0) return;
  std::signal(SIGTERM, SIG_DFL);
  std::signal(SIGINT, SIG_DFL);
}

void guard_lock_files(const std::vector<std::string>& paths) {
  for (int i = 0; i < kLockFiles; ++i) {
    const std::string p = i < static_cast<int>(paths.size()) ? paths[static_cast<std::size_t>(i)] : "";
    std::strncpy(g_lock_path[i], p.c_str(), sizeof g_lock_path[i] - 1);
  }
}

TempOutputGuard::TempOutputGuard(const std::string& path) {
  std::strncpy(g_temp_path, path.c_str(), sizeof g_temp_path - 1);
  hold_termination_handler();
}

TempOutputGuard::~TempOutputGuard() {
  release_termination_handler();
  g_temp_path[0] = '\0';
}

}  // namespace wafermill::job
