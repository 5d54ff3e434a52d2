/// @file io_floor.cpp
/// @brief The I/O floor of `wafermill run`: the same ranks read the same rows of the same
/// file the way the job does, and do nothing else.
///
/// Each rank opens the file through format::TraceReader (posix or mpio, as the job's --io),
/// takes its share of the fixed 32-wafer blocks by the job's "weighted" policy, and reads its
/// wafers in chunks of whole wafers of at most 8 MiB (the job's kChunkTargetBytes in
/// src/job/worker.cpp, capped by half the memory budget), steps included when the file has
/// them. No features, no reduction, no output: the job's wall time can only approach this one.
///
///   mpirun -np P io_floor --input FILE [--io posix|mpio] [--memory-budget MiB] [--checksum]
///                         [--json OUT]
///
/// Prints one JSON object (also written to --json): wall seconds (barrier to barrier, max over
/// ranks), bytes and samples read, MB/s = bytes / 10^6 / wall, and per rank the read seconds,
/// bytes, samples and peak RSS. With --checksum it also sums the finite samples of each sensor
/// (double, file order per rank, then over ranks) so a check can see the values were really
/// read; timed runs leave it off, since that pass over memory is not I/O.
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "wafermill/error.hpp"
#include "wafermill/format/trace_index.hpp"
#include "wafermill/format/trace_reader.hpp"
#include "wafermill/metrics/metrics.hpp"
#include "wafermill/partition/policy.hpp"

namespace {

namespace fmt = wafermill::format;
namespace part = wafermill::partition;

// The job's chunk rule (src/job/worker.cpp): whole wafers, at most min(budget / 2, 8 MiB).
constexpr std::uint64_t kChunkTargetBytes = 8ULL << 20;
// The job's default --block-size.
constexpr std::uint64_t kBlockSize = 32;

struct Options {
  std::string input;
  std::string io = "posix";
  std::uint64_t memory_budget_bytes = 256ULL << 20;
  std::string json_path;
  bool checksum = false;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw wafermill::UsageError(a + " needs a value");
      return argv[++i];
    };
    if (a == "--input") o.input = value();
    else if (a == "--io") o.io = value();
    else if (a == "--memory-budget") o.memory_budget_bytes = std::stoull(value()) << 20;
    else if (a == "--json") o.json_path = value();
    else if (a == "--checksum") o.checksum = true;
    else throw wafermill::UsageError("unknown option " + a +
                                     " (usage: io_floor --input FILE [--io posix|mpio] "
                                     "[--memory-budget MiB] [--checksum] [--json OUT])");
  }
  if (o.input.empty()) throw wafermill::UsageError("--input is required");
  return o;
}

// What one rank read.
struct RankPass {
  std::uint64_t wafers = 0, samples = 0, bytes = 0, chunks = 0;
  double read_s = 0.0;
  std::vector<double> column_sums;  // per sensor, finite samples only
};

template <typename T>
void add_columns(const T* v, std::uint64_t rows, std::uint64_t sensors, std::vector<double>& sums) {
  for (std::uint64_t r = 0; r < rows; ++r)
    for (std::uint64_t s = 0; s < sensors; ++s) {
      const double x = v[r * sensors + s];
      if (std::isfinite(x)) sums[s] += x;
    }
}

void add_checksum(const fmt::TraceIndex& index, const char* values, std::uint64_t rows,
                  std::vector<double>& sums) {
  if (index.value_type == fmt::ValueType::float32)
    add_columns(reinterpret_cast<const float*>(values), rows, index.n_sensors, sums);
  else
    add_columns(reinterpret_cast<const double*>(values), rows, index.n_sensors, sums);
}

RankPass read_share(const fmt::TraceIndex& index, const Options& o, MPI_Comm comm, int rank,
                    int size) {
  RankPass pass;
  pass.column_sums.assign(index.n_sensors, 0.0);
  fmt::TraceReader reader(index, fmt::parse_io_driver(o.io), comm);
  const part::BlockPlan plan(index.offsets, kBlockSize);
  auto dispenser = part::make_policy("weighted")->dispenser(plan, size);

  const std::uint64_t row_bytes = index.row_bytes() + (index.has_steps ? 4 : 0);
  const std::uint64_t target = std::min(std::max(o.memory_budget_bytes / 2, row_bytes), kChunkTargetBytes);
  std::vector<char> buffer;
  std::vector<std::int32_t> steps;
  while (auto unit = dispenser->next(rank)) {
    const std::uint64_t w_end = plan.first_wafer(unit->end_block);
    for (std::uint64_t w = plan.first_wafer(unit->first_block); w < w_end;) {
      // As many whole wafers as fit the target, at least one (the job reads a wafer too large
      // for its budget column by column; the floor reads it whole, which is never slower).
      std::uint64_t e = w + 1;
      while (e < w_end && (index.offsets[e + 1] - index.offsets[w]) * row_bytes <= target) ++e;
      const std::uint64_t row0 = index.offsets[w];
      const std::uint64_t rows = index.offsets[e] - row0;
      buffer.resize(std::max<std::uint64_t>(buffer.size(), rows * index.row_bytes()));
      if (index.has_steps) steps.resize(std::max<std::uint64_t>(steps.size(), rows));
      const wafermill::metrics::Stopwatch watch;
      if (rows > 0)
        reader.read_rows(row0, rows, buffer.data(),
                         index.has_steps ? std::span<std::int32_t>(steps.data(), rows)
                                         : std::span<std::int32_t>());
      pass.read_s += watch.elapsed();
      if (o.checksum) add_checksum(index, buffer.data(), rows, pass.column_sums);
      pass.wafers += e - w;
      pass.samples += rows;
      pass.bytes += rows * index.row_bytes();
      ++pass.chunks;
      w = e;
    }
  }
  return pass;
}

int run(int argc, char** argv) {
  const Options o = parse(argc, argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);

  MPI_Barrier(MPI_COMM_WORLD);
  const double t0 = MPI_Wtime();
  // Every rank reads the index itself (the job broadcasts rank 0's; for a cache-hot file the
  // difference is the offsets read, a few ms).
  const fmt::TraceIndex index = fmt::read_trace_index(o.input);
  const RankPass pass = read_share(index, o, MPI_COMM_WORLD, rank, size);
  MPI_Barrier(MPI_COMM_WORLD);
  const double wall = MPI_Wtime() - t0;

  const std::uint64_t rss = wafermill::metrics::peak_rss_bytes();
  const double mine[3] = {pass.read_s, static_cast<double>(pass.bytes), static_cast<double>(rss)};
  const std::uint64_t counts[3] = {pass.wafers, pass.samples, pass.chunks};
  std::vector<double> all(3 * size);
  std::vector<std::uint64_t> all_counts(3 * size);
  std::vector<double> sums(index.n_sensors);
  MPI_Gather(mine, 3, MPI_DOUBLE, all.data(), 3, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  MPI_Gather(counts, 3, MPI_UINT64_T, all_counts.data(), 3, MPI_UINT64_T, 0, MPI_COMM_WORLD);
  MPI_Reduce(pass.column_sums.data(), sums.data(), static_cast<int>(index.n_sensors), MPI_DOUBLE,
             MPI_SUM, 0, MPI_COMM_WORLD);
  if (rank != 0) return 0;

  nlohmann::json per_rank = nlohmann::json::array();
  std::uint64_t bytes = 0, samples = 0, wafers = 0;
  for (int r = 0; r < size; ++r) {
    per_rank.push_back({{"rank", r},
                        {"read_s", all[3 * r]},
                        {"bytes", static_cast<std::uint64_t>(all[3 * r + 1])},
                        {"peak_rss_bytes", static_cast<std::uint64_t>(all[3 * r + 2])},
                        {"wafers", all_counts[3 * r]},
                        {"samples", all_counts[3 * r + 1]},
                        {"chunks", all_counts[3 * r + 2]}});
    bytes += static_cast<std::uint64_t>(all[3 * r + 1]);
    wafers += all_counts[3 * r];
    samples += all_counts[3 * r + 1];
  }
  const nlohmann::json out = {{"io_floor", 1},
                              {"input", o.input},
                              {"io", o.io},
                              {"ranks", size},
                              {"wall_s", wall},
                              {"wafers", wafers},
                              {"samples", samples},
                              {"bytes", bytes},
                              {"throughput_mb_per_s", wall > 0 ? double(bytes) / 1e6 / wall : 0.0},
                              {"throughput_wafers_per_s", wall > 0 ? double(wafers) / wall : 0.0},
                              {"column_sums", sums},
                              {"per_rank", per_rank}};
  const std::string text = out.dump(1);
  std::printf("%s\n", text.c_str());
  if (!o.json_path.empty()) {
    std::ofstream f(o.json_path);
    f << text << '\n';
    if (!f) throw wafermill::InputError("cannot write " + o.json_path);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int code = 0;
  try {
    code = run(argc, argv);
  } catch (const std::exception& e) {
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    std::fprintf(stderr, "io_floor: rank %d: %s\n", rank, e.what());
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  MPI_Finalize();
  return code;
}
