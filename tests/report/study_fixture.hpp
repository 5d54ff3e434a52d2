// Synthetic run reports for the study tests: every figure is chosen by the test, so the
// expected medians, speedups and fits are known exactly.
#pragma once

#include <cmath>
#include <filesystem>
#include <string>
#include <unistd.h>

#include "wafermill/report/run_report.hpp"

namespace wafermill::report::testing {

/// What a synthetic run measured.
struct SyntheticRun {
  std::string policy = "dynamic";
  int ranks = 1;
  double wall_s = 1.0;
  std::uint64_t wafers = 1000;
  std::string fingerprint = "fnv1a64:feedface";
  double imbalance = 1.0;  ///< busy time of rank 0 relative to the others' mean
  std::string host = "node01";
};

/// A report whose per-rank phases add up to 80 % of the wall time (read 30 %, compute 40 %,
/// reduce 5 %, wait 5 %), rank 0 busier by the factor `imbalance`.
inline RunReport make_report(const SyntheticRun& s) {
  RunReport r;
  auto& p = r.provenance;
  p.version = "0.1.0";
  p.git_revision = "abc123def456";
  p.started_utc = "2025-01-01T00:00:00Z";
  p.command_line = "wafermill run --policy " + s.policy;
  p.hosts = {s.host};
  p.ranks_per_node = s.ranks;
  p.cores = 2;
  p.input_path = "/data/traces.h5";
  p.input_bytes = s.wafers * 48000;
  p.input_fingerprint = s.fingerprint;
  p.n_wafers = s.wafers;
  p.n_samples = s.wafers * 300;
  p.n_sensors = 16;
  p.n_steps = 4;
  r.config = {{"policy", s.policy}, {"block_size", 32}, {"input", p.input_path}};
  auto& f = r.parallel;
  f.ranks = s.ranks;
  f.policy = s.policy;
  f.backend = "cpu";
  f.io = "posix";
  f.wall_s = s.wall_s;
  f.wafers = s.wafers;
  f.samples = p.n_samples;
  f.bytes = p.input_bytes;
  for (int i = 0; i < s.ranks; ++i) {
    RankFigures k;
    k.rank = i;
    k.host = s.host;
    k.read_s = 0.30 * s.wall_s;
    k.compute_s = 0.40 * s.wall_s;
    k.reduce_s = 0.05 * s.wall_s;
    k.wait_s = 0.05 * s.wall_s;
    f.per_rank.push_back(k);
  }
  f.balance.imbalance = s.imbalance;
  f.balance.mean = 0.75 * s.wall_s;
  f.balance.max = s.imbalance * f.balance.mean;
  f.balance.sum = f.balance.mean * s.ranks;
  f.balance.model_speedup = s.ranks / s.imbalance;
  r.comparison.baseline_source = "none";
  return r;
}

/// A fresh empty directory under the system temporary directory.
inline std::filesystem::path fresh_dir(const std::string& name) {
  const auto d = std::filesystem::temp_directory_path() /
                 ("wafermill-study-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

/// Amdahl's law: T(P) = T1 (f + (1 − f)/P).
inline double amdahl_time(double t1, double f, int p) { return t1 * (f + (1 - f) / p); }

/// Writes a skewed-data policy study: static, weighted and dynamic at P = 1, 2, 4, three
/// repetitions each (times ×0.98, ×1, ×1.05), following Amdahl with f = 0.05 / 0.1 / 0.2 for
/// dynamic / weighted / static, all `slowdown` times slower. Returns the report paths.
inline std::vector<std::string> write_policy_study(const std::filesystem::path& dir, double slowdown = 1.0) {
  std::vector<std::string> paths;
  const struct { const char* policy; double f, imbalance; } policies[] = {
      {"static", 0.2, 1.6}, {"weighted", 0.1, 1.2}, {"dynamic", 0.05, 1.05}};
  const double jitter[] = {0.98, 1.0, 1.05};
  for (const auto& pol : policies)
    for (int p : {1, 2, 4})
      for (int rep = 0; rep < 3; ++rep) {
        SyntheticRun s;
        s.policy = pol.policy;
        s.ranks = p;
        s.wall_s = slowdown * jitter[rep] * amdahl_time(10.0, pol.f, p);
        s.imbalance = p == 1 ? 1.0 : pol.imbalance;
        const auto path = dir / (std::string(pol.policy) + "-P" + std::to_string(p) + "-r" + std::to_string(rep) + ".json");
        write_report(make_report(s), path.string());
        paths.push_back(path.string());
      }
  return paths;
}

}  // namespace wafermill::report::testing
