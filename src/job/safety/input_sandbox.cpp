#include "wafermill/job/input_sandbox.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <optional>
#include <poll.h>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "wafermill/error.hpp"
#include "wafermill/format/chunk_advice.hpp"
#include "wafermill/format/image_index.hpp"
#include "wafermill/format/map_index.hpp"
#include "wafermill/format/picture_reader.hpp"
#include "wafermill/format/trace_index.hpp"
#include "wafermill/metrics/metrics.hpp"

namespace wafermill::job {
namespace {

// The child's answer: one tag byte, then a message.
constexpr char kDone = 'D', kInputError = 'E', kOtherError = 'R';

void write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;  // the parent is gone: nothing to tell
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

[[noreturn]] void child(const std::function<std::string()>& read, int fd) {
  std::string out(1, kDone);
  try {
    out += read();
  } catch (const InputError& e) {
    out = std::string(1, kInputError) + e.what();
  } catch (const std::exception& e) {
    out = std::string(1, kOtherError) + e.what();
  }
  write_all(fd, out.data(), out.size());
  ::_exit(0);  // no atexit handlers: they belong to the parent (MPI, HDF5)
}

}  // namespace

std::string run_isolated_text(const std::string& path, double timeout_s,
                              const std::function<std::string()>& read) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::close(fds[0]);
    // The default action, not MPI's handler (which would report a crash of the rank itself).
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) std::signal(sig, SIG_DFL);
    child(read, fds[1]);
  }
  ::close(fds[1]);
  std::string answer;
  char buf[4096];
  const double deadline = timeout_s > 0 ? metrics::now_seconds() + timeout_s : 0.0;
  bool timed_out = false;
  while (true) {
    int wait_ms = -1;
    if (deadline > 0) {
      const double left = deadline - metrics::now_seconds();
      if (left <= 0) {
        timed_out = true;
        break;
      }
      wait_ms = static_cast<int>(left * 1000) + 1;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int ready = ::poll(&p, 1, wait_ms);
    if (ready <= 0) continue;  // EINTR or the deadline, checked above
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the child has finished or died
    answer.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out)
    throw InputError(path + ": reading the file's metadata made no progress for " +
                     std::to_string(static_cast<long>(timeout_s)) +
                     " s (--rank-timeout): the file is probably damaged; HDF5 1.10 can loop "
                     "forever on damaged metadata (docs/RELIABILITY.md)");
  if (WIFSIGNALED(status))
    throw InputError(path + ": HDF5 crashed (" + strsignal(WTERMSIG(status)) +
                     ") reading the file's metadata: the file is damaged; HDF5 1.10.8 has "
                     "unfixed bugs on damaged metadata (docs/RELIABILITY.md)");
  if (answer.empty()) throw std::runtime_error(path + ": the metadata check exited without an answer");
  if (answer[0] == kInputError) throw InputError(answer.substr(1));
  if (answer[0] == kOtherError) throw std::runtime_error(answer.substr(1));
  return answer.substr(1);
}

void run_isolated(const std::string& path, double timeout_s, const std::function<void()>& read) {
  (void)run_isolated_text(path, timeout_s, [&read] {
    read();
    return std::string();
  });
}

std::vector<std::string> check_input_isolated(const std::string& path, double timeout_s) {
  constexpr char kSeparator = '\x1e';  // a warning may span lines; this byte is in none
  const std::string text = run_isolated_text(path, timeout_s, [&path] {
    const format::FileContents contents = format::probe_contents(path);
    std::optional<std::uint64_t> n_maps;
    std::string warnings;
    if (contents.traces)
      for (const auto& w : format::chunking_warnings(format::read_trace_index(path)))
        warnings += w + kSeparator;
    if (contents.maps) n_maps = format::read_map_index(path).n_wafers;
    if (contents.images) format::read_image_index(path, n_maps);
    return warnings;
  });
  std::vector<std::string> out;
  for (std::size_t start = 0, end; start < text.size(); start = end + 1) {
    end = text.find(kSeparator, start);
    if (end == std::string::npos) end = text.size();
    if (end > start) out.push_back(text.substr(start, end - start));
  }
  return out;
}

}  // namespace wafermill::job
