#include "safety/run_guard.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <utility>
#include <vector>

#include "store/store_directory.hpp"
#include "wafermill/metrics/metrics.hpp"
#include "store/store_directory.hpp"
#include "safety/temp_output_guard.hpp"
#include "wafermill/error.hpp"

namespace wafermill::job {
namespace {

namespace fs = std::filesystem;

struct NamedPath {
  const char* option;
  std::string path;
};

std::string parent_of(const std::string& path) {
  const fs::path p(path);
  return p.has_parent_path() ? p.parent_path().string() : std::string(".");
}

// A file the run will create or replace must be creatable: its directory exists and is
// writable, and the name is not a directory. Found now, not after the whole run.
void check_writable(const char* option, const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec))
    throw UsageError(std::string(option) + " " + path + ": is a directory; name a file");
  const std::string dir = parent_of(path);
  if (!fs::is_directory(dir, ec))
    throw UsageError(std::string(option) + " " + path + ": the directory " + dir + " does not exist");
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    throw UsageError(std::string(option) + " " + path + ": cannot create files in " + dir + ": " +
                     std::strerror(errno));
  if (fs::exists(path, ec) && ::access(path.c_str(), W_OK) != 0 && ::access(dir.c_str(), W_OK) != 0)
    throw UsageError(std::string(option) + " " + path + ": not writable");
}

// A report file is replaced when it is one: a JSON object (wafermill writes "{" first).
bool looks_like_report(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char c = 0;
  while (in.get(c))
    if (c != ' ' && c != '\n' && c != '\t' && c != '\r') return c == '{';
  return false;
}

// Every input against the few paths the run writes or reads besides them: one stat per input,
// compared with the device and inode of those that exist (thousands of inputs cost
// milliseconds; pairwise same_file would resolve the paths N times over). A path that does not
// exist yet cannot be an input, which exists; an input that vanished since the expansion falls
// back to same_file.
void check_inputs_apart(const std::vector<std::string>& inputs,
                        const std::vector<NamedPath>& others) {
  std::vector<std::pair<dev_t, ino_t>> ids(others.size());
  std::vector<bool> exists(others.size(), false);
  for (std::size_t k = 0; k < others.size(); ++k) {
    struct stat st {};
    if (::stat(others[k].path.c_str(), &st) == 0) {
      ids[k] = {st.st_dev, st.st_ino};
      exists[k] = true;
    }
  }
  for (const auto& in : inputs) {
    struct stat st {};
    const bool found = ::stat(in.c_str(), &st) == 0;
    for (std::size_t k = 0; k < others.size(); ++k) {
      const bool same = found ? exists[k] && ids[k] == std::make_pair(st.st_dev, st.st_ino)
                              : format::same_file(in, others[k].path);
      if (same)
        throw UsageError("--input " + in + " and " + others[k].option + " " + others[k].path +
                         " are the same file; the run would overwrite it");
    }
  }
}

}  // namespace

void check_run_paths(const JobConfig& config) {
  std::vector<NamedPath> paths = {{"--output", config.output}};
  if (!config.report.empty()) paths.push_back({"--report", config.report});
  const std::string store = config.store_path();
  if (!store.empty()) paths.push_back({"--store", store});
  if (config.baseline != "run" && config.baseline != "repeat" && config.baseline != "none")
    paths.push_back({"--baseline", config.baseline});
  check_inputs_apart(config.input_files(), paths);
  for (std::size_t i = 0; i < paths.size(); ++i)
    for (std::size_t j = i + 1; j < paths.size(); ++j)
      if (format::same_file(paths[i].path, paths[j].path))
        throw UsageError(std::string(paths[i].option) + " " + paths[i].path + " and " + paths[j].option +
                         " " + paths[j].path + " are the same file; the run would overwrite it");
  // Inside the store directory only the store's own names are ever removed, but the output and
  // the report are replaced by rename: they may not hide among its entries either.
  if (!store.empty())
    for (const auto& p : paths)
      if (p.option != std::string("--store") && p.option != std::string("--baseline") &&
          format::inside_directory(p.path, store) &&
          is_store_file_name(fs::path(p.path).filename().string()))
        throw UsageError(std::string(p.option) + " " + p.path + ": a name the result store " + store +
                         " uses for its own entries");

  check_writable("--output", config.output);
  std::error_code ec;
  if (fs::exists(config.output, ec) && !config.force)
    throw UsageError(config.output + " exists; pass --force to overwrite");
  if (!config.report.empty()) {
    check_writable("--report", config.report);
    if (fs::exists(config.report, ec) && !config.force && !looks_like_report(config.report))
      throw UsageError("--report " + config.report +
                       ": exists and is not a report (JSON); pass --force to overwrite it");
  }
}

RunGuard::RunGuard(const JobConfig& config) {
  check_run_paths(config);
  hold_termination_handler();
  try {
    const std::string holder = "host " + metrics::host_name() + " pid " + std::to_string(::getpid()) +
                               " since " + metrics::utc_now();
    output_lock_ = std::make_unique<format::FileLock>(config.output, "output", holder);
    const std::string store = config.store_path();
    if (!store.empty()) {
      store_lock_ = std::make_unique<format::FileLock>(store, "result store", holder);
      const std::string problem = claim_store_directory(store);
      if (problem.empty())
        store_dir_ = store;
      else
        store_unwritable(store, problem);
    }
  } catch (...) {
    release_termination_handler();
    throw;
  }
  std::vector<std::string> locks;
  for (const auto* l : {output_lock_.get(), store_lock_.get()})
    if (l != nullptr && l->held()) locks.push_back(l->path());
  guard_lock_files(locks);
}

RunGuard::~RunGuard() {
  guard_lock_files({});
  release_termination_handler();
}

}  // namespace wafermill::job
