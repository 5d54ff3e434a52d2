#include "wafermill/job/baseline.hpp"

#include <filesystem>
#include <fstream>
#include <spawn.h>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

#include "wafermill/error.hpp"
#include "wafermill/job/pipeline.hpp"

extern char** environ;

namespace wafermill::job {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

BaselineRun run_baseline_child(const JobConfig& config, const std::string& exe) {
  const std::string tag = std::to_string(::getpid());
  BaselineRun run;
  run.output_path = config.output + ".baseline." + tag;
  const std::string config_path = config.output + ".baseline-config." + tag + ".json";
  const std::string figures_path = config.output + ".baseline-figures." + tag + ".json";

  JobConfig child = config;
  child.output = run.output_path;
  // The baseline measures a whole computation, the same work as the parallel run: a store of
  // its own to fill when the run keeps one (never one to reuse), no early stop. Otherwise the
  // speedup would compare a run that writes its store with one that does not.
  child.resume = false;
  const std::string child_store = run.output_path + ".wmstore";
  child.store = config.store_path().empty() ? "none" : child_store;
  child.time_limit_s = 0.0;
  child.report.clear();
  child.baseline = "none";
  child.force = true;
  child.quiet = true;
  {
    std::ofstream out(config_path);
    out << child.to_json().dump();
    if (!out) throw std::runtime_error("cannot write " + config_path);
  }

  std::vector<std::string> args = {exe, "sequential", "--config-json", config_path,
                                    "--figures-out", figures_path};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv.data(), environ);
  if (rc != 0) {
    std::remove(config_path.c_str());
    throw std::runtime_error("cannot start the sequential baseline " + exe);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::remove(config_path.c_str());
  std::error_code ignored;
  std::filesystem::remove_all(child_store, ignored);  // named by this process: nobody else's
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::remove(figures_path.c_str());
    std::remove(run.output_path.c_str());
    throw std::runtime_error("the sequential baseline failed (status " + std::to_string(status) +
                             "); rerun with --baseline none to skip it");
  }
  const std::string text = slurp(figures_path);
  std::remove(figures_path.c_str());
  run.figures = report::run_figures_from_json(nlohmann::json::parse(text));
  return run;
}

report::RunFigures load_baseline(const std::string& report_path) {
  const report::RunReport r = report::read_report(report_path);
  if (r.parallel.ranks != 1)
    throw InputError(report_path + ": --baseline needs the report of a single-rank run; this one ran " +
                     std::to_string(r.parallel.ranks) + " ranks");
  report::RunFigures f = r.parallel;
  if (!f.pictures) f.pictures = r.pictures;  // the run's picture section, for compare_pictures
  return f;
}

int sequential_main(const std::string& config_json_path, const std::string& figures_path) {
  const JobConfig config = JobConfig::from_json(nlohmann::json::parse(slurp(config_json_path)));
  const report::RunFigures figures = run_sequential(config);
  const std::string tmp = figures_path + ".tmp";
  {
    std::ofstream out(tmp);
    out << report::to_json(figures).dump();
    if (!out) throw std::runtime_error("cannot write " + figures_path);
  }
  if (std::rename(tmp.c_str(), figures_path.c_str()) != 0)
    throw std::runtime_error("cannot rename " + tmp);
  return 0;
}

}  // namespace wafermill::job
