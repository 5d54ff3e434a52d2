#include "wafermill/job/pipeline.hpp"

#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <csignal>
#include <filesystem>
#include <map>
#include <thread>

#include "collector.hpp"
#include "drive/fault_injection.hpp"
#include "drive/stop_request.hpp"
#include "drive/team.hpp"
#include "drive/units.hpp"
#include "drive/watchdog.hpp"
#include "fleet_shift.hpp"
#include "picture_pipeline.hpp"
#include "safety/run_guard.hpp"
#include "safety/temp_output_guard.hpp"
#include "scoring.hpp"
#include "store/content_hash.hpp"
#include "store/file_records.hpp"
#include "store/result_store.hpp"
#include "store/resume.hpp"
#include "store/store_directory.hpp"
#include "wafermill/config.hpp"
#include "wafermill/error.hpp"
#include "wafermill/format/datasets.hpp"
#include "wafermill/format/feature_file.hpp"
#include "wafermill/format/trace_index.hpp"
#include "wafermill/job/baseline.hpp"
#include "wafermill/job/input_sandbox.hpp"
#include "wafermill/metrics/gpu_utilisation.hpp"
#include "wafermill/metrics/metrics.hpp"
#include "wafermill/partition/policy.hpp"
#include "wafermill/report/comparison.hpp"
#include "worker.hpp"

namespace wafermill::job {
namespace {

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
  for (const auto& s : index.files()) {
    struct stat st {};
    if (::stat(s.path.c_str(), &st) == 0) {
      mix(&st.st_size, sizeof st.st_size);
      mix(&st.st_mtim, sizeof st.st_mtim);
    }
  }
  mix(&index.n_samples, sizeof index.n_samples);
  mix(&index.n_sensors, sizeof index.n_sensors);
  mix(index.offsets.data(), index.offsets.size() * sizeof(std::uint64_t));
  char buf[32];
  std::snprintf(buf, sizeof buf, "fnv1a64:%016llx", static_cast<unsigned long long>(h));
  return buf;
}

// What the input checks read, per kept input file, on the rank that checked it (else ""):
// its trace index (InputVerdict::indexes) and its /wafers values (InputVerdict::fields).
struct CheckedInputs {
  std::vector<std::string> indexes;
  std::vector<std::string> fields;
};

// What one process did in a run.
struct LocalRun {
  format::TraceIndex index;
  // Rank 0, several input files: each file's /wafers values the checks read (gathered by
  // gather_field_values), or empty where rank 0 must read them from the file.
  std::vector<std::string> field_values;
  WorkerStats stats;
  std::string backend;
  // Reduced over the ranks (every rank has them):
  metrics::LatencySummary latency;
  ScoringResult scoring;
  std::optional<BoundModel> model;  // --model: every rank binds it
  std::uint64_t blocks_reused_all = 0, blocks_computed_all = 0;
  std::uint64_t files_reused = 0;   // input files whose every block came from the store
  std::uint64_t blocks_unread = 0;  // blocks whose key the file records gave (not read to hash)
  // Rank 0 only:
  double wall_s = 0.0, index_s = 0.0, scoring_s = 0.0;
  double serial_s = 0.0;                  // rank 0's work no other rank overlaps (docs/SCALING.md)
  std::optional<double> gpu_utilisation;  // E_GPU, percent (rank 0's node)
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
std::optional<BoundModel> bind_model_everywhere(const JobConfig& config,
                                                const format::TraceIndex& index, MPI_Comm comm) {
  if (config.model.empty()) return std::nullopt;
  std::string error;
  std::optional<BoundModel> b;
  try {
    b = bind_model(config.model, index.sensor_names, config.features.names(), index.n_steps,
                   index.time_windows);
    if (b->model.grouped())  // the group dataset the model names must be in the input(s)
      for (const auto& s : index.files())
        model::read_group_keys(s.path, b->model.group_by, s.n_wafers, 0, 0);
  } catch (const InputError& e) {
    error = e.what();
  }
  if (any_rank(Team(comm), !error.empty()))
    throw CollectiveInputError(error.empty() ? config.model + ": a rank could not read the model"
                                             : error);
  return b;
}

// The indexes of several files, read by every rank for its share of the files (file k by rank
// k mod P), exchanged whole, and merged by every rank alike (format::merge_trace_indexes). The
// first bad file in the input order is every rank's CollectiveInputError.
format::TraceIndex read_indexes_spread(const JobConfig& config, const Team& team,
                                       const std::vector<std::string>* checked) {
  const std::vector<std::string> files = config.input_files();
  // File k's blob: 1 and its index, or 0 and the error reading it.
  std::vector<std::string> mine(files.size());
  for (std::size_t k = static_cast<std::size_t>(team.rank); k < files.size();
       k += static_cast<std::size_t>(team.size)) {
    try {
      // The index the input check read on this rank, else read now.
      if (checked != nullptr && k < checked->size() && !(*checked)[k].empty()) {
        mine[k] = '\1' + (*checked)[k];
      } else {
        const std::vector<char> bytes = format::read_trace_index(files[k]).serialize();
        mine[k] = '\1' + std::string(bytes.begin(), bytes.end());
      }
    } catch (const InputError& e) {
      mine[k] = '\0' + std::string(e.what());
    }
  }
  const auto all = exchange_file_blobs(team, mine, files.size(), BlobsTo::every_rank, UINT64_MAX);
  if (!all) throw CollectiveInputError(config.input + ": the input files' indexes exceed 2 GiB");
  std::vector<format::TraceIndex> indexes(files.size());
  std::vector<std::string> errors(files.size());
  for (std::size_t k = 0; k < files.size(); ++k) {
    const std::string& blob = (*all)[k];
    if (blob.empty()) continue;
    if (blob.front() == '\1')
      indexes[k] = format::TraceIndex::deserialize(std::vector<char>(blob.begin() + 1, blob.end()));
    else
      errors[k] = blob.substr(1);
  }
  for (const auto& e : errors)
    if (!e.empty()) throw CollectiveInputError(e);
  try {
    return format::merge_trace_indexes(std::move(indexes), config.input);
  } catch (const InputError& e) {
    throw CollectiveInputError(e.what());
  }
}

// Several files: the /wafers values the input checks read, gathered on rank 0 (its output
// copy then opens no input file), when they are at most kMaxGatheredFields in all; else none
// (rank 0 reads every file's values itself, as for a file whose values were not carried).
// Collective. Rank 0 returns one entry per file ("" where not carried); other ranks nothing.
constexpr std::uint64_t kMaxGatheredFields = 256ULL << 20;

std::vector<std::string> gather_field_values(const Team& team, std::size_t n_files,
                                             const std::vector<std::string>* fields) {
  static const std::vector<std::string> kNone;
  auto gathered = exchange_file_blobs(team, fields != nullptr ? *fields : kNone, n_files,
                                      BlobsTo::root, kMaxGatheredFields);
  return gathered ? std::move(*gathered) : std::vector<std::string>{};
}

// Rank 0 reads the index; bad input is broadcast so every rank throws the same
// CollectiveInputError. Then every rank has the index. Several files: read_indexes_spread.
// `checked`: per input file, what its input check read on this rank (or "").
void read_index_of_files(const JobConfig& config, const Team& team, LocalRun& run,
                         const CheckedInputs* checked) {
  std::string error;
  if (config.input_files().size() > 1) {
    metrics::Stopwatch watch;
    run.index = read_indexes_spread(config, team, checked ? &checked->indexes : nullptr);
    run.field_values = gather_field_values(team, config.input_files().size(),
                                           checked ? &checked->fields : nullptr);
    run.index_s = watch.elapsed();
    return;
  }
  if (team.rank == 0) {
    metrics::Stopwatch watch;
    try {
      if (checked != nullptr && checked->indexes.size() == 1 && !checked->indexes.front().empty())
        run.index = format::TraceIndex::deserialize(
            std::vector<char>(checked->indexes.front().begin(), checked->indexes.front().end()));
      else
        run.index = format::read_trace_index(config.input_files().front());
    } catch (const InputError& e) {
      error = e.what();
      if (error.empty()) error = "bad input";
    }
    run.index_s = watch.elapsed();
  }
  share_error(team, error);
  if (!team.mpi()) return;
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

// read_index_of_files, then the time windows of --time-windows: every rank alike on the same
// index, so a file with recipe steps is the same CollectiveInputError everywhere.
void read_index_everywhere(const JobConfig& config, const Team& team, LocalRun& run,
                           const CheckedInputs* checked) {
  read_index_of_files(config, team, run, checked);
  try {
    format::use_time_windows(run.index, config.time_windows);
  } catch (const InputError& e) {
    throw CollectiveInputError(e.what());
  }
}

// Every rank must agree that the backend exists before any starts working.
std::unique_ptr<features::FeatureBackend> make_backend_everywhere(
    const JobConfig& config, const features::FeatureLayout& layout, const Team& team) {
  std::unique_ptr<features::FeatureBackend> backend;
  std::string error;
  // --backend auto means what it means in the picture pass: the GPUs only when every rank has
  // one (a job whose ranks compute on different backends would be measured as neither).
  features::BackendOptions options = config.backend;
  if (options.name == "auto") {
    options.name = every_rank(team, features::cuda_device_count() > 0) ? "cuda" : "cpu";
  }
  try {
    // The backend's median buffers take an eighth of the budget (the worker leaves it a
    // quarter: worker.cpp).
    options.host_scratch_bytes = std::max<std::uint64_t>(config.memory_budget_bytes / 8, 1);
    backend = features::make_backend(options, layout);
  } catch (const InputError& e) {
    error = e.what();
  }
  if (any_rank(team, !error.empty()))
    throw CollectiveInputError(error.empty() ? "a rank could not create the backend" : error);
  return backend;
}

// `pictures`: the picture pass's outcome (every rank's rows, rank 0's results), written into
// the same output.
LocalRun execute(const JobConfig& config, const Team& team, const std::string& policy_name,
                 const PictureOutcome* pictures, const StopRequest& stop,
                 const CheckedInputs* checked = nullptr) {
  LocalRun run;
  if (team.mpi()) MPI_Barrier(team.comm);
  metrics::Stopwatch wall;
  read_index_everywhere(config, team, run, checked);
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
  format::FeatureFileLayout layout_out = output_layout(index, config);
  if (pictures) pictures->add_to(layout_out);
  format::FeatureFileWriter writer(config.output, layout_out, config.force,
                                   team.mpi() ? team.comm : MPI_COMM_NULL);
  if (pictures) pictures->write_rows(writer);
  std::unique_ptr<TempOutputGuard> guard;
  if (team.rank == 0) guard = std::make_unique<TempOutputGuard>(writer.temp_path());

  // Blocks restart at every input file (docs/FORMAT.md "Several input files").
  const std::vector<std::uint64_t> file_starts = index.source_first_wafers();
  const partition::BlockPlan plan(index.offsets, config.block_size, 0.0, file_starts);
  partition::PolicyOptions popt;
  popt.factor = config.dynamic_factor;
  // A compressed chunk is decompressed by every rank that reads part of it: dynamic units of at
  // least four chunks keep that repeat work under a quarter (measured on the demo: busy time
  // doubled at P=2 with units smaller than a chunk).
  if (index.values_filtered)
    popt.min_unit_weight = 4.0 * static_cast<double>(index.values_chunk_rows);
  const auto policy = partition::make_policy(policy_name, popt);

  format::TraceReader reader(index, team.mpi() ? config.io : format::IoDriver::posix,
                             team.mpi() ? team.comm : MPI_COMM_NULL);
  WorkerStats& stats = run.stats;
  UnitFaults faults{FaultInjection::from_environment(team.rank)};
  const std::uint64_t digest = config_digest(config, index, run.backend);
  const std::string store_dir = config.store_path();
  const std::string hint = resume_hint(store_dir);
  // Workers beat at a quarter of the timeout, so one late beat is no false alarm.
  const double rank_timeout = team.mpi() ? config.rank_timeout_s : 0.0;

  // Every rank: its store (the rank that computes a block keeps it), its collector, its worker.
  std::unique_ptr<ResultStore> store;
  if (!store_dir.empty()) store = std::make_unique<ResultStore>(store_dir, plan, layout);
  if (team.rank == 0 && config.resume)
    remove_stale_output_temporaries(config.output, writer.temp_path());
  Progress progress(index.n_wafers, config.progress_interval_s, team.rank == 0 && !config.quiet);
  // The rows stay in memory for the scoring pass (KeptRows) within what the budget leaves beside
  // the worker's buffers and no more than an eighth of the budget with the pass's read buffer:
  // the pass's peak is then bounded whether its rows are kept or read, and peak RSS stays flat
  // as the input grows (bench/run.sh's growth target; with budget_left_by_worker alone, 81 ->
  // 240 MiB from 1 to 4 GB at P = 1). Past the limit the leading rows stay kept, the rest read.
  Collector collector(writer, layout, config.histogram_bins, team.rank == 0 ? &progress : nullptr,
                      stats.reduce_s, store.get(), choose_fleet_shift(index, reader, team),
                      std::min(budget_left_by_worker(index, config),
                               scoring_kept_bytes(config.memory_budget_bytes)));
  Worker worker(index, config, plan, reader, *backend, collector);
  worker.set_key_digest(digest);
  worker.set_stop(&stop);

  // Rank 0 stamps every input file now: a complete run records these stamps with the files'
  // block keys (store/file_records.hpp), so a file changed while the run read it is read again
  // next time. A resume takes the keys of unchanged files from those records, unread.
  const std::vector<format::TraceSource> files = index.files();
  std::vector<std::optional<FileStamp>> stamps;
  if (store && team.rank == 0)
    for (const auto& f : files) stamps.push_back(file_stamp(f.path));
  const auto file_blocks = [&](std::size_t k) {
    const std::uint64_t b0 = plan.first_block_at(file_starts[k]);
    return std::pair(
        b0, k + 1 < file_starts.size() ? plan.first_block_at(file_starts[k + 1]) : plan.n_blocks());
  };
  KnownKeys known;
  if (config.resume && store && !config.rehash) {
    std::vector<std::uint64_t> words;  // per block: key, known
    if (team.rank == 0) {
      words.assign(2 * plan.n_blocks(), 0);
      const FileRecords records = FileRecords::read(store_dir);
      for (std::size_t k = 0; k < files.size(); ++k) {
        const auto [b0, b1] = file_blocks(k);
        const std::vector<std::uint64_t>* keys =
            stamps[k] ? records.keys(files[k].path, digest, *stamps[k], b1 - b0) : nullptr;
        for (std::uint64_t b = b0; keys != nullptr && b < b1; ++b) {
          words[2 * b] = (*keys)[b - b0];
          words[2 * b + 1] = 1;
        }
      }
    }
    share_words(team, words);
    known.key.resize(words.size() / 2);
    known.known.resize(words.size() / 2);
    for (std::size_t b = 0; b < known.key.size(); ++b) {
      known.key[b] = words[2 * b];
      known.known[b] = static_cast<std::uint8_t>(words[2 * b + 1]);
    }
  }

  // The resume pass first (collective): blocks the store already holds are not computed again.
  // Rank 0's main thread is watched through it as through the units.
  std::vector<std::uint8_t> reused;
  if (config.resume && store) {
    SelfWatchdog self(team.comm, team.rank, team.rank == 0 ? rank_timeout : 0.0, &plan, hint);
    self.holds({}, "in the resume pass");
    reused = resume_from_store(
        team.comm, team.rank, team.size, plan, worker, *store, collector, [&self] { self.beat(); },
        config.quiet, known);
    run.blocks_unread = known.count();  // the same on every rank
  }
  worker.set_reused(reused.empty() ? nullptr : &reused);
  if (!reused.empty())
    for (std::size_t k = 0; k < file_starts.size(); ++k) {
      const auto [b0, b1] = file_blocks(k);
      run.files_reused += b1 > b0 && std::all_of(reused.begin() + static_cast<std::ptrdiff_t>(b0),
                                                 reused.begin() + static_cast<std::ptrdiff_t>(b1),
                                                 [](std::uint8_t r) { return r != 0; });
    }

  // The units, through the driver every pass shares (units.hpp). Its watchdogs are armed for
  // the units only: the scoring pass and the baseline may legitimately run longer than the
  // timeout without a beat.
  UnitDriverOptions units;
  units.tags = kTraceTags;
  units.timeout_s = rank_timeout;
  units.resume_hint = hint;
  units.stop = [&stop] { return stop.requested(); };
  units.faults = &faults;
  units.progress = team.rank == 0 ? &progress : nullptr;
  units.items_done = [&collector] { return collector.wafers_done(); };
  units.wait_s = &stats.wait_s;
  drive_units(team, *policy, plan, units,
              [&worker](const partition::WorkUnit& unit, const std::function<void()>& poll) {
                return worker.process(unit, poll);
              });
  if (team.rank == 0) progress.finish();
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
      run.stop_message = "stopped early by " +
                         (stop.requested() ? stop.reason() : std::string("a rank's stop request")) +
                         " after " + std::to_string(done) + " of " +
                         std::to_string(plan.n_blocks()) + " blocks; no output was written. " +
                         hint;
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
  // The store now holds exactly this run's keys: rank 0 gathers them and drops every other entry
  // (collective; store/resume.hpp).
  if (store) {
    std::vector<std::uint64_t> by_block(team.rank == 0 ? plan.n_blocks() : 0, 0);
    prune_to_run(team.comm, team.rank, *store, collector.keys(), collector.storing(),
                 team.rank == 0 ? &by_block : nullptr);
    // Rank 0 records each input file's stamp and keys for the next resume (a key of 0: a
    // block no rank could report; its file is not recorded and is read next time).
    if (team.rank == 0 && collector.storing()) {
      FileRecords records;
      for (std::size_t k = 0; k < files.size(); ++k) {
        const auto [b0, b1] = file_blocks(k);
        std::vector<std::uint64_t> keys(by_block.begin() + static_cast<std::ptrdiff_t>(b0),
                                        by_block.begin() + static_cast<std::ptrdiff_t>(b1));
        if (stamps[k] && std::find(keys.begin(), keys.end(), 0) == keys.end())
          records.set(files[k].path, {digest, *stamps[k], std::move(keys)});
      }
      try {
        records.write(store_dir);
      } catch (const std::exception& e) {
        store_unwritable(store_dir, e.what());
      }
    }
  }
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
    writer.copy_wafer_fields(index, run.field_values);
    if (pictures && pictures->results) writer.write_pictures(*pictures->results);
    writer.set_attribute("wafermill_version", std::string(WAFERMILL_VERSION));
    writer.set_attribute("git_revision", std::string(WAFERMILL_GIT_REVISION));
    writer.set_attribute("configuration", config.to_json().dump());
    writer.set_attribute("ranks", static_cast<std::int64_t>(team.size));
    writer.set_attribute("policy", policy_name);
    writer.set_attribute("backend", run.backend);
    writer.set_attribute("input", config.input);
    if (index.time_windows > 0)  // what /features/by_step's steps are (fit records it)
      writer.set_attribute("time_windows", static_cast<std::int64_t>(index.time_windows));
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
  f.host = metrics::host_name();
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
      out.push_back(
          report::rank_figures_from_json(nlohmann::json::parse(all.substr(displs[r], lens[r]))));
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
  f.files = run.index.n_files();
  f.files_reused = run.files_reused;
  f.blocks_unread = run.blocks_unread;
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
  if (!any_rank(team, !store_failure().empty())) return std::nullopt;
  return store_failure().empty() ? std::string("a rank could not write its blocks")
                                 : store_failure();
}

std::string self_exe() {
  char exe[4096] = {0};
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  return n > 0 ? std::string(exe, n) : std::string("wafermill");
}

// With one rank and --baseline run, the run is itself the single-rank sequential run: the
// child would repeat the whole computation (doubling the user's time) to report a speedup of
// 1 +- noise. The run is then its own baseline; --baseline repeat starts the child anyway (a
// reproducibility check). A resumed run (store reuse) or one under a time limit may not have
// done the whole computation, so those keep the child.
bool run_is_own_baseline(const JobConfig& config, int ranks) {
  return config.baseline == "run" && ranks == 1 && !config.resume && config.time_limit_s <= 0.0;
}

constexpr const char* kOwnBaselineNote =
    "this run (one rank): no child started; the sequential figures are the run's own, so "
    "speedup, efficiency and memory efficiency are 1 and the outputs and histograms (KL 0) "
    "are the same file by construction, not a check (--baseline repeat runs the child)";

// The baseline of a run whose input holds maps or images but no traces: the same single-rank
// child (or an earlier single-rank report), compared kind by kind and file against file.
void add_picture_baseline(const JobConfig& config, report::RunReport& r) {
  auto& c = r.comparison;
  c.baseline_source = config.baseline;
  if (run_is_own_baseline(config, r.parallel.ranks)) {
    r.sequential = r.parallel;
    r.sequential->pictures = r.pictures;  // the same digests and timings: speedup 1, identical
    c.outputs_identical = true;
    c.baseline_note = kOwnBaselineNote;
  } else if (config.baseline == "run" || config.baseline == "repeat") {
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
  p.started_utc = metrics::utc_now();
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
  for (std::uint64_t w = 0; w < run.index.n_wafers; ++w)
    p.n_wafers_one_sample += run.index.wafer_rows(w) == 1;
  r.config = config.to_json();
  r.parallel = std::move(parallel);
  auto& c = r.comparison;
  auto& a = r.accuracy;
  a.smoothing_alpha = config.kl_smoothing;

  c.baseline_source = config.baseline;
  std::optional<std::string> baseline_output;
  const bool own_baseline = run_is_own_baseline(config, r.parallel.ranks);
  if (own_baseline) {
    r.sequential = r.parallel;
    c.baseline_note = kOwnBaselineNote;
  } else if (config.baseline == "run" || config.baseline == "repeat") {
    BaselineRun b = run_baseline_child(config, exe);
    r.sequential = b.figures;
    baseline_output = b.output_path;
  } else if (config.baseline != "none") {
    r.sequential = load_baseline(config.baseline);
  }

  if (r.sequential) {
    c.scaling = metrics::scaling(r.sequential->wall_s, r.parallel.wall_s, r.parallel.ranks);
    if (r.parallel.peak_rss_total_bytes > 0)
      c.memory_efficiency =
          double(r.sequential->peak_rss_total_bytes) / r.parallel.peak_rss_total_bytes;
  }
  if (own_baseline) {
    // Nothing to compare: the baseline's output and histograms are this run's own.
    c.outputs_identical = true;
    a.kl_histograms_max = 0.0;
    a.kl_histograms_mean = 0.0;
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
    report::add_histogram_kl(a, ref, got, dims.empty() ? 0 : dims.back());
    std::remove(baseline_output->c_str());
  }

  if (const auto& counts = run.scoring.labels)
    report::add_label_accuracy(a, counts->tp, counts->fp, counts->tn, counts->fn,
                               r.parallel.flagged,
                               r.sequential ? std::optional(r.sequential->flagged) : std::nullopt);
  const auto& w = config.weights;
  report::add_combined_score(r, {w.time, w.kl, w.memory, w.gpu});
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
  const Team team(comm);
  StopRequest::install_signal_handler();
  // Rank 0 checks the paths and locks the output and the store (held until the run returns).
  // Then every input's metadata is read once in a child process, the files shared over the
  // ranks (check_inputs_spread): a file on which HDF5 crashes or loops is bad input (exit 2),
  // not a dead or hung job; with --skip-bad-files it is left out and listed in the report.
  std::unique_ptr<RunGuard> guard;
  JobConfig config = requested;
  // Rank 0 alone warns about costly storage, once, before the work (and in the report).
  std::vector<std::string> warnings;
  std::vector<report::SkippedFile> skipped_files;
  CheckedInputs checked;  // what the input checks read (InputVerdict::indexes, fields)
  {
    std::string error;
    if (team.rank == 0) {
      try {
        guard = std::make_unique<RunGuard>(config);
      } catch (const InputError& e) {
        error = e.what();
      }
    }
    share_error(team, error);
    std::vector<std::string> files = config.input_files();
    const std::vector<InputCheck> checks =
        check_inputs_spread(files, config.rank_timeout_s, team.comm);
    InputVerdict verdict;
    try {  // the same verdicts on every rank: the same outcome everywhere
      verdict = judge_inputs(files, checks, config.skip_bad_files);
    } catch (const InputError& e) {
      throw CollectiveInputError(e.what());
    }
    if (!config.inputs.empty()) config.inputs = verdict.files;  // else one `input`, built by hand
    // One file left (a directory of one, a manifest of one, the rest skipped): the run is that
    // file's run, as if named alone (the picture pass reads `input`).
    if (verdict.files.size() == 1) config.input = verdict.files.front();
    warnings = std::move(verdict.warnings);
    skipped_files = std::move(verdict.skipped);
    checked.indexes = std::move(verdict.indexes);
    checked.fields = std::move(verdict.fields);
    if (team.rank == 0) {
      for (const auto& f : skipped_files)
        std::fprintf(stderr,
                     "wafermill: warning: skipping a bad input file (--skip-bad-files): %s\n",
                     f.reason.c_str());
      constexpr std::size_t kPrinted = 10;  // thousands of files may share one storage problem
      for (std::size_t i = 0; i < warnings.size() && i < kPrinted; ++i)
        std::fprintf(stderr, "wafermill: warning: %s\n", warnings[i].c_str());
      if (warnings.size() > kPrinted)
        std::fprintf(stderr, "wafermill: warning: ... and %zu more such warnings (in the report)\n",
                     warnings.size() - kPrinted);
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
    r.skipped_files = skipped_files;
    if (team.rank == 0) add_picture_baseline(config, r);
    sleepy_barrier(comm);
    return r;
  }
  const LocalRun run = execute(config, team, config.policy, &pictures, stop, &checked);
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
    result.skipped_files = skipped_files;
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
                                         {"flagged_spe", run.scoring.flagged_spe},
                                         {"flagged_univariate", run.scoring.flagged_univariate},
                                         {"univariate_limit", m.univariate_limit},
                                         {"group_by", m.group_by},
                                         {"unknown_group", run.scoring.unknown_group}};
      if (run.scoring.unknown_group > 0)  // the stated rule: the fleet's statistics, counted
        result.warnings.push_back(std::to_string(run.scoring.unknown_group) +
                                  " wafers of a group (/wafers/" + m.group_by +
                                  ") the model does not know: scaled by the reference's "
                                  "fleet-wide statistics");
      if (const auto& d = run.scoring.drift)
        result.monitoring->operator[]("drift") = model::drift_json(m, *d);
      if (!m.warning.empty()) result.warnings.push_back(run.model->path + ": " + m.warning);
    } else if (const auto& f = run.scoring.fleet) {  // issue 15: the verdict without a model
      result.monitoring = model::fleet_fit_json(*f, config.threshold > 0.0);
      if (!f->warning.empty()) {
        std::fprintf(stderr, "wafermill: warning: %s\n", f->warning.c_str());
        result.warnings.push_back(f->warning);
      }
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
  const LocalRun run = execute(config, team, "static", &pictures, stop);
  if (run.stopped) throw StoppedEarly(run.stop_message);
  report::RunFigures f = run_figures(run, {rank_figures(run, 0)}, config, "sequential", false);
  f.pictures = pictures.json;
  return f;
}

}  // namespace wafermill::job
