/// @file file_cost.cpp
/// @brief What each input file costs before and around its samples (issue 19 item 5): the
/// per-file steps of `wafermill run`, each timed on its own over every file given, one process.
///
///   file_cost [--reps R] FILE... | @MANIFEST
///
/// Phases (each a pass over all files, page cache as the caller left it; best of R passes):
///   open      h5::File::open_read + close
///   index     format::read_trace_index (what rank 0 reads per input)
///   validate  format::validate_trace_file (`wafermill validate`)
///   isolated  job::check_input_isolated: the forked child that reads the metadata before the
///             job touches the file (input_sandbox.hpp), 60 s limit
///   isolated1 the index reads of every file in one forked child (job::run_isolated): the
///             isolation without one fork per file
///   read      format::TraceReader (posix) opened on the index, every row read, closed
/// Prints one line per phase: files, seconds in all, ms per file, and for `read` MB/s.
/// A manifest names one file per line, relative to the manifest's directory.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include <mpi.h>

#include "wafermill/format/h5.hpp"
#include "wafermill/format/trace_index.hpp"
#include "wafermill/format/trace_reader.hpp"
#include "wafermill/job/input_sandbox.hpp"
#include "wafermill/metrics/metrics.hpp"

namespace {

namespace fmt = wafermill::format;
namespace fs = std::filesystem;

std::vector<std::string> expand(const std::vector<std::string>& args) {
  std::vector<std::string> files;
  for (const std::string& a : args) {
    if (a.empty() || a[0] != '@') {
      files.push_back(a);
      continue;
    }
    const fs::path list(a.substr(1));
    std::ifstream in(list);
    if (!in) throw std::runtime_error(list.string() + ": cannot open the manifest");
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      const fs::path p(line);
      files.push_back(p.is_absolute() ? line : (list.parent_path() / p).string());
    }
  }
  return files;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    int reps = 1;
    std::vector<std::string> args;
    for (int i = 1; i < argc; ++i) {
      if (std::strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
        reps = std::max(1, std::atoi(argv[++i]));
      } else {
        args.emplace_back(argv[i]);
      }
    }
    const std::vector<std::string> files = expand(args);
    if (files.empty()) {
      std::fputs("usage: file_cost [--reps R] FILE... | @MANIFEST\n", stderr);
      return 2;
    }
    std::vector<fmt::TraceIndex> indexes;
    for (const std::string& f : files) indexes.push_back(fmt::read_trace_index(f));
    std::uint64_t bytes = 0;
    for (const auto& ix : indexes) bytes += ix.n_samples * ix.row_bytes();

    auto phase = [&](const char* name, const std::function<void(std::size_t)>& step) {
      double best = 0.0;
      for (int r = 0; r < reps; ++r) {
        wafermill::metrics::Stopwatch watch;
        for (std::size_t i = 0; i < files.size(); ++i) step(i);
        const double s = watch.elapsed();
        best = r == 0 ? s : std::min(best, s);
      }
      std::printf("%-9s %7zu files %9.3f s %9.3f ms/file", name, files.size(), best,
                  best / static_cast<double>(files.size()) * 1e3);
      if (std::strcmp(name, "read") == 0) std::printf(" %9.1f MB/s", bytes / 1e6 / best);
      std::printf("\n");
      std::fflush(stdout);
    };
    phase("open", [&](std::size_t i) { fmt::h5::File::open_read(files[i]).close(); });
    phase("index", [&](std::size_t i) { (void)fmt::read_trace_index(files[i]); });
    phase("validate", [&](std::size_t i) {
      if (!fmt::validate_trace_file(files[i]).empty())
        throw std::runtime_error(files[i] + ": invalid");
    });
    phase("isolated",
          [&](std::size_t i) { (void)wafermill::job::check_input_isolated(files[i], 60.0); });
    // The same reads as `isolated`, all files in one child: what one fork per file costs.
    phase("isolated1", [&](std::size_t i) {
      if (i != 0) return;
      wafermill::job::run_isolated(files[0], 600.0, [&] {
        for (const std::string& f : files) (void)fmt::read_trace_index(f);
      });
    });
    std::vector<char> buffer;
    phase("read", [&](std::size_t i) {
      const fmt::TraceIndex& ix = indexes[i];
      fmt::TraceReader reader(ix, fmt::IoDriver::posix, MPI_COMM_NULL);
      const std::uint64_t row_bytes = ix.row_bytes();
      const std::uint64_t batch = std::max<std::uint64_t>(1, (8ULL << 20) / row_bytes);
      buffer.resize(batch * row_bytes);
      for (std::uint64_t row = 0; row < ix.n_samples; row += batch) {
        reader.read_rows(row, std::min(batch, ix.n_samples - row), buffer.data(), {});
      }
    });
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "file_cost: %s\n", e.what());
    return 1;
  }
}
