#include "wafermill/job/pipeline.hpp"

#include <algorithm>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <map>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include "baseline.hpp"
#include "collector.hpp"
#include "picture_pipeline.hpp"
#include "content_hash.hpp"
#include "fault_injection.hpp"
#include "input_sandbox.hpp"
#include "result_store.hpp"
#include "resume.hpp"
#include "run_facts.hpp"
#include "run_guard.hpp"
#include "store_directory.hpp"
#include "scoring.hpp"
#include "stop_request.hpp"
#include "temp_output_guard.hpp"
#include "transport.hpp"
#include "wafermill/config.hpp"
#include "wafermill/error.hpp"
#include "wafermill/format/datasets.hpp"
#include "wafermill/format/feature_file.hpp"
#include "wafermill/format/trace_index.hpp"
#include "wafermill/metrics/gpu_utilisation.hpp"
#include "wafermill/metrics/metrics.hpp"
#include "wafermill/partition/policy.hpp"
#include "watchdog.hpp"
#include "worker.hpp"

namespace wafermill::job {
namespace {

// The ranks of a run. comm is MPI_COMM_NULL in the sequential baseline, which runs without MPI.
struct Team {
  MPI_Comm comm = MPI_COMM_NULL;
  int rank = 0;
  int size = 1;
  bool mpi() const { return comm != MPI_COMM_NULL; }
};

// A barrier that sleeps instead of spinning, so idle ranks leave the cores to the busy ones
// (Open MPI's blocking barrier polls at full speed; this machine may be oversubscribed).
void sleepy_barrier(MPI_Comm comm) {
  MPI_Request req;
  MPI_Ibarrier(comm, &req);
  int done = 0;
  while (true) {
    MPI_Test(&req, &done, MPI_STATUS_IGNORE);
    if (done) return;
    ::usleep(200);
  }
}

// Removes `<output>.tmp.<pid>` files other than `keep`: a run killed with SIGKILL (no chance to
// unlink) leaves its temporary output behind, and --resume is the rerun that cleans up.
void remove_stale_output_temporaries(const std::string& output, const std::string& keep) {
  namespace fs = std::filesystem;
  const fs::path out(output);
  const fs::path dir = out.has_parent_path() ? out.parent_path() : fs::path(".");
  const std::string prefix = out.filename().string() + ".tmp.";
  std::error_code ec;
  std::vector<fs::path> stale;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind(prefix, 0) == 0 && name.size() > prefix.size() &&
        name.find_first_not_of("0123456789", prefix.size()) == std::string::npos &&
        fs::path(keep).filename() != name)
      stale.push_back(it->path());
  }
  for (const auto& p : stale) fs::remove(p, ec);
}

// FNV-1a 64 over the file's size and mtime and the index: cheap, and it changes whenever the
// file is rewritten or its wafers change (docs/METRICS.md "Provenance").
std::string fingerprint(const format::TraceIndex& index) {
  std::uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](const void* p, std::size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ULL;
  };
  struct stat st {};
  if (::stat(index.path.c_str(), &st) == 0) {
    mix(&st.st_size, sizeof st.st_size);
    mix(&st.st_mtim, sizeof st.st_mtim);
  }
  mix(&index.n_samples, sizeof index.n_samples);
  mix(&index.n_sensors, sizeof index.n_sensors);
  mix(index.offsets.data(), index.offsets.size() * sizeof(std::uint64_t));
  char buf[32];
  std::snprintf(buf, sizeof buf, "fnv1a64:%016llx", static_cast<unsigned long long>(h));
  return buf;
}

// What one process did in a run.
struct LocalRun {
  format::TraceIndex index;
  WorkerStats stats;
  std::string backend;
  // Reduced over the ranks (every rank has them):
  metrics::LatencySummary latency;
  ScoringResult scoring;
  std::optional<BoundModel> model;  // --model: every rank binds it
  std::uint64_t blocks_reused_all = 0, blocks_computed_all = 0;
  // Rank 0 only:
  double wall_s = 0.0, index_s = 0.0, scoring_s = 0.0;
  double serial_s = 0.0;  // rank 0's work no other rank overlaps (docs/SCALING.md)
  std::optional<double> gpu_utilisation;       // E_GPU, percent (rank 0's node)
  std::optional<double> kernel_busy_fraction;  // rank 0's device busy / wall
  bool stopped = false;      // every rank: the run stopped before every block was done
  std::string stop_message;  // rank 0: what to tell the user
};

format::FeatureFileLayout output_layout(const format::TraceIndex& index, const JobConfig& config) {
  format::FeatureFileLayout l;
  l.n_wafers = index.n_wafers;
  l.sensor_names = index.sensor_names;
  l.feature_names = config.features.names();
  l.n_steps = index.n_steps;
  l.contributions = config.model.empty() ? 0 : config.contributions;
  return l;
}

// Every rank reads and binds the model; a bad model is every rank's CollectiveInputError.
std::optional<BoundModel> bind_model_everywhere(const JobConfig& config, const format::TraceIndex& index,
                                                MPI_Comm comm) {
  if (config.model.empty()) return std::nullopt;
  std::string error;
  std::optional<BoundModel> b;
  try {
    b = bind_model(config.model, index.sensor_names, config.features.names());
  } catch (const InputError& e) {
    error = e.what();
  }
  int bad = error.empty() ? 0 : 1;
  if (comm != MPI_COMM_NULL) MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, comm);
  if (bad) throw CollectiveInputError(error.empty() ? config.model + ": a rank could not read the model" : error);
  return b;
}

// Rank 0 reads the index; bad input is broadcast so every rank throws the same
// CollectiveInputError. Then every rank has the index.
void read_index_everywhere(const JobConfig& config, const Team& team, LocalRun& run) {
  std::string error;
  if (team.rank == 0) {
    metrics::Stopwatch watch;
    try {
      run.index = format::read_trace_index(config.input);
    } catch (const InputError& e) {
      error = e.what();
      if (error.empty()) error = "bad input";
    }
    run.index_s = watch.elapsed();
  }
  if (!team.mpi()) {
    if (!error.empty()) throw CollectiveInputError(error);
    return;
  }
  std::uint64_t len = error.size();
  MPI_Bcast(&len, 1, MPI_UINT64_T, 0, team.comm);
  if (len > 0) {
    error.resize(len);
    MPI_Bcast(error.data(), static_cast<int>(len), MPI_CHAR, 0, team.comm);
    throw CollectiveInputError(error);
  }
  std::vector<char> bytes;
  if (team.rank == 0) bytes = run.index.serialize();
  std::uint64_t n = bytes.size();
  MPI_Bcast(&n, 1, MPI_UINT64_T, 0, team.comm);
  bytes.resize(n);
  // Large indexes (8 bytes per wafer) are broadcast in pieces below INT_MAX.
  for (std::uint64_t off = 0; off < n; off += (1ULL << 30)) {
    const int piece = static_cast<int>(std::min<std::uint64_t>(n - off, 1ULL << 30));
    MPI_Bcast(bytes.data() + off, piece, MPI_CHAR, 0, team.comm);
  }
  if (team.rank != 0) run.index = format::TraceIndex::deserialize(bytes);
}

// Every rank must agree that the backend exists before any starts working.
std::unique_ptr<features::FeatureBackend> make_backend_everywhere(const JobConfig& config,
                                                                   const features::FeatureLayout& layout,
                                                                   const Team& team) {
  std::unique_ptr<features::FeatureBackend> backend;
  std::string error;
  try {
    // The backend's median buffers take an eighth of the budget (the worker leaves it a
    // quarter: worker.cpp).
    features::BackendOptions options = config.backend;
    options.host_scratch_bytes = std::max<std::uint64_t>(config.memory_budget_bytes / 8, 1);
    backend = features::make_backend(options, layout);
  } catch (const InputError& e) {
    error = e.what();
  }
  int bad = error.empty() ? 0 : 1;
  if (team.mpi()) MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, team.comm);
  if (bad) throw CollectiveInputError(error.empty() ? "a rank could not create the backend" : error);
  return backend;
}

std::uint64_t sum_over(const Team& team, std::uint64_t v) {
  if (team.mpi()) MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_UINT64_T, MPI_SUM, team.comm);
  return v;
}

// `pictures`: rank 0's results of the picture pass, written into the same output.
LocalRun execute(const JobConfig& config, const Team& team, const std::string& policy_name,
                 const format::PictureResults* pictures, const StopRequest& stop) {
  LocalRun run;
  if (team.mpi()) MPI_Barrier(team.comm);
  metrics::Stopwatch wall;
  read_index_everywhere(config, team, run);
  const format::TraceIndex& index = run.index;
  run.model = bind_model_everywhere(config, index, team.mpi() ? team.comm : MPI_COMM_NULL);

  features::FeatureLayout layout;
  layout.n_sensors = index.n_sensors;
  layout.n_steps = index.n_steps;
  layout.features = config.features;
  auto backend = make_backend_everywhere(config, layout, team);
  // E_GPU: rank 0 samples the GPUs NVML sees on its node while the run lasts (docs/METRICS.md).
  std::unique_ptr<metrics::GpuUtilisationSampler> gpu_sampler;
  if (team.rank == 0 && backend->name() == "cuda")
    gpu_sampler = std::make_unique<metrics::GpuUtilisationSampler>();
  run.backend = std::string(backend->name());

  // Every rank holds the same index, so every rank throws the same error before any work (and
  // before the result store is created).
  try {
    check_read_budget(index, config);
  } catch (const InputError& e) {
    throw CollectiveInputError(e.what());
  }
  // Every rank opens the output together and writes its own rows into it. From here on an
  // error is one rank's (the job is aborted): every collective error was raised above.
  format::FeatureFileWriter writer(config.output, output_layout(index, config), config.force,
                                   team.mpi() ? team.comm : MPI_COMM_NULL);
  std::unique_ptr<TempOutputGuard> guard;
  if (team.rank == 0) guard = std::make_unique<TempOutputGuard>(writer.temp_path());

  const partition::BlockPlan plan(index.offsets, config.block_size);
  partition::PolicyOptions popt;
  popt.factor = config.dynamic_factor;
  // A compressed chunk is decompressed by every rank that reads part of it: dynamic units of at
  // least four chunks keep that repeat work under a quarter (measured on the demo: busy time
  // doubled at P=2 with units smaller than a chunk).
  if (index.values_filtered) popt.min_unit_weight = 4.0 * static_cast<double>(index.values_chunk_rows);
  const auto policy = partition::make_policy(policy_name, popt);

  format::TraceReader reader(index, team.mpi() ? config.io : format::IoDriver::posix,
                             team.mpi() ? team.comm : MPI_COMM_NULL);
  WorkerStats& stats = run.stats;
  const FaultInjection faults = FaultInjection::from_environment(team.rank);
  const std::uint64_t digest = config_digest(config, index, run.backend);
  const std::string store_dir = config.store_path();
  const std::string hint = resume_hint(store_dir);
  std::uint64_t units_started = 0;
  const auto start_unit = [&faults, &units_started] { faults.at_unit_start(units_started++); };
  // Workers beat at a quarter of the timeout, so one late beat is no false alarm.
  const double rank_timeout = team.mpi() ? config.rank_timeout_s : 0.0;

  // Every rank: its store (the rank that computes a block keeps it), its collector, its worker.
  std::unique_ptr<ResultStore> store;
  if (!store_dir.empty()) store = std::make_unique<ResultStore>(store_dir, plan, layout);
  if (team.rank == 0 && config.resume) remove_stale_output_temporaries(config.output, writer.temp_path());
  Progress progress(index.n_wafers, config.progress_interval_s, team.rank == 0 && !config.quiet);
  Collector collector(writer, layout, config.histogram_bins, team.rank == 0 ? &progress : nullptr,
                      stats.reduce_s, store.get());
  Worker worker(index, config, plan, reader, *backend, collector);
  worker.set_key_digest(digest);
  worker.set_stop(&stop);

  if (team.rank == 0) {
    auto dispenser = policy->dispenser(plan, team.size);
    // Armed for the work phase only: the scoring pass and the baseline may legitimately run
    // longer than the timeout without a beat.
    auto watchdog = std::make_unique<SelfWatchdog>(team.comm, 0, rank_timeout, &plan, hint);
    SelfWatchdog& self = *watchdog;
    self.holds({}, "in the resume pass");
    std::vector<std::uint8_t> reused;
    if (config.resume && store)
      reused = resume_from_store(team.comm, 0, team.size, plan, worker, *store, collector,
                                 [&self] { self.beat(); }, config.quiet);
    worker.set_reused(reused.empty() ? nullptr : &reused);

    WorkerWatch watch(team.size, rank_timeout, plan, hint);
    std::unique_ptr<Coordinator> coordinator;
    if (team.mpi())
      coordinator = std::make_unique<Coordinator>(team.comm, policy->dynamic() ? dispenser.get() : nullptr,
                                                  stop, watch, self, progress);
    const auto poll = [&coordinator, &self] {
      if (coordinator)
        coordinator->poll();
      else
        self.beat();
    };
    if (coordinator) coordinator->start();
    while (!stop.requested()) {
      const auto unit = dispenser->next(0);
      if (!unit) break;
      self.holds(*unit, "computing");
      start_unit();
      if (!worker.process(*unit, poll)) break;
    }
    self.holds({}, "between units");
    if (coordinator) coordinator->finish(stats.wait_s);
    coordinator.reset();
    watchdog.reset();
    progress.finish();
  } else {
    std::vector<std::uint8_t> reused;
    const auto nothing = [] {};
    if (config.resume && store)
      reused = resume_from_store(team.comm, team.rank, team.size, plan, worker, *store, collector,
                                 nothing, config.quiet);
    worker.set_reused(reused.empty() ? nullptr : &reused);
    Heartbeat heartbeat(team.comm, rank_timeout / 4.0);
    const auto beat = [&heartbeat] { heartbeat.maybe_beat(); };
    const auto work = [&](const partition::WorkUnit& unit) {
      heartbeat.holds(unit, collector.wafers_done());
      start_unit();
      return worker.process(unit, beat);
    };
    if (policy->dynamic()) {
      UnitRequester requester(team.comm, stats);
      // After a stop, units still arriving are dropped: the coordinator learns of the stop on
      // its own (the same signal or clock) or, at worst, hands out the rest unprocessed.
      while (auto unit = requester.next())
        if (!stop.requested()) work(*unit);
    } else {
      auto dispenser = policy->dispenser(plan, team.size);
      while (!stop.requested()) {
        const auto unit = dispenser->next(team.rank);
        if (!unit || !work(*unit)) break;
      }
    }
    heartbeat.holds({}, collector.wafers_done());
    heartbeat.done();
  }
  stats = worker.stats() + stats;

  // Complete when every block is somewhere: the ranks count together.
  const std::uint64_t done = [&] {
    metrics::ScopedTimer t(stats.wait_s);
    return sum_over(team, collector.blocks_done());
  }();
  run.blocks_reused_all = sum_over(team, collector.blocks_reused());
  run.blocks_computed_all = sum_over(team, collector.blocks_computed());
  if (done != plan.n_blocks()) {
    run.stopped = true;
    if (team.rank == 0)
      run.stop_message =
          "stopped early by " + (stop.requested() ? stop.reason() : std::string("a rank's stop request")) +
          " after " + std::to_string(done) + " of " + std::to_string(plan.n_blocks()) +
          " blocks; no output was written. " + hint;
    writer.finish_rows();  // collective; rank 0's temporary output is removed with the writer
    return run;
  }

  // The scoring pass: every rank over its own rows; then the rows phase ends together.
  metrics::Stopwatch scoring;
  ScoringPass pass(index, config, collector, writer, team.mpi() ? team.comm : MPI_COMM_NULL,
                   run.model ? &*run.model : nullptr);
  run.scoring = pass.run();
  metrics::LatencySketch& latency = collector.latencies();
  latency.allreduce(team.mpi() ? team.comm : MPI_COMM_NULL);
  run.latency = latency.summary();
  writer.finish_rows();
  // The store now holds exactly this run's blocks: every rank drops the older versions of its
  // own blocks (the last, partial block of an input that has since grown).
  if (store && collector.storing())
    store->prune(collector.keys(), team.rank == 0 ? std::optional(plan.n_blocks()) : std::nullopt);
  stats.reduce_s += scoring.elapsed();
  if (team.rank == 0) {
    // Phase 2 of the output, rank 0 alone: what is O(columns), or not per wafer.
    metrics::Stopwatch serial;
    pass.write_summary(writer);
    if (run.model) {
      const model::PcaModel& m = run.model->model;
      writer.write_summary("model_limits", std::vector<double>{m.t2_limit, m.spe_limit}, {2});
      writer.set_attribute("model", run.model->path);
    }
    writer.copy_wafer_fields(index);
    if (pictures) writer.write_pictures(*pictures);
    writer.set_attribute("wafermill_version", std::string(WAFERMILL_VERSION));
    writer.set_attribute("git_revision", std::string(WAFERMILL_GIT_REVISION));
    writer.set_attribute("configuration", config.to_json().dump());
    writer.set_attribute("ranks", static_cast<std::int64_t>(team.size));
    writer.set_attribute("policy", policy_name);
    writer.set_attribute("backend", run.backend);
    writer.set_attribute("input", config.input);
    writer.commit();
    run.serial_s = serial.elapsed();
    stats.reduce_s += run.serial_s;
  }
  run.scoring_s = scoring.elapsed();
  if (team.mpi()) {
    metrics::ScopedTimer t(stats.wait_s);
    sleepy_barrier(team.comm);  // the output is committed when every rank returns
  }
  run.wall_s = wall.elapsed();
  if (gpu_sampler) {
    if (auto u = gpu_sampler->stop()) run.gpu_utilisation = 100.0 * u->e_gpu;
    if (run.wall_s > 0) run.kernel_busy_fraction = backend->busy_seconds() / run.wall_s;
  }
  return run;
}

report::RankFigures rank_figures(const LocalRun& run, int rank) {
  report::RankFigures f;
  f.rank = rank;
  f.host = host_name();
  f.units = run.stats.units;
  f.wafers = run.stats.wafers;
  f.samples = run.stats.samples;
  f.bytes = run.stats.bytes;
  f.read_s = run.stats.read_s;
  f.compute_s = run.stats.compute_s;
  f.reduce_s = run.stats.reduce_s;
  f.wait_s = run.stats.wait_s;
  f.peak_rss_bytes = metrics::peak_rss_bytes();
  return f;
}

// Gathers every rank's figures on rank 0 (JSON text, variable length).
std::vector<report::RankFigures> gather_figures(const report::RankFigures& mine, const Team& team) {
  if (!team.mpi()) return {mine};
  const std::string text = report::to_json(mine).dump();
  int len = static_cast<int>(text.size());
  std::vector<int> lens(team.size), displs(team.size);
  MPI_Gather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, 0, team.comm);
  std::string all;
  if (team.rank == 0) {
    int total = 0;
    for (int r = 0; r < team.size; ++r) {
      displs[r] = total;
      total += lens[r];
    }
    all.resize(total);
  }
  MPI_Gatherv(text.data(), len, MPI_CHAR, all.data(), lens.data(), displs.data(), MPI_CHAR, 0,
              team.comm);
  std::vector<report::RankFigures> out;
  if (team.rank == 0)
    for (int r = 0; r < team.size; ++r)
      out.push_back(report::rank_figures_from_json(
          nlohmann::json::parse(all.substr(displs[r], lens[r]))));
  return out;
}

report::RunFigures run_figures(const LocalRun& run, std::vector<report::RankFigures> ranks,
                               const JobConfig& config, const std::string& policy_name, bool mpi) {
  report::RunFigures f;
  f.ranks = static_cast<int>(ranks.size());
  f.policy = policy_name;
  f.backend = run.backend;
  f.gpu_utilisation = run.gpu_utilisation;
  f.kernel_busy_fraction = run.kernel_busy_fraction;
  f.io = std::string(format::to_string(mpi ? config.io : format::IoDriver::posix));
  f.wall_s = run.wall_s;
  f.index_s = run.index_s;
  f.scoring_s = run.scoring_s;
  f.wafers = run.index.n_wafers;
  f.samples = run.index.n_samples;
  f.flagged = run.scoring.flagged;
  f.latency = run.latency;
  f.blocks_reused = run.blocks_reused_all;
  f.blocks_computed = run.blocks_computed_all;
  f.serial_s = run.serial_s;
  std::vector<double> busy;
  for (const auto& r : ranks) {
    f.bytes += r.bytes;
    f.peak_rss_max_bytes = std::max(f.peak_rss_max_bytes, r.peak_rss_bytes);
    f.peak_rss_total_bytes += r.peak_rss_bytes;
    busy.push_back(r.busy_s());
  }
  f.balance = metrics::load_balance(busy);
  f.per_rank = std::move(ranks);
  return f;
}

// Why the result store could not be written on some rank (rank 0's reason when it has one),
// or nothing: the report says so (store_directory.hpp). Collective.
std::optional<std::string> store_failure_anywhere(const Team& team) {
  int failed = store_failure().empty() ? 0 : 1;
  if (team.mpi()) MPI_Allreduce(MPI_IN_PLACE, &failed, 1, MPI_INT, MPI_MAX, team.comm);
  if (!failed) return std::nullopt;
  return store_failure().empty() ? std::string("a rank could not write its blocks") : store_failure();
}

std::vector<double> two_bins(std::uint64_t bad, std::uint64_t total) {
  return {static_cast<double>(total - bad), static_cast<double>(bad)};
}

std::string self_exe() {
  char exe[4096] = {0};
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  return n > 0 ? std::string(exe, n) : std::string("wafermill");
}

// The baseline of a run whose input holds maps or images but no traces: the same single-rank
// child (or an earlier single-rank report), compared kind by kind and file against file.
void add_picture_baseline(const JobConfig& config, report::RunReport& r) {
  auto& c = r.comparison;
  c.baseline_source = config.baseline;
  if (config.baseline == "run") {
    BaselineRun b = run_baseline_child(config, self_exe());
    r.sequential = b.figures;
    c.outputs_identical = true;
    if (auto diff = format::compare_feature_files(b.output_path, config.output)) {
      c.outputs_identical = false;
      c.first_difference = *diff;
    }
    std::remove(b.output_path.c_str());
  } else if (config.baseline != "none") {
    r.sequential = load_baseline(config.baseline);
  }
  if (!r.sequential) return;
  c.scaling = metrics::scaling(r.sequential->wall_s, r.parallel.wall_s, r.parallel.ranks);
  if (r.pictures && r.sequential->pictures) compare_pictures(*r.pictures, *r.sequential->pictures);
}

// The report of a finished parallel run, with the baseline as the configuration asks.
report::RunReport build_report(const JobConfig& config, const LocalRun& run,
                               report::RunFigures parallel, const std::vector<std::string>& hosts,
                               int ranks_per_node, const std::string& exe) {
  report::RunReport r;
  auto& p = r.provenance;
  p.version = WAFERMILL_VERSION;
  p.git_revision = WAFERMILL_GIT_REVISION;
  p.started_utc = utc_now();
  p.command_line = config.command_line;
  p.hosts = hosts;
  p.ranks_per_node = ranks_per_node;
  p.cores = std::thread::hardware_concurrency();
  if (const char* id = std::getenv("SLURM_JOB_ID")) p.slurm_job_id = id;
  p.input_path = config.input;
  p.input_bytes = run.index.file_size;
  p.input_fingerprint = fingerprint(run.index);
  p.n_wafers = run.index.n_wafers;
  p.n_samples = run.index.n_samples;
  p.n_sensors = run.index.n_sensors;
  p.n_steps = run.index.n_steps;
  for (std::uint64_t w = 0; w < run.index.n_wafers; ++w) p.n_wafers_one_sample += run.index.wafer_rows(w) == 1;
  r.config = config.to_json();
  r.parallel = std::move(parallel);
  auto& c = r.comparison;
  auto& a = r.accuracy;
  a.smoothing_alpha = config.kl_smoothing;

  c.baseline_source = config.baseline;
  std::optional<std::string> baseline_output;
  if (config.baseline == "run") {
    BaselineRun b = run_baseline_child(config, exe);
    r.sequential = b.figures;
    baseline_output = b.output_path;
  } else if (config.baseline != "none") {
    r.sequential = load_baseline(config.baseline);
  }

  if (r.sequential) {
    c.scaling = metrics::scaling(r.sequential->wall_s, r.parallel.wall_s, r.parallel.ranks);
    if (r.parallel.peak_rss_total_bytes > 0)
      c.memory_efficiency = double(r.sequential->peak_rss_total_bytes) / r.parallel.peak_rss_total_bytes;
  }
  if (baseline_output) {
    c.outputs_identical = true;
    if (auto diff = format::compare_feature_files(*baseline_output, config.output)) {
      c.outputs_identical = false;
      c.first_difference = *diff;
    }
    // Histogram check: the float64 sequential reference against the parallel histograms.
    std::vector<std::uint64_t> dims;
    const auto ref = format::read_u64_dataset(*baseline_output, "/summary/feature_hist", &dims);
    const auto got = format::read_u64_dataset(config.output, "/summary/feature_hist");
    const std::size_t bins = dims.empty() ? 0 : dims.back();
    double kl_max = 0.0, kl_sum = 0.0;
    std::size_t columns = 0;
    for (std::size_t off = 0; bins > 0 && off + bins <= ref.size() && off + bins <= got.size(); off += bins) {
      std::vector<double> pv(ref.begin() + off, ref.begin() + off + bins);
      std::vector<double> qv(got.begin() + off, got.begin() + off + bins);
      double sp = 0, sq = 0;
      for (std::size_t i = 0; i < bins; ++i) {
        sp += pv[i];
        sq += qv[i];
      }
      if (sp == 0 && sq == 0) continue;  // a feature that is never finite
      const double kl = metrics::kl_divergence(pv, qv, config.kl_smoothing);
      kl_max = std::max(kl_max, kl);
      kl_sum += kl;
      ++columns;
    }
    if (columns > 0) {
      a.kl_histograms_max = kl_max;
      a.kl_histograms_mean = kl_sum / columns;
    }
    std::remove(baseline_output->c_str());
  }

  if (const auto& counts = run.scoring.labels) {
    const std::uint64_t tp = counts->tp, fp = counts->fp, tn = counts->tn, fn = counts->fn;
    const std::uint64_t bad = tp + fn;
    const std::uint64_t n = tp + fp + tn + fn;
    const auto truth = two_bins(bad, n);
    const auto par = two_bins(r.parallel.flagged, n);
    a.label_distribution = metrics::distribution(truth);
    a.parallel_flag_distribution = metrics::distribution(par);
    a.kl_labels_parallel = metrics::kl_divergence(truth, par, config.kl_smoothing);
    if (r.sequential) {
      const auto seq = two_bins(r.sequential->flagged, n);
      a.sequential_flag_distribution = metrics::distribution(seq);
      a.kl_labels_sequential = metrics::kl_divergence(truth, seq, config.kl_smoothing);
      if (*a.kl_labels_parallel > 0) a.accuracy_ratio = *a.kl_labels_sequential / *a.kl_labels_parallel;
    }
    a.tp = tp;
    a.fp = fp;
    a.tn = tn;
    a.fn = fn;
  }

  const auto& w = config.weights;
  std::optional<double> inv_kl;
  if (a.kl_labels_parallel && *a.kl_labels_parallel > 0) inv_kl = 1.0 / *a.kl_labels_parallel;
  std::optional<double> gpu;
  if (r.parallel.gpu_utilisation) gpu = *r.parallel.gpu_utilisation / 100.0;
  c.score_terms = {{"inverse_time", {w.time, r.parallel.wall_s > 0 ? std::optional(1.0 / r.parallel.wall_s) : std::nullopt}},
                   {"inverse_kl", {w.kl, inv_kl}},
                   {"memory_efficiency", {w.memory, c.memory_efficiency}},
                   {"gpu_efficiency", {w.gpu, gpu}}};
  std::vector<metrics::ScoreTerm> terms;
  for (const auto& [name, t] : c.score_terms) terms.push_back(t);
  c.score = metrics::combined_score(terms);
  return r;
}

}  // namespace

WorkerStats operator+(const WorkerStats& a, const WorkerStats& b) {
  WorkerStats s;
  s.units = a.units + b.units;
  s.wafers = a.wafers + b.wafers;
  s.samples = a.samples + b.samples;
  s.bytes = a.bytes + b.bytes;
  s.read_s = a.read_s + b.read_s;
  s.compute_s = a.compute_s + b.compute_s;
  s.reduce_s = a.reduce_s + b.reduce_s;
  s.wait_s = a.wait_s + b.wait_s;
  return s;
}

report::RunReport run_parallel(const JobConfig& requested, MPI_Comm comm) {
  Team team;
  team.comm = comm;
  MPI_Comm_rank(comm, &team.rank);
  MPI_Comm_size(comm, &team.size);
  StopRequest::install_signal_handler();
  // Rank 0 checks the paths, locks the output and the store (held until the run returns) and
  // reads the input's metadata once in a child: a file on which HDF5 crashes or loops is bad
  // input (exit 2), not a dead or hung job. The other ranks wait for the verdict.
  std::unique_ptr<RunGuard> guard;
  JobConfig config = requested;
  // Rank 0 alone warns about costly storage, once, before the work (and in the report).
  std::vector<std::string> warnings;
  {
    std::string error;
    if (team.rank == 0) {
      try {
        guard = std::make_unique<RunGuard>(config);
        warnings = check_input_isolated(config.input, config.rank_timeout_s);
        for (const auto& w : warnings) std::fprintf(stderr, "wafermill: warning: %s\n", w.c_str());
      } catch (const InputError& e) {
        error = e.what();
      }
    }
    int len = static_cast<int>(error.size());
    MPI_Bcast(&len, 1, MPI_INT, 0, comm);
    if (len > 0) {
      error.resize(static_cast<std::size_t>(len));
      MPI_Bcast(error.data(), len, MPI_CHAR, 0, comm);
      throw CollectiveInputError(error);
    }
    // A store that cannot be created is no store for every rank (the run says so).
    int usable = team.rank == 0 && !guard->store_dir().empty() ? 1 : 0;
    MPI_Bcast(&usable, 1, MPI_INT, 0, comm);
    if (!usable && !config.store_path().empty()) {
      config.store = "none";
      config.resume = false;
    }
  }
  set_termination_store(config.store_path());
  // Maps and images first (docs/PICTURES.md); an input holding only those ends here.
  // One deadline for the whole run (--time-limit counts from here), both passes.
  const StopRequest stop(config.time_limit_s);
  PictureOutcome pictures = run_pictures(config, comm, stop);
  if (!pictures.has_traces) {
    report::RunReport r = std::move(pictures.report);
    r.parallel.store_failure = store_failure_anywhere(team);
    if (team.rank == 0) add_picture_baseline(config, r);
    sleepy_barrier(comm);
    return r;
  }
  const LocalRun run = execute(config, team, config.policy, pictures.results.get(), stop);
  if (run.stopped) throw StoppedEarly(run.stop_message);

  const report::RankFigures mine = rank_figures(run, team.rank);
  std::vector<report::RankFigures> all = gather_figures(mine, team);
  const std::optional<std::string> store_problem = store_failure_anywhere(team);

  report::RunReport result;
  if (team.rank == 0) {
    std::map<std::string, int> per_host;
    for (const auto& f : all) ++per_host[f.host];
    std::vector<std::string> hosts;
    int per_node = 0;
    for (const auto& [h, n] : per_host) {
      hosts.push_back(h);
      per_node = std::max(per_node, n);
    }
    report::RunFigures parallel = run_figures(run, std::move(all), config, config.policy, true);
    parallel.store_failure = store_problem;
    result = build_report(config, run, std::move(parallel), hosts, per_node, self_exe());
    result.pictures = pictures.json;
    result.warnings = warnings;
    if (run.model) {
      const model::PcaModel& m = run.model->model;
      result.monitoring = nlohmann::json{{"path", run.model->path},
                                         {"components", m.n_components},
                                         {"columns", m.n_columns()},
                                         {"t2_limit", m.t2_limit},
                                         {"spe_limit", m.spe_limit},
                                         {"false_alarm_rate", m.false_alarm_rate},
                                         {"heldout_false_alarm_rate", m.heldout_false_alarm_rate},
                                         {"n_reference", m.n_reference},
                                         {"method", m.method},
                                         {"warning", m.warning},
                                         {"flagged", run.scoring.flagged},
                                         {"flagged_t2", run.scoring.flagged_t2},
                                         {"flagged_spe", run.scoring.flagged_spe}};
      if (const auto& d = run.scoring.drift) result.monitoring->operator[]("drift") = model::drift_json(m, *d);
      if (!m.warning.empty()) result.warnings.push_back(run.model->path + ": " + m.warning);
    }
    if (result.pictures && result.sequential && result.sequential->pictures)
      compare_pictures(*result.pictures, *result.sequential->pictures);
  } else {
    result.parallel.per_rank.push_back(mine);
  }
  sleepy_barrier(comm);  // the others wait, without spinning, while rank 0 runs the baseline
  return result;
}

report::RunFigures run_sequential(const JobConfig& config) {
  const Team team;  // one process, no MPI
  const StopRequest stop(config.time_limit_s);
  const PictureOutcome pictures = run_pictures(config, MPI_COMM_NULL, stop);
  if (!pictures.has_traces) {
    report::RunFigures f;
    f.ranks = 1;
    f.policy = "sequential";
    f.backend = "cpu";
    f.io = "posix";
    f.wall_s = pictures.json->value("wall_s", 0.0);
    f.peak_rss_max_bytes = f.peak_rss_total_bytes = metrics::peak_rss_bytes();
    f.pictures = pictures.json;
    return f;
  }
  const LocalRun run = execute(config, team, "static", pictures.results.get(), stop);
  if (run.stopped) throw StoppedEarly(run.stop_message);
  report::RunFigures f = run_figures(run, {rank_figures(run, 0)}, config, "sequential", false);
  f.pictures = pictures.json;
  return f;
}

}  // namespace wafermill::job
