#include "wafermill/job/input_sandbox.hpp"

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <vector>

#include "wafermill/error.hpp"
#include "wafermill/format/chunk_advice.hpp"
#include "wafermill/format/h5.hpp"
#include "wafermill/format/image_index.hpp"
#include "wafermill/format/map_index.hpp"
#include "wafermill/format/picture_reader.hpp"
#include "wafermill/format/trace_index.hpp"
#include "wafermill/metrics/metrics.hpp"

namespace wafermill::job {
namespace {

// The child's answer: one tag byte, then a message. Checks of many files send one framed
// record per file: the tag, the payload's length (8 bytes, host order), the payload.
constexpr char kDone = 'D', kInputError = 'E', kOtherError = 'R';
constexpr char kSeparator =
    '\x1e';  // between warnings: a warning may span lines; this byte is in none
// After the warnings: the trace index the check read, serialized (InputCheck::index).
constexpr char kIndexMark = '\x1f';
// A file's /wafers values larger than this stay in the file (rank 0 reads them at the end).
constexpr std::size_t kMaxCarriedFields = 16U << 20;

void write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;  // the parent is gone: nothing to tell
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

// What a child said and how it ended.
struct ChildRun {
  std::string answer;
  bool timed_out = false;
  int signal = 0;  ///< the signal that killed it, 0 when it exited
};

// Runs `body` (given the pipe's write end) in a forked child that ends with _exit(0), and
// collects what it writes. The deadline counts timeout_s (> 0) from the start and again from
// each piece of the answer: a child that reports file by file may take long in all, but not on
// one file.
ChildRun run_child(double timeout_s, const std::function<void(int)>& body) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    throw std::runtime_error(std::string("fork: ") + std::strerror(err));
  }
  if (pid == 0) {
    ::close(fds[0]);
    // The default action, not MPI's handler (which would report a crash of the rank itself).
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) std::signal(sig, SIG_DFL);
    body(fds[1]);
    ::_exit(0);  // no atexit handlers: they belong to the parent (MPI, HDF5)
  }
  ::close(fds[1]);
  ChildRun run;
  char buf[4096];
  double deadline = timeout_s > 0 ? metrics::now_seconds() + timeout_s : 0.0;
  while (true) {
    int wait_ms = -1;
    if (deadline > 0) {
      const double left = deadline - metrics::now_seconds();
      if (left <= 0) {
        run.timed_out = true;
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
    run.answer.append(buf, static_cast<std::size_t>(n));
    if (timeout_s > 0) deadline = metrics::now_seconds() + timeout_s;
  }
  ::close(fds[0]);
  if (run.timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!run.timed_out && WIFSIGNALED(status)) run.signal = WTERMSIG(status);
  return run;
}

std::string hang_message(const std::string& path, double timeout_s) {
  return path + ": reading the file's metadata made no progress for " +
         std::to_string(static_cast<long>(timeout_s)) +
         " s (--rank-timeout): the file is probably damaged; HDF5 1.10 can loop "
         "forever on damaged metadata (docs/RELIABILITY.md)";
}

std::string crash_message(const std::string& path, int sig) {
  return path + ": HDF5 crashed (" + strsignal(sig) +
         ") reading the file's metadata: the file is damaged; HDF5 1.10.8 has "
         "unfixed bugs on damaged metadata (docs/RELIABILITY.md)";
}

// check_input_isolated's reads, in this process: the warnings, separated by kSeparator.
std::string read_input_metadata(const std::string& path) {
  format::h5::File file;  // opened once for the probe and the trace index
  const format::FileContents contents = format::probe_contents(path, &file);
  std::optional<std::uint64_t> n_maps;
  std::string warnings;
  std::vector<char> index;
  std::string fields;
  if (contents.traces) {
    // With the /wafers fields' values: rank 0 then copies them without opening the file again.
    const format::TraceIndex t = format::read_trace_index(path, file, true);
    for (const auto& w : format::chunking_warnings(t)) warnings += w + kSeparator;
    index = t.serialize();
    if (!t.field_values.empty()) fields = format::WaferFieldValues::encode(t.field_values);
    if (fields.size() > kMaxCarriedFields) fields.clear();
  }
  if (contents.maps) n_maps = format::read_map_index(path).n_wafers;
  if (contents.images) format::read_image_index(path, n_maps);
  if (!index.empty()) {  // the mark, the index's length, the index, the fields' values
    warnings += kIndexMark;
    const std::uint64_t n = index.size();
    warnings.append(reinterpret_cast<const char*>(&n), sizeof n);
    warnings.append(index.data(), index.size());
    warnings += fields;
  }
  return warnings;
}

std::vector<std::string> split_warnings(const std::string& answer) {
  const std::string text = answer.substr(0, answer.find(kIndexMark));
  std::vector<std::string> out;
  for (std::size_t start = 0, end; start < text.size(); start = end + 1) {
    end = text.find(kSeparator, start);
    if (end == std::string::npos) end = text.size();
    if (end > start) out.push_back(text.substr(start, end - start));
  }
  return out;
}

InputCheck bad(std::string message) {
  InputCheck c;
  c.outcome = InputCheck::Outcome::bad;
  c.message = std::move(message);
  return c;
}

void put_record(std::string& out, char tag, const std::string& payload) {
  const std::uint64_t n = payload.size();
  out += tag;
  out.append(reinterpret_cast<const char*>(&n), sizeof n);
  out += payload;
}

// The complete records of a child's answer, as verdicts.
std::vector<InputCheck> parse_records(const std::string& answer) {
  std::vector<InputCheck> out;
  std::size_t at = 0;
  while (answer.size() - at >= 1 + sizeof(std::uint64_t)) {
    std::uint64_t n = 0;
    std::memcpy(&n, answer.data() + at + 1, sizeof n);
    if (answer.size() - at - 1 - sizeof n < n) break;  // cut off by the child's death
    const char tag = answer[at];
    std::string payload = answer.substr(at + 1 + sizeof n, n);
    at += 1 + sizeof n + n;
    InputCheck c;
    if (tag == kDone) {
      c.warnings = split_warnings(payload);
      if (const auto mark = payload.find(kIndexMark);
          mark != std::string::npos && payload.size() - mark - 1 >= sizeof(std::uint64_t)) {
        std::uint64_t len = 0;
        std::memcpy(&len, payload.data() + mark + 1, sizeof len);
        const std::size_t from = mark + 1 + sizeof len;
        if (len <= payload.size() - from) {
          c.index = payload.substr(from, len);
          c.fields = payload.substr(from + len);
        }
      }
    } else
      c = bad(std::move(payload));
    if (tag == kOtherError) c.outcome = InputCheck::Outcome::failed;
    out.push_back(std::move(c));
  }
  return out;
}

// One child over paths[first..]: the verdicts it finished, and, when it died on the next file,
// that file's verdict as if it were the culprit.
struct BatchResult {
  std::vector<InputCheck> done;
  std::optional<InputCheck> died_on_next;
  bool hung = false;  ///< it made no progress on that file (rather than crashed)
  int signal = 0;     ///< the signal that ended it
};

BatchResult check_batch(const std::vector<std::string>& paths, std::size_t first, std::size_t last,
                        double timeout_s, const FileCheck& read) {
  const ChildRun run = run_child(timeout_s, [&](int fd) {
    for (std::size_t i = first; i < last; ++i) {
      std::string record;
      try {
        put_record(record, kDone, read(paths[i]));
      } catch (const InputError& e) {
        record.clear();
        put_record(record, kInputError, e.what());
      } catch (const std::exception& e) {
        record.clear();
        put_record(record, kOtherError, e.what());
      }
      write_all(fd, record.data(), record.size());
    }
  });
  BatchResult r;
  r.done = parse_records(run.answer);
  const std::size_t next = first + r.done.size();
  if (next < last) {
    r.hung = run.timed_out;
    r.signal = run.signal;
    if (run.timed_out)
      r.died_on_next = bad(hang_message(paths[next], timeout_s));
    else if (run.signal != 0)
      r.died_on_next = bad(crash_message(paths[next], run.signal));
    else
      throw std::runtime_error(paths[next] + ": the metadata check exited without an answer");
  }
  return r;
}

}  // namespace

std::string run_isolated_text(const std::string& path, double timeout_s,
                              const std::function<std::string()>& read) {
  const ChildRun run = run_child(timeout_s, [&read](int fd) {
    std::string out(1, kDone);
    try {
      out += read();
    } catch (const InputError& e) {
      out = std::string(1, kInputError) + e.what();
    } catch (const std::exception& e) {
      out = std::string(1, kOtherError) + e.what();
    }
    write_all(fd, out.data(), out.size());
  });
  if (run.timed_out) throw InputError(hang_message(path, timeout_s));
  if (run.signal != 0) throw InputError(crash_message(path, run.signal));
  const std::string& answer = run.answer;
  if (answer.empty())
    throw std::runtime_error(path + ": the metadata check exited without an answer");
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
  return split_warnings(
      run_isolated_text(path, timeout_s, [&path] { return read_input_metadata(path); }));
}

std::vector<InputCheck> check_inputs_isolated(const std::vector<std::string>& paths,
                                              double timeout_s) {
  return check_files_isolated(paths, timeout_s, read_input_metadata);
}

std::vector<InputCheck> check_files_isolated(const std::vector<std::string>& paths,
                                             double timeout_s, const FileCheck& read) {
  std::vector<InputCheck> out(paths.size());
  std::size_t pos = 0;
  while (pos < paths.size()) {
    BatchResult batch = check_batch(paths, pos, paths.size(), timeout_s, read);
    const std::size_t start = pos;
    for (auto& c : batch.done) out[pos++] = std::move(c);
    if (!batch.died_on_next) continue;  // pos == paths.size(): every file answered
    // It died on its first file: that file alone did it. A child that made no progress for
    // timeout_s on one file has looped on that file's metadata: checking it alone again would
    // cost another timeout for the same verdict.
    if (pos == start || batch.hung) {
      out[pos++] = std::move(*batch.died_on_next);
      continue;
    }
    // It crashed on paths[pos] after reading others: check that file alone first.
    BatchResult alone = check_batch(paths, pos, pos + 1, timeout_s, read);
    if (alone.died_on_next) {
      out[pos++] = std::move(*alone.died_on_next);
      continue;
    }
    // Alone it reads without a crash: a file read before it left HDF5 damaged (a heap
    // overrun crashes later). The job's own index reads are alike (each rank reads its share of
    // the files, k mod P, in one process) and could crash the same way: this file is the one
    // the job would not get past; the message names the file read just before it.
    out[pos] = bad(paths[pos] + ": HDF5 crashed (" + strsignal(batch.signal) +
                   ") reading the file's metadata after " + std::to_string(pos - start) +
                   " other files' in the same process (the last " + paths[pos - 1] +
                   "), though it reads alone: this file or one read before it is damaged; "
                   "HDF5 1.10.8 has unfixed bugs on damaged metadata (docs/RELIABILITY.md)");
    ++pos;
  }
  return out;
}

namespace {

// Verdicts as bytes for the gather: per file its index, outcome, message and warnings.
void put_u64(std::string& out, std::uint64_t v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}
void put_text(std::string& out, const std::string& s) {
  put_u64(out, s.size());
  out += s;
}
std::uint64_t get_u64(const std::string& in, std::size_t& at) {
  std::uint64_t v = 0;
  std::memcpy(&v, in.data() + at, sizeof v);
  at += sizeof v;
  return v;
}
std::string get_text(const std::string& in, std::size_t& at) {
  const std::uint64_t n = get_u64(in, at);
  std::string s = in.substr(at, n);
  at += n;
  return s;
}

void share_paths(std::vector<std::string>& paths, MPI_Comm comm, int rank) {
  std::string bytes;
  if (rank == 0) {
    put_u64(bytes, paths.size());
    for (const auto& p : paths) put_text(bytes, p);
  }
  std::uint64_t n = bytes.size();
  MPI_Bcast(&n, 1, MPI_UINT64_T, 0, comm);
  bytes.resize(n);
  constexpr std::uint64_t kPiece = 1ULL << 30;
  for (std::uint64_t off = 0; off < n; off += kPiece)
    MPI_Bcast(bytes.data() + off, static_cast<int>(std::min(kPiece, n - off)), MPI_CHAR, 0, comm);
  if (rank == 0) return;
  std::size_t at = 0;
  paths.assign(get_u64(bytes, at), std::string());
  for (auto& p : paths) p = get_text(bytes, at);
}

}  // namespace

std::vector<InputCheck> check_inputs_spread(std::vector<std::string>& paths, double timeout_s,
                                            MPI_Comm comm) {
  if (comm == MPI_COMM_NULL) return check_inputs_isolated(paths, timeout_s);
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  // The ranks parsed the same command line, but a directory or glob may have changed between
  // their expansions: rank 0's list is the run's.
  share_paths(paths, comm, rank);
  std::vector<std::size_t> mine;
  std::vector<std::string> my_paths;
  for (std::size_t i = static_cast<std::size_t>(rank); i < paths.size();
       i += static_cast<std::size_t>(size)) {
    mine.push_back(i);
    my_paths.push_back(paths[i]);
  }
  // A check that cannot start (fork failed) is this rank's failure, told to every rank as one
  // failed verdict, rather than an exception that would leave the others in the gather.
  std::vector<InputCheck> checks;
  std::string failure;
  try {
    checks = check_inputs_isolated(my_paths, timeout_s);
  } catch (const std::exception& e) {
    failure = std::string("rank ") + std::to_string(rank) + ": checking the inputs: " + e.what();
  }
  std::string bytes;
  put_text(bytes, failure);
  put_u64(bytes, checks.size());
  for (std::size_t k = 0; k < checks.size(); ++k) {
    put_u64(bytes, mine[k]);
    put_u64(bytes, static_cast<std::uint64_t>(checks[k].outcome));
    put_text(bytes, checks[k].message);
    put_u64(bytes, checks[k].warnings.size());
    for (const auto& w : checks[k].warnings) put_text(bytes, w);
  }
  // Verdicts are small (a message per bad file, warnings): far below 2 GiB per rank.
  const int my_count = static_cast<int>(bytes.size());
  std::vector<int> counts(static_cast<std::size_t>(size)), displs(static_cast<std::size_t>(size));
  MPI_Allgather(&my_count, 1, MPI_INT, counts.data(), 1, MPI_INT, comm);
  std::size_t total = 0;
  for (int r = 0; r < size; ++r) {
    displs[static_cast<std::size_t>(r)] = static_cast<int>(total);
    total += static_cast<std::size_t>(counts[static_cast<std::size_t>(r)]);
  }
  std::string all(total, '\0');
  MPI_Allgatherv(bytes.data(), my_count, MPI_CHAR, all.data(), counts.data(), displs.data(),
                 MPI_CHAR, comm);
  std::vector<InputCheck> out(paths.size());
  // The indexes the checks read stay on the rank that read them (the job's index read takes
  // them there: 8 bytes a wafer need not travel twice).
  for (std::size_t k = 0; k < checks.size(); ++k) {
    out[mine[k]].index = std::move(checks[k].index);
    out[mine[k]].fields = std::move(checks[k].fields);
  }
  std::size_t at = 0;
  for (int r = 0; r < size; ++r) {
    const std::string rank_failure = get_text(all, at);
    const std::uint64_t n = get_u64(all, at);
    if (!rank_failure.empty())
      for (std::size_t i = static_cast<std::size_t>(r); i < paths.size();
           i += static_cast<std::size_t>(size)) {
        out[i].outcome = InputCheck::Outcome::failed;
        out[i].message = rank_failure;
      }
    for (std::uint64_t k = 0; k < n; ++k) {
      InputCheck& c = out[get_u64(all, at)];
      c.outcome = static_cast<InputCheck::Outcome>(get_u64(all, at));
      c.message = get_text(all, at);
      c.warnings.resize(get_u64(all, at));
      for (auto& w : c.warnings) w = get_text(all, at);
    }
  }
  return out;
}

InputVerdict judge_inputs(const std::vector<std::string>& paths,
                          const std::vector<InputCheck>& checks, bool skip_bad_files) {
  if (checks.size() != paths.size())
    throw std::logic_error("judge_inputs: one check per path expected");
  InputVerdict v;
  std::vector<std::size_t> bad_files;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    const InputCheck& c = checks[i];
    if (c.outcome == InputCheck::Outcome::failed) throw std::runtime_error(c.message);
    if (c.outcome == InputCheck::Outcome::bad) {
      bad_files.push_back(i);
      v.skipped.push_back({paths[i], c.message});
      continue;
    }
    v.files.push_back(paths[i]);
    v.indexes.push_back(c.index);
    v.fields.push_back(c.fields);
    v.warnings.insert(v.warnings.end(), c.warnings.begin(), c.warnings.end());
  }
  if (bad_files.empty()) return v;
  const std::string first = checks[bad_files.front()].message;
  if (paths.size() == 1) throw InputError(first);  // as with one input ever since
  if (v.files.empty())
    throw InputError(first + "\n(every one of the " + std::to_string(paths.size()) +
                     " input files is bad: nothing to process)");
  if (!skip_bad_files) {
    std::string more;
    if (bad_files.size() > 1) {
      more = "\n(" + std::to_string(bad_files.size()) + " of the " + std::to_string(paths.size()) +
             " input files are bad:";
      constexpr std::size_t kNamed = 10;
      for (std::size_t k = 0; k < bad_files.size() && k < kNamed; ++k)
        more += " " + paths[bad_files[k]];
      if (bad_files.size() > kNamed) more += " ...";
      more += ")";
    }
    throw InputError(
        first + more +
        "\n(--skip-bad-files processes the other files and lists the bad ones in the report)");
  }
  return v;
}

}  // namespace wafermill::job
