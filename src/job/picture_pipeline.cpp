// The picture pass (docs/PICTURES.md). Maps: per-wafer features and per-shape fail counts.
// Images: per-image statistics and per-pixel sums (pass 1), the golden image, then a scoring
// pass (pass 2). Work units of whole reduction blocks over the trace policies; every
// reduction sums integers (fail counts in uint64, pixel sums in double below 2^53), so the
// results are bitwise the same for any number of ranks and any policy.
#include "picture_pipeline.hpp"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <map>
#include <memory>
#include <numeric>

#include "drive/fault_injection.hpp"
#include "drive/stop_request.hpp"
#include "drive/team.hpp"
#include "drive/units.hpp"
#include "safety/temp_output_guard.hpp"
#include "store/content_hash.hpp"
#include "store/picture_store.hpp"
#include "store/store_directory.hpp"
#include "wafermill/config.hpp"
#include "wafermill/error.hpp"
#include "wafermill/format/datasets.hpp"
#include "wafermill/format/feature_file.hpp"
#include "wafermill/format/picture_reader.hpp"
#include "wafermill/format/picture_results.hpp"
#include "wafermill/job/pipeline.hpp"
#include "wafermill/metrics/latency_sketch.hpp"
#include "wafermill/metrics/metrics.hpp"
#include "wafermill/partition/policy.hpp"
#include "wafermill/pictures/die_map.hpp"
#include "wafermill/pictures/gpu.hpp"
#include "wafermill/pictures/inspection_image.hpp"
#include "wafermill/reduce/device_sum.hpp"

namespace wafermill::job {
namespace {

using nlohmann::json;

// Where this rank's pictures are computed: `device` is the CUDA device, or none for the CPU;
// `nccl` says the golden sums may be all-reduced with NCCL (every rank on a device of its own:
// NCCL refuses two ranks of one communicator on the same GPU).
struct PictureDevice {
  std::optional<int> device;
  bool nccl = false;
};

// What the picture passes share: the result store (--resume) and the tests' fault injection
// (WAFERMILL_FAULT: picture units count before the trace pass's).
struct PictureContext {
  PictureStore store;
  bool resume = false;
  UnitFaults faults;
  const StopRequest* stop = nullptr;  // SIGUSR1 or --time-limit
  std::string store_dir;              // "" with --store none
  // Blocks get content keys only when there is a store to key (the same on every rank: a
  // rank whose store failed still takes part in the collective sums of the keys).
  bool keyed = false;
  double timeout_s = 0.0;  // --rank-timeout, as in the trace pass
  bool stop_requested() const { return stop != nullptr && stop->requested(); }
  // Runs body(unit, poll) over this rank's units through the driver every pass shares
  // (units.hpp); returns true when this rank left units undone.
  template <class Body>
  bool drive(const Team& team, const partition::PartitionPolicy& policy,
             const partition::BlockPlan& plan, const Body& body) {
    UnitDriverOptions o;
    o.tags = kPictureTags;
    o.timeout_s = timeout_s;
    o.resume_hint = resume_hint(store_dir);
    o.stop = [this] { return stop_requested(); };
    o.faults = &faults;
    o.phase = "computing a picture unit";
    return drive_units(team, policy, plan, o,
                       [&body](const partition::WorkUnit& unit, const std::function<void()>& poll) {
                         body(unit, poll);
                         return true;
                       });
  }
  // After a pass's units: when any rank left units undone, every rank throws StoppedEarly.
  void agree_complete(const Team& team, bool left, const char* pass) const {
    if (!any_rank(team, left)) return;
    throw StoppedEarly("stopped early by " +
                       (stop_requested() ? stop->reason() : std::string("a rank's stop request")) +
                       " in the " + pass + "; no output was written. " + resume_hint(store_dir));
  }
};

// Seeds of the store keys: a change of what a block's result means changes its seed.
constexpr std::uint64_t kMapsKeySeed = 0x32'7370'616d;    // "maps2": 37 features, trained patterns
constexpr std::uint64_t kScoresKeySeed = 0x31'7365'726f;  // "ores1"

// Work figures of one rank in one pass.
struct PassStats {
  double units = 0, items = 0, bytes = 0, read_s = 0, compute_s = 0;
};

// A 64-bit digest as 16 hex digits, as the report shows it.
std::string hex64(std::uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// Hash64 of a buffer, as hex: equal digests across runs mean bitwise-equal results.
template <class T>
std::string digest(const std::vector<T>& v) {
  Hash64 h;
  h.add_bytes(v.data(), v.size() * sizeof(T));
  return hex64(h.finish());
}

// A digest of per-item rows that does not depend on which rank computed a row or in what
// order: the sum (mod 2^64) of each row's hash seeded by its item, reduced with one integer
// sum. Equal digests across runs mean bitwise-equal rows (up to a 64-bit collision), with no
// rank ever holding another's rows.
class RowDigest {
 public:
  void add(std::uint64_t item, const double* row, std::size_t n) {
    Hash64 h(item);
    h.add_bytes(row, n * sizeof(double));
    sum_ += h.finish();  // unsigned: wraps mod 2^64
  }
  // Collective: the digest of every rank's rows, as hex, on every rank.
  std::string text(const Team& team) const { return hex64(sum_over(team, sum_)); }

 private:
  std::uint64_t sum_ = 0;
};

// Rows of `width` doubles from every rank, on rank 0, sorted by their first entry (the item).
std::vector<double> gather_rows(const Team& team, const std::vector<double>& mine,
                                std::size_t width) {
  std::vector<double> all = mine;
  if (team.mpi()) {
    int len = static_cast<int>(mine.size());
    std::vector<int> lens(team.size), displs(team.size);
    MPI_Gather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, 0, team.comm);
    if (team.rank == 0) {
      std::partial_sum(lens.begin(), lens.end() - 1, displs.begin() + 1);
      all.resize(displs.back() + lens.back());
    }
    MPI_Gatherv(mine.data(), len, MPI_DOUBLE, all.data(), lens.data(), displs.data(), MPI_DOUBLE, 0,
                team.comm);
  }
  if (team.rank != 0) return {};
  const std::size_t n = all.size() / width;
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](auto a, auto b) { return all[a * width] < all[b * width]; });
  std::vector<double> sorted(all.size());
  for (std::size_t i = 0; i < n; ++i)
    std::copy_n(all.begin() + order[i] * width, width, sorted.begin() + i * width);
  return sorted;
}

// Every rank's PassStats on rank 0, as JSON.
json per_rank_json(const Team& team, const PassStats& s) {
  std::vector<double> mine = {double(team.rank), s.units, s.items, s.bytes, s.read_s, s.compute_s};
  const auto all = gather_rows(team, mine, mine.size());
  json out = json::array();
  for (std::size_t i = 0; i + 6 <= all.size(); i += 6)
    out.push_back({{"rank", int(all[i])},
                   {"units", all[i + 1]},
                   {"items", all[i + 2]},
                   {"bytes", all[i + 3]},
                   {"read_s", all[i + 4]},
                   {"compute_s", all[i + 5]}});
  return out;
}

// Load balance of a pass over the ranks' busy times (read + compute), as for traces.
json balance_json(const json& per_rank) {
  std::vector<double> busy;
  for (const auto& r : per_rank)
    busy.push_back(r.at("read_s").get<double>() + r.at("compute_s").get<double>());
  const auto b = metrics::load_balance(busy);
  return {{"busy_sum_s", b.sum},
          {"busy_max_s", b.max},
          {"busy_mean_s", b.mean},
          {"imbalance", b.imbalance},
          {"model_speedup", b.model_speedup}};
}

// Percentiles from a sketch merged over the ranks (metrics::LatencySketch: within
// LatencySketch::relative_error()).
json latency_json(const metrics::LatencySketch& sketch) {
  const auto l = sketch.summary();
  return {{"n", l.n},       {"mean_s", l.mean}, {"p50_s", l.p50},
          {"p95_s", l.p95}, {"p99_s", l.p99},   {"max_s", l.max}};
}

// /truth/<name> as 0..255 labels, or nothing when the file has none.
std::optional<std::vector<std::uint64_t>> read_truth(const std::string& path,
                                                     const std::string& name, std::uint64_t n) {
  try {
    auto t = format::read_u64_dataset(path, "/truth/" + name);
    if (t.size() == n) return t;
  } catch (const InputError&) {
    // No truth recorded (real data): the report says so by leaving accuracy out.
  }
  return std::nullopt;
}

// ---- die maps --------------------------------------------------------------------------

// wafer, the features (map_feature_names()), pattern, latency
const std::size_t kMapRow = 3 + pictures::map_feature_names().size();

// `device`: the CUDA device computing the features, or none for the CPU.
json run_maps(const Team& team, const JobConfig& config, const format::MapIndex& index,
              const partition::PartitionPolicy& policy, std::optional<int> device,
              PictureContext& ctx, format::MapResults& results, PictureRows& mine) {
  if (team.mpi()) MPI_Barrier(team.comm);
  metrics::Stopwatch wall;
  const partition::BlockPlan plan(index.offsets, config.block_size);
  // The shapes in sorted order: every rank builds the same flat layout of fail counts.
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::uint64_t> shape_at;  // -> first count
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::uint64_t> shape_wafers;
  for (std::uint64_t w = 0; w < index.n_wafers; ++w) {
    shape_at[{index.rows[w], index.cols[w]}] = 0;
    ++shape_wafers[{index.rows[w], index.cols[w]}];
  }
  std::uint64_t total = 0;
  for (auto& [shape, at] : shape_at) {
    at = total;
    total += std::uint64_t(shape.first) * shape.second;
  }
  std::vector<std::uint64_t> fails(total, 0);
  std::vector<double> rows;
  PassStats stats;
  format::PictureReader reader(config.input);
  std::vector<std::uint8_t> cells;
  std::vector<std::uint32_t> scratch;
  std::vector<std::uint64_t> run_offsets;
  std::vector<std::uint32_t> run_rows, run_cols;
  const std::uint64_t budget = std::max<std::uint64_t>(config.memory_budget_bytes / 2, 1);
  // Appends map w's row: index, features, pattern, latency.
  const auto push_row = [&](std::uint64_t w, const pictures::MapFeatures& f, double latency_s) {
    rows.push_back(double(w));
    for (double v : pictures::to_values(f)) rows.push_back(v);
    rows.push_back(double(static_cast<int>(pictures::classify_pattern(f))));
    rows.push_back(latency_s);
    ++stats.items;
  };
  // Adds map w's failing dies (its cells at `c`) to the fleet counts of its shape.
  const auto add_fails = [&](std::uint64_t w, const std::uint8_t* c) {
    std::uint64_t* counts = fails.data() + shape_at[{index.rows[w], index.cols[w]}];
    for (std::uint64_t i = 0; i < index.cells(w); ++i)
      counts[i] += c[i] == static_cast<std::uint8_t>(pictures::DieCell::fail);
  };
  // Computes maps [w, run_end) whose cells (from run_first_cell) are in `cells`, read in read_s.
  const auto compute_run = [&](std::uint64_t w, std::uint64_t run_end, std::uint64_t run_first_cell,
                               std::uint64_t run_cells, double read_s, const auto& poll) {
    if (device) {
      // The GPU takes the whole run as one batch (one thread block per map).
      metrics::Stopwatch compute;
      run_offsets.clear();
      run_rows.clear();
      run_cols.clear();
      for (std::uint64_t m = w; m < run_end; ++m) {
        run_offsets.push_back(index.offsets[m] - run_first_cell);
        run_rows.push_back(index.rows[m]);
        run_cols.push_back(index.cols[m]);
      }
      run_offsets.push_back(run_cells);
      const auto batch =
          pictures::gpu::map_features_batch(cells, run_offsets, run_rows, run_cols, *device);
      for (const auto& shape : batch.fail_counts) {
        std::uint64_t* counts = fails.data() + shape_at[{shape.rows, shape.cols}];
        for (std::size_t i = 0; i < shape.fails.size(); ++i) counts[i] += shape.fails[i];
      }
      const double compute_s = compute.elapsed();
      stats.compute_s += compute_s;
      for (const std::uint64_t run_first = w; w < run_end; ++w) {
        // Latency of a map: its share (by cells) of the run's read and batch.
        push_row(w, batch.features[w - run_first],
                 (read_s + compute_s) * double(index.cells(w)) /
                     double(std::max<std::uint64_t>(run_cells, 1)));
        poll();
      }
      return;
    }
    for (; w < run_end; ++w) {
      metrics::Stopwatch compute;
      const std::uint64_t at = index.offsets[w] - run_first_cell;
      const pictures::MapView view{std::span<const std::uint8_t>(cells).subspan(at, index.cells(w)),
                                   index.rows[w], index.cols[w]};
      const auto f = pictures::map_features(view, scratch);
      add_fails(w, view.cells.data());
      const double compute_s = compute.elapsed();
      stats.compute_s += compute_s;
      // Latency of a map: its share of the run's read plus its own computation.
      push_row(w, f,
               read_s * double(index.cells(w)) / double(std::max<std::uint64_t>(run_cells, 1)) +
                   compute_s);
      poll();
    }
  };
  // Reads the cells of maps [w, end) into `cells`; returns the read time.
  const auto read_cells = [&](std::uint64_t w, std::uint64_t end) {
    const std::uint64_t n = index.offsets[end] - index.offsets[w];
    metrics::Stopwatch read;
    cells.resize(n);
    reader.read_cells(index.offsets[w], cells);
    const double read_s = read.elapsed();
    stats.read_s += read_s;
    stats.bytes += double(n);
    return read_s;
  };
  // Whole blocks read in one run are keyed by their content and kept in the store; a block
  // found there (--resume) is not computed again, only its fail counts are taken from its cells.
  std::vector<std::uint64_t> keys(plan.n_blocks(), 0);
  std::vector<double> stored;
  std::uint64_t reused = 0;
  const bool left =
      ctx.drive(team, policy, plan, [&](const partition::WorkUnit& unit, const auto& poll) {
        ++stats.units;
        for (std::uint64_t b = unit.first_block; b < unit.end_block; ++b) {
          const std::uint64_t first = plan.first_wafer(b), end = plan.end_wafer(b);
          const std::uint64_t block_cells = index.offsets[end] - index.offsets[first];
          if (block_cells > budget) {
            // Giant maps: runs within the budget, no store entry.
            for (std::uint64_t w = first; w < end;) {
              std::uint64_t run_end = w + 1;
              while (run_end < end && index.offsets[run_end + 1] - index.offsets[w] <= budget)
                ++run_end;
              const std::uint64_t run_cells = index.offsets[run_end] - index.offsets[w];
              compute_run(w, run_end, index.offsets[w], run_cells, read_cells(w, run_end), poll);
              w = run_end;
            }
            continue;
          }
          const double read_s = read_cells(first, end);
          if (ctx.keyed) {
            Hash64 h(kMapsKeySeed);
            h.add(b);
            for (std::uint64_t w = first; w < end; ++w) {
              h.add(index.rows[w]);
              h.add(index.cols[w]);
              h.add_bytes(cells.data() + (index.offsets[w] - index.offsets[first]), index.cells(w));
            }
            keys[b] = h.finish();
          }
          std::string why;
          if (ctx.resume &&
              ctx.store.load("maps", b, keys[b], kMapRow - 1, end - first, stored, why)) {
            for (std::uint64_t w = first; w < end; ++w) {
              const double* r = &stored[(w - first) * (kMapRow - 1)];
              rows.insert(rows.end(), r, r + kMapRow - 1);
              rows.push_back(read_s * double(index.cells(w)) /
                             double(std::max<std::uint64_t>(block_cells, 1)));
              ++stats.items;
              add_fails(w, cells.data() + (index.offsets[w] - index.offsets[first]));
            }
            ++reused;
            poll();
            continue;
          }
          const std::size_t at = rows.size();
          compute_run(first, end, index.offsets[first], block_cells, read_s, poll);
          if (ctx.store.enabled()) {
            stored.clear();
            for (std::size_t r = at; r < rows.size(); r += kMapRow)
              stored.insert(stored.end(), rows.begin() + r, rows.begin() + r + kMapRow - 1);
            ctx.store.put("maps", b, keys[b], kMapRow - 1, stored);
          }
        }
      });
  ctx.agree_complete(team, left, "maps pass");
  std::vector<std::uint64_t> reused_all = {reused};
  sum_over_ranks(team, reused_all, false);
  if (ctx.keyed) {
    sum_over_ranks(team, keys, false);
    if (team.rank == 0) ctx.store.prune("maps", keys);
  }
  sum_over_ranks(team, fails, false);

  // Every rank over its own rows: they become its rows of the output (written by it in the
  // output's rows phase), and what the report needs of them is reduced in O(patterns) words.
  const std::size_t n_features = pictures::map_feature_names().size();
  const std::size_t n_rows = rows.size() / kMapRow;
  mine.map_item.reserve(n_rows);
  mine.map_features.reserve(n_rows * n_features);
  RowDigest features_digest;
  metrics::LatencySketch latency;
  std::vector<std::uint64_t> found(pictures::kMapPatterns, 0);
  for (std::size_t i = 0; i < n_rows; ++i) {
    const double* r = &rows[i * kMapRow];
    const auto w = static_cast<std::uint64_t>(r[0]);
    const auto pattern = static_cast<std::uint8_t>(r[kMapRow - 2]);
    features_digest.add(w, r + 1, kMapRow - 2);  // features and pattern, not the latency
    latency.add(r[kMapRow - 1]);
    mine.map_item.push_back(w);
    mine.map_features.insert(mine.map_features.end(), r + 1, r + 1 + n_features);
    mine.map_pattern.push_back(pattern);
    mine.map_flag.push_back(pattern != static_cast<std::uint8_t>(pictures::MapPattern::none));
    ++found[pattern];
  }
  rows = {};
  // Planted patterns of a generated file, else real labels (WM-811K's /wafers/failure_type);
  // labels that name no pattern leave their map out of the comparison. Each rank compares its
  // own maps: [truth × found] counts, summed.
  std::string truth_source;
  std::vector<std::uint64_t> truth;  // kMapPatterns: unlabelled
  if (auto planted = read_truth(config.input, "map_pattern", index.n_wafers)) {
    truth_source = "/truth/map_pattern";
    truth = std::move(*planted);
  } else if (auto labels =
                 format::read_wafer_strings(config.input, "failure_type", index.n_wafers)) {
    truth_source = "/wafers/failure_type";
    for (const auto& label : *labels) {
      const auto p = pictures::pattern_from_label(label);
      truth.push_back(p ? static_cast<std::uint64_t>(*p) : std::uint64_t(pictures::kMapPatterns));
    }
  }
  const std::size_t K = pictures::kMapPatterns;
  std::vector<std::uint64_t> confusion(truth.empty() ? 0 : K * K, 0);  // [truth][found]
  for (std::size_t i = 0; i < mine.map_item.size() && !truth.empty(); ++i) {
    const std::uint64_t t = truth[mine.map_item[i]];
    if (t < K) ++confusion[t * K + mine.map_pattern[i]];
  }
  truth = {};
  sum_over_ranks(team, found, false);
  sum_over_ranks(team, confusion, false);
  latency.allreduce(team.mpi() ? team.comm : MPI_COMM_NULL);
  const std::string features_text = features_digest.text(team);
  json ranks = per_rank_json(team, stats);
  std::vector<double> bytes = {stats.bytes};
  sum_over_ranks(team, bytes, false);
  const double wall_s = wall.elapsed();
  if (team.rank != 0) return {};

  // Rank 0: what is O(patterns) and O(shapes), for the output file and the report.
  results.n_wafers = index.n_wafers;
  for (auto name : pictures::map_feature_names()) results.feature_names.emplace_back(name);
  for (int p = 0; p < pictures::kMapPatterns; ++p)
    results.pattern_names.emplace_back(
        pictures::pattern_name(static_cast<pictures::MapPattern>(p)));
  json found_json = json::object();
  for (int p = 0; p < pictures::kMapPatterns; ++p)
    found_json[std::string(pictures::pattern_name(static_cast<pictures::MapPattern>(p)))] =
        found[p];
  json shapes = json::array();
  for (const auto& [shape, at] : shape_at) {
    const std::uint64_t n = std::uint64_t(shape.first) * shape.second, wafers = shape_wafers[shape];
    std::uint64_t max_fails = 0, sum_fails = 0;
    for (std::uint64_t i = 0; i < n; ++i) {
      max_fails = std::max(max_fails, fails[at + i]);
      sum_fails += fails[at + i];
    }
    results.fail_maps.push_back(
        {shape.first, shape.second, wafers,
         std::vector<std::uint64_t>(fails.begin() + at, fails.begin() + at + n)});
    shapes.push_back({{"rows", shape.first},
                      {"cols", shape.second},
                      {"wafers", wafers},
                      {"max_fail_probability", double(max_fails) / double(wafers)},
                      {"mean_fail_probability", double(sum_fails) / double(wafers * n)}});
  }
  json section = {{"wafers", index.n_wafers},
                  {"cells", index.offsets.back()},
                  {"bytes", bytes[0]},
                  {"wall_s", wall_s},
                  {"maps_per_s", wall_s > 0 ? index.n_wafers / wall_s : 0.0},
                  {"mb_per_s", wall_s > 0 ? bytes[0] / 1e6 / wall_s : 0.0},
                  {"latency", latency_json(latency)},
                  {"flagged", index.n_wafers - found[0]},
                  {"patterns_found", found_json},
                  {"shapes", shapes},
                  {"blocks", plan.n_blocks()},
                  {"blocks_reused", reused_all[0]},
                  {"features_digest", features_text},
                  {"fail_counts_digest", digest(fails)},
                  {"load_balance", balance_json(ranks)},
                  {"per_rank", ranks}};
  std::uint64_t labelled = 0, agree = 0;
  std::vector<double> truth_counts(K, 0.0), found_labelled(K, 0.0);
  for (std::size_t t = 0; t < K && !confusion.empty(); ++t)
    for (std::size_t f = 0; f < K; ++f) {
      const std::uint64_t c = confusion[t * K + f];
      labelled += c;
      truth_counts[t] += double(c);
      found_labelled[f] += double(c);
      if (t == f) agree += c;
    }
  if (labelled > 0) {
    section["accuracy"] = {
        {"truth_source", truth_source},
        {"labelled", labelled},
        {"truth_distribution", metrics::distribution(truth_counts)},
        {"found_distribution", metrics::distribution(found_labelled)},
        {"kl_patterns", metrics::kl_divergence(truth_counts, found_labelled, config.kl_smoothing)},
        {"agreement", double(agree) / double(labelled)},
        {"smoothing_alpha", config.kl_smoothing}};
  }
  return section;
}

// ---- inspection images -------------------------------------------------------------------

// `device`: the CUDA device computing statistics, sums and scores (images streamed through a
// gpu::ImageEngine in runs), or none for the CPU (one image at a time).
json run_images(const Team& team, const JobConfig& config, const format::ImageIndex& index,
                const partition::PartitionPolicy& policy, const PictureDevice& where,
                PictureContext& ctx, format::ImageResults& results, PictureRows& mine) {
  const std::optional<int>& device = where.device;
  const std::uint64_t values = index.values_per_image();
  // One image in uint16 plus Σx and Σx² in double per value, and the golden image (2 doubles).
  const std::uint64_t need = values * (2 + 8 * 4 + 1);
  if (need > config.memory_budget_bytes)
    throw UsageError(config.input + ": /images/pixels: one image of " + std::to_string(values) +
                     " values needs " + std::to_string(need) +
                     " bytes of buffers and sums, more than " + "the memory budget of " +
                     std::to_string(config.memory_budget_bytes) + " bytes");
  if (team.mpi()) MPI_Barrier(team.comm);
  metrics::Stopwatch wall;
  std::vector<std::uint64_t> item_offsets(index.n_images + 1);
  std::iota(item_offsets.begin(), item_offsets.end(), 0);
  const partition::BlockPlan plan(item_offsets, config.block_size);
  format::PictureReader reader(config.input);
  // The GPU takes runs of images (what is left of the budget once the golden image is held,
  // at most 64); the CPU one image at a time.
  std::unique_ptr<pictures::gpu::ImageEngine> engine;
  std::uint64_t run_images_max = 1;
  if (device) {
    // Host memory per image in a run: the read buffer and the engine's pinned staging (two
    // batches of half a run: the upload of one overlaps the kernels of the other).
    run_images_max =
        std::clamp<std::uint64_t>((config.memory_budget_bytes - values * 16) / (values * 4), 1, 64);
    engine = std::make_unique<pictures::gpu::ImageEngine>(
        index.height, index.width, index.channels, *device,
        static_cast<std::uint32_t>((run_images_max + 1) / 2));
  }
  std::vector<std::uint16_t> px(values * run_images_max);
  const std::uint32_t ch = index.channels;
  const std::size_t stats_row = 2 + 4 * ch;  // image, per channel mean/std/min/max, latency
  std::vector<double> stats_rows, score_rows;
  PassStats stats;
  pictures::GoldenSums sums(engine ? 0 : values);
  // Reads images [i, i + n) into px; returns the read time.
  const auto read_images = [&](std::uint64_t i, std::uint64_t n) {
    metrics::Stopwatch read;
    for (std::uint64_t k = 0; k < n; ++k)
      reader.read_image(index, i + k, std::span<std::uint16_t>(px).subspan(k * values, values));
    const double s = read.elapsed();
    stats.read_s += s;
    stats.bytes += double(n * index.image_bytes());
    return s;
  };
  // Calls body(first image, count) for the runs (at most run_images_max images) of block b.
  const auto for_each_run = [&](std::uint64_t b, const auto& poll, const auto& body) {
    const std::uint64_t end = plan.end_wafer(b);
    for (std::uint64_t i = plan.first_wafer(b); i < end;) {
      const std::uint64_t n = std::min(run_images_max, end - i);
      body(i, n);
      i += n;
      poll();
    }
  };
  // Calls body(block, poll) for every block of this rank's units; every rank throws
  // StoppedEarly when a stop left units undone.
  // Pass 2 scores the images each rank read in pass 1, unit for unit (a replay of its units):
  // their content hashes and pass-1 latencies stay on the rank, nothing per image travels, and
  // the load is as balanced as pass 1's (an image costs about the same in both passes).
  std::vector<partition::WorkUnit> my_units;
  const auto for_each_block = [&](const char* pass, const partition::PartitionPolicy& units_of,
                                  const auto& body) {
    const bool left =
        ctx.drive(team, units_of, plan, [&](const partition::WorkUnit& unit, const auto& poll) {
          ++stats.units;
          if (&units_of == &policy) my_units.push_back(unit);
          for (std::uint64_t b = unit.first_block; b < unit.end_block; ++b) body(b, poll);
        });
    ctx.agree_complete(team, left, pass);
  };
  // Content hash of this rank's images, for the store keys of pass 2; none without a store.
  std::vector<std::uint64_t> image_hash(ctx.keyed ? index.n_images : 0, 0);
  // Pass 1: statistics and the per-pixel sums.
  const auto pass1_run = [&](std::uint64_t first, std::uint64_t n) {
    const double read_s = read_images(first, n);
    for (std::uint64_t k = 0; k < n && ctx.keyed; ++k) {
      Hash64 h(kScoresKeySeed);
      h.add_bytes(px.data() + k * values, values * sizeof(std::uint16_t));
      image_hash[first + k] = h.finish();
    }
    metrics::Stopwatch compute;
    std::vector<pictures::ChannelStats> st;
    if (engine) {
      st = engine->add_images(std::span<const std::uint16_t>(px).first(n * values));
    } else {
      st = pictures::image_stats(
          {std::span<const std::uint16_t>(px).first(values), index.height, index.width, ch});
      sums.add(std::span<const std::uint16_t>(px).first(values));
    }
    const double compute_s = compute.elapsed();
    stats.compute_s += compute_s;
    for (std::uint64_t k = 0; k < n; ++k) {
      stats_rows.push_back(double(first + k));
      for (std::uint32_t c = 0; c < ch; ++c) {
        const auto& x = st[k * ch + c];
        stats_rows.insert(stats_rows.end(), {x.mean, x.std, double(x.min), double(x.max)});
      }
      stats_rows.push_back((read_s + compute_s) / double(n));
      ++stats.items;
    }
  };
  for_each_block("first image pass", policy,
                 [&](std::uint64_t b, const auto& poll) { for_each_run(b, poll, pass1_run); });
  // Exact integer sums in double: any order of summation, MPI's or NCCL's, gives every rank the
  // same bits (docs/PICTURES.md).
  std::vector<double> n_images = {double(engine ? engine->images_summed() : sums.images)};
  sum_over_ranks(team, n_images, true);
  if (engine) {
    if (where.nccl) {
      reduce::DeviceSum nccl(team.comm, *device);
      nccl.sum_in_place(engine->device_sum(), values);
      nccl.sum_in_place(engine->device_sum_sq(), values);
      sums = engine->download_sums();
    } else {
      sums = engine->download_sums();
      sum_over_ranks(team, sums.sum, true);
      sum_over_ranks(team, sums.sum_sq, true);
    }
  } else {
    sum_over_ranks(team, sums.sum, true);
    sum_over_ranks(team, sums.sum_sq, true);
  }
  sums.images = static_cast<std::uint64_t>(n_images[0]);
  pictures::GoldenImage golden = pictures::finalize_golden(sums);
  sums = pictures::GoldenSums();  // release the sums before pass 2
  // Pass 2: each image against the golden image. A block's key covers its images' content, the
  // golden image and the settings; a block in the store (--resume) is neither read nor scored.
  const pictures::DefectSettings settings = config.defects;
  if (engine) engine->set_golden(golden, settings);
  std::uint64_t golden_key = 0;
  if (ctx.keyed) {
    Hash64 golden_hash(kScoresKeySeed);
    golden_hash.add_bytes(golden.mean.data(), golden.mean.size() * sizeof(double));
    golden_hash.add_bytes(golden.std.data(), golden.std.size() * sizeof(double));
    golden_hash.add(std::bit_cast<std::uint64_t>(settings.k_sigma));
    golden_hash.add(std::bit_cast<std::uint64_t>(settings.std_floor));
    golden_hash.add(settings.min_blob);
    golden_key = golden_hash.finish();
  }
  std::vector<std::uint64_t> keys(plan.n_blocks(), 0);
  std::vector<double> stored;
  std::uint64_t reused = 0;
  std::vector<std::uint8_t> mask;
  std::vector<std::uint32_t> scratch;
  constexpr std::size_t kScoreRow = 6;  // image, beyond, blobs, largest, flag, latency
  const auto pass2_run = [&](std::uint64_t first, std::uint64_t n) {
    const double read_s = read_images(first, n);
    metrics::Stopwatch compute;
    std::vector<pictures::ImageScore> scored;
    if (engine)
      scored = engine->score_images(std::span<const std::uint16_t>(px).first(n * values));
    else
      scored = {pictures::score_image(
          {std::span<const std::uint16_t>(px).first(values), index.height, index.width, ch}, golden,
          settings, mask, scratch)};
    const double compute_s = compute.elapsed();
    stats.compute_s += compute_s;
    for (std::uint64_t k = 0; k < n; ++k) {
      const auto& x = scored[k];
      score_rows.insert(score_rows.end(), {double(first + k), double(x.beyond), double(x.blobs),
                                           double(x.largest_blob), x.flagged ? 1.0 : 0.0,
                                           (read_s + compute_s) / double(n)});
    }
  };
  const auto replay = partition::replay_policy(my_units);
  for_each_block("image scoring pass", *replay, [&](std::uint64_t b, const auto& poll) {
    const std::uint64_t first_image = plan.first_wafer(b), end_image = plan.end_wafer(b);
    if (ctx.keyed) {
      Hash64 h(golden_key);
      h.add(b);
      for (std::uint64_t i = first_image; i < end_image; ++i) h.add(image_hash[i]);
      keys[b] = h.finish();
    }
    std::string why;
    if (ctx.resume &&
        ctx.store.load("scores", b, keys[b], kScoreRow - 1, end_image - first_image, stored, why)) {
      for (std::size_t r = 0; r < stored.size(); r += kScoreRow - 1) {
        score_rows.insert(score_rows.end(), stored.begin() + r, stored.begin() + r + kScoreRow - 1);
        score_rows.push_back(0.0);  // neither read nor computed by this run
      }
      ++reused;
      poll();
      return;
    }
    const std::size_t at = score_rows.size();
    for_each_run(b, poll, pass2_run);
    if (ctx.store.enabled()) {
      stored.clear();
      for (std::size_t r = at; r < score_rows.size(); r += kScoreRow)
        stored.insert(stored.end(), score_rows.begin() + r, score_rows.begin() + r + kScoreRow - 1);
      ctx.store.put("scores", b, keys[b], kScoreRow - 1, stored);
    }
  });
  std::vector<std::uint64_t> reused_all = {reused};
  sum_over_ranks(team, reused_all, false);
  if (ctx.keyed) {
    sum_over_ranks(team, keys, false);
    if (team.rank == 0) ctx.store.prune("scores", keys);
  }
  // Every rank over its own images (the same in both passes): its rows of the output, and
  // what the report needs of them reduced in a few words.
  const std::size_t n_mine = stats_rows.size() / stats_row;
  if (score_rows.size() != n_mine * kScoreRow)
    throw std::logic_error("image passes: the scoring pass did not score the images of the first");
  RowDigest statistics_digest, scores_digest;
  metrics::LatencySketch latency;
  std::vector<std::uint64_t> counts(5, 0);  // flagged, tp, fp, tn, fn
  const auto truth = read_truth(config.input, "image_defects", index.n_images);
  for (std::size_t k = 0; k < n_mine; ++k) {
    const double* a = &stats_rows[k * stats_row];
    const double* b = &score_rows[k * kScoreRow];
    const auto i = static_cast<std::uint64_t>(a[0]);
    if (static_cast<std::uint64_t>(b[0]) != i)
      throw std::logic_error("image passes: image " + std::to_string(i) + " scored out of order");
    statistics_digest.add(i, a + 1, stats_row - 2);
    scores_digest.add(i, b + 1, kScoreRow - 2);
    latency.add(a[stats_row - 1] + b[kScoreRow - 1]);  // both passes
    const bool flag = b[4] != 0;
    mine.image_item.push_back(i);
    mine.image_wafer.push_back(index.wafer[i]);
    mine.image_statistics.insert(mine.image_statistics.end(), a + 1, a + 1 + 4 * ch);
    for (int j = 1; j <= 3; ++j) mine.image_scores.push_back(static_cast<std::uint64_t>(b[j]));
    mine.image_flag.push_back(flag);
    counts[0] += flag;
    if (truth) {
      const bool is_bad = (*truth)[i] != 0;
      counts[1] += is_bad && flag;
      counts[2] += !is_bad && flag;
      counts[3] += !is_bad && !flag;
      counts[4] += is_bad && !flag;
    }
  }
  stats_rows = {};
  score_rows = {};
  sum_over_ranks(team, counts, false);
  latency.allreduce(team.mpi() ? team.comm : MPI_COMM_NULL);
  const std::string statistics_text = statistics_digest.text(team);
  const std::string scores_text = scores_digest.text(team);
  json ranks = per_rank_json(team, stats);
  std::vector<double> bytes = {stats.bytes};
  sum_over_ranks(team, bytes, false);
  const double wall_s = wall.elapsed();
  if (team.rank != 0) return {};

  const std::uint64_t flagged = counts[0];
  results.n_images = index.n_images;
  results.height = index.height;
  results.width = index.width;
  results.channels = ch;
  double mean_std = 0;
  for (double s : golden.std) mean_std += s;
  const std::string golden_digest = digest(golden.mean) + digest(golden.std);
  results.golden_images = golden.images;
  results.golden_mean = std::move(golden.mean);
  results.golden_std = std::move(golden.std);
  results.k_sigma = settings.k_sigma;
  results.std_floor = settings.std_floor;
  results.min_blob = settings.min_blob;
  json section = {{"images", index.n_images},
                  {"height", index.height},
                  {"width", index.width},
                  {"channels", ch},
                  {"bytes_per_value", index.bytes_per_value},
                  {"bytes", bytes[0]},
                  {"wall_s", wall_s},
                  {"images_per_s", wall_s > 0 ? index.n_images / wall_s : 0.0},
                  {"mb_per_s", wall_s > 0 ? bytes[0] / 1e6 / wall_s : 0.0},
                  {"latency", latency_json(latency)},
                  {"settings",
                   {{"k_sigma", settings.k_sigma},
                    {"std_floor", settings.std_floor},
                    {"min_blob", settings.min_blob}}},
                  {"golden",
                   {{"images", golden.images},
                    {"mean_std", values ? mean_std / double(values) : 0.0},
                    {"digest", golden_digest}}},
                  {"flagged", flagged},
                  {"blocks", plan.n_blocks()},
                  {"score_blocks_reused", reused_all[0]},
                  {"statistics_digest", statistics_text},
                  {"scores_digest", scores_text},
                  {"load_balance", balance_json(ranks)},
                  {"per_rank", ranks}};
  if (truth) {
    const std::uint64_t tp = counts[1], fp = counts[2], tn = counts[3], fn = counts[4];
    const std::uint64_t bad = tp + fn;
    const std::vector<double> p = {double(index.n_images - bad), double(bad)};
    const std::vector<double> q = {double(index.n_images - flagged), double(flagged)};
    section["accuracy"] = {{"truth_source", "/truth/image_defects"},
                           {"truth_distribution", metrics::distribution(p)},
                           {"flag_distribution", metrics::distribution(q)},
                           {"kl_flags", metrics::kl_divergence(p, q, config.kl_smoothing)},
                           {"tp", tp},
                           {"fp", fp},
                           {"tn", tn},
                           {"fn", fn},
                           {"smoothing_alpha", config.kl_smoothing}};
  }
  return section;
}

// Decided by all ranks together: --backend cuda needs a device on every rank (else exit 2 on
// all), auto uses the GPUs only when every rank has one, cpu never. A rank takes its
// node-local rank modulo the devices it sees (or BackendOptions::device when set).
PictureDevice picture_device(const Team& team, const JobConfig& config) {
  const std::string& name = config.backend.name;
  if (name != "cpu" && name != "cuda" && name != "auto")
    throw CollectiveInputError("--backend " + name + ": expected cpu, cuda or auto");
  if (name == "cpu") return {};
  const int count = pictures::gpu::device_count();
  const int wanted = config.backend.device;
  if (!every_rank(team, count > 0 && wanted < count)) {
    if (name == "auto") return {};
    throw CollectiveInputError(
        "--backend cuda: " +
        std::string(count == 0 ? "this rank sees no CUDA device" : "a rank sees no CUDA device") +
        " (or this build has no CUDA)" +
        (wanted >= 0 ? ", or device " + std::to_string(wanted) + " is not visible" : "") +
        "; use --backend cpu or auto");
  }
  int local_rank = 0, local_size = 1;
  if (team.mpi()) {
    MPI_Comm node;
    MPI_Comm_split_type(team.comm, MPI_COMM_TYPE_SHARED, team.rank, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &local_rank);
    MPI_Comm_size(node, &local_size);
    MPI_Comm_free(&node);
  }
  PictureDevice out;
  out.device = wanted >= 0 ? wanted : local_rank % count;
  // Distinct devices: no fixed device, and no more ranks on this node than devices.
  const bool distinct = every_rank(team, wanted < 0 && local_size <= count);
  out.nccl = team.mpi() && distinct && reduce::DeviceSum::built();
  return out;
}

}  // namespace

PictureOutcome run_pictures(const JobConfig& config, MPI_Comm comm, const StopRequest& stop) {
  const Team team(comm);
  // Several input files are read for their traces (docs/FORMAT.md "Several input files").
  if (config.input_files().size() > 1) {
    PictureOutcome out;
    out.has_traces = true;
    return out;
  }
  // Rank 0 reads and validates both indexes; everyone gets them or the same error.
  std::vector<std::uint64_t> head(3, 0), map_words, image_words;
  std::string error;
  if (team.rank == 0) {
    try {
      const auto contents = format::probe_contents(config.input);
      head = {contents.traces, contents.maps, contents.images};
      std::optional<std::uint64_t> n_maps;
      if (contents.maps) {
        const auto m = format::read_map_index(config.input);
        n_maps = m.n_wafers;
        map_words = m.serialize();
      }
      if (contents.images) {
        const auto im = format::read_image_index(config.input, n_maps);
        if (im.n_images > pictures::kMaxGoldenImages)
          throw InputError(config.input + ": /images/pixels: " + std::to_string(im.n_images) +
                           " images, more than the " + std::to_string(pictures::kMaxGoldenImages) +
                           " whose per-pixel sums stay exact in double");
        image_words = im.serialize();
      }
    } catch (const InputError& e) {
      error = e.what();
    }
  }
  share_error(team, error);
  share_words(team, head);
  PictureOutcome out;
  // Without maps or images the trace pass runs (and reports a missing /traces itself).
  out.has_traces = head[0] != 0 || (head[1] == 0 && head[2] == 0);
  if (head[1] == 0 && head[2] == 0) return out;
  share_words(team, map_words);
  share_words(team, image_words);
  std::optional<format::MapIndex> map_index;
  std::optional<format::ImageIndex> image_index;
  if (head[1] != 0) {
    map_index = format::MapIndex::deserialize(map_words, config.input);
    out.n_maps = map_index->n_wafers;
  }
  if (head[2] != 0) {
    image_index = format::ImageIndex::deserialize(image_words, config.input);
    out.n_images = image_index->n_images;
    out.image_channels = image_index->channels;
  }
  // An input without traces gets an output of its own, created now by every rank together
  // (an existing one without --force fails before any work); its rows are written by the
  // ranks that computed them, as in the trace pass.
  std::unique_ptr<format::FeatureFileWriter> writer;
  std::unique_ptr<TempOutputGuard> guard;
  if (!out.has_traces) {
    format::FeatureFileLayout layout;
    layout.traces = false;
    out.add_to(layout);
    writer = std::make_unique<format::FeatureFileWriter>(config.output, layout, config.force, comm);
    if (team.rank == 0) guard = std::make_unique<TempOutputGuard>(writer->temp_path());
  }

  metrics::Stopwatch wall;
  partition::PolicyOptions popt;
  popt.factor = config.dynamic_factor;
  const auto policy = partition::make_policy(config.policy, popt);
  const PictureDevice where = picture_device(team, config);
  const std::optional<int> device = where.device;
  const std::string backend = device ? "cuda" : "cpu";
  json section = {{"ranks", team.size}, {"policy", config.policy}, {"backend", backend}};
  auto results = std::make_shared<format::PictureResults>();
  PictureContext ctx{PictureStore(config.store_path()),
                     config.resume,
                     UnitFaults{FaultInjection::from_environment(team.rank)},
                     &stop,
                     config.store_path(),
                     !config.store_path().empty(),
                     team.mpi() ? config.rank_timeout_s : 0.0};
  if (map_index) {
    format::MapResults maps;
    section["maps"] = run_maps(team, config, *map_index, *policy, device, ctx, maps, out.rows);
    if (team.rank == 0) results->maps = std::move(maps);
  }
  if (image_index) {
    format::ImageResults images;
    section["images"] =
        run_images(team, config, *image_index, *policy, where, ctx, images, out.rows);
    if (team.rank == 0) results->images = std::move(images);
  }
  if (writer) {
    out.write_rows(*writer);
    writer->finish_rows();
    if (team.rank == 0) {
      writer->write_pictures(*results);
      writer->set_attribute("wafermill_version", std::string(WAFERMILL_VERSION));
      writer->set_attribute("git_revision", std::string(WAFERMILL_GIT_REVISION));
      writer->set_attribute("configuration", config.to_json().dump());
      writer->set_attribute("policy", config.policy);
      writer->set_attribute("backend", backend);
      writer->set_attribute("input", config.input);
      writer->set_attribute("ranks", static_cast<std::int64_t>(team.size));
      writer->copy_input_wafers(config.input);
      writer->commit();
    }
    out.rows = PictureRows();
  }
  if (team.rank != 0) return out;
  const double wall_s = wall.elapsed();
  section["wall_s"] = wall_s;
  out.json = section;
  out.results = std::move(results);
  if (!out.has_traces) {
    auto& r = out.report;
    r.provenance.version = WAFERMILL_VERSION;
    r.provenance.git_revision = WAFERMILL_GIT_REVISION;
    r.provenance.started_utc = metrics::utc_now();
    r.provenance.command_line = config.command_line;
    r.provenance.input_path = config.input;
    r.config = config.to_json();
    r.parallel.ranks = team.size;
    r.parallel.policy = config.policy;
    r.parallel.backend = backend;
    r.parallel.io = "posix";
    r.parallel.wall_s = wall_s;
    r.comparison.baseline_source = "none";
    r.pictures = section;
  }
  return out;
}

void PictureOutcome::add_to(format::FeatureFileLayout& layout) const {
  layout.n_maps = n_maps;
  layout.map_features = static_cast<std::uint32_t>(pictures::map_feature_names().size());
  layout.n_images = n_images;
  layout.image_channels = image_channels;
}

namespace {

// Calls write(first, begin, end) for each run [begin, end) of consecutive items.
template <class Write>
void for_each_run_of_items(const std::vector<std::uint64_t>& items, const Write& write) {
  for (std::size_t i = 0; i < items.size();) {
    std::size_t j = i + 1;
    while (j < items.size() && items[j] == items[j - 1] + 1) ++j;
    write(items[i], i, j);
    i = j;
  }
}

}  // namespace

void PictureOutcome::write_rows(format::FeatureFileWriter& writer) const {
  const PictureRows& r = rows;
  const std::size_t F = pictures::map_feature_names().size();
  for_each_run_of_items(r.map_item, [&](std::uint64_t first, std::size_t i, std::size_t j) {
    writer.write_map_rows(first,
                          std::span<const double>(r.map_features).subspan(i * F, (j - i) * F),
                          std::span<const std::uint8_t>(r.map_pattern).subspan(i, j - i),
                          std::span<const std::uint8_t>(r.map_flag).subspan(i, j - i));
  });
  const std::size_t C = image_channels;
  for_each_run_of_items(r.image_item, [&](std::uint64_t first, std::size_t i, std::size_t j) {
    writer.write_image_rows(
        first, std::span<const std::int64_t>(r.image_wafer).subspan(i, j - i),
        std::span<const double>(r.image_statistics).subspan(i * C * 4, (j - i) * C * 4),
        std::span<const std::uint64_t>(r.image_scores).subspan(i * 3, (j - i) * 3),
        std::span<const std::uint8_t>(r.image_flag).subspan(i, j - i));
  });
}

void compare_pictures(nlohmann::json& parallel, const nlohmann::json& sequential) {
  const int ranks = parallel.value("ranks", 1);
  for (const char* kind : {"maps", "images"}) {
    if (!parallel.contains(kind) || !sequential.contains(kind)) continue;
    json& par = parallel[kind];
    const json& seq = sequential[kind];
    const double t_par = par.value("wall_s", 0.0), t_seq = seq.value("wall_s", 0.0);
    json c = {{"wall_s", t_seq}};
    if (t_par > 0 && t_seq > 0) {
      c["speedup"] = t_seq / t_par;
      c["efficiency"] = t_seq / t_par / ranks;
    }
    // Same digests: the parallel results are bitwise the sequential ones.
    bool identical = true;
    for (const char* d :
         {"features_digest", "fail_counts_digest", "statistics_digest", "scores_digest"})
      if (par.contains(d) || seq.contains(d))
        identical = identical && par.value(d, "") == seq.value(d, "");
    if (par.contains("golden") || seq.contains("golden"))
      identical = identical && par.value("/golden/digest"_json_pointer, "") ==
                                   seq.value("/golden/digest"_json_pointer, "");
    c["identical"] = identical;
    par["sequential"] = c;
  }
}

}  // namespace wafermill::job
