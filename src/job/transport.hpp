// MPI messages between workers and the coordinator (rank 0). Private to job/.
//
// Protocol (tags):
//   RESULT  worker → 0   one BatchResult packed as doubles (header: first_block, n_blocks,
//                         first_wafer, n_wafers; then values, by_step, partials, latencies)
//   REQUEST worker → 0   empty: "give me a unit" (dynamic policy only)
//   UNIT    0 → worker   two uint64: [first_block, end_block); first == end means "no more".
//                         The first unit of every worker is sent unasked at the start.
// A worker keeps one request outstanding (it asks for unit k+1 before processing unit k), so the
// coordinator's polling between its own chunks is hidden behind the worker's work.
#pragma once

#include <deque>
#include <optional>
#include <vector>

#include <mpi.h>

#include "collector.hpp"
#include "stop_request.hpp"
#include "watchdog.hpp"
#include "wafermill/partition/policy.hpp"
#include "worker.hpp"

namespace wafermill::job {

enum Tag : int {
  kTagResult = 101,
  kTagRequest = 102,
  kTagUnit = 103,
  kTagHeartbeat = 104,
  kTagDone = 105
};

/// Packs a batch into `out` (resized).
void pack_batch(const BatchResult& batch, std::vector<double>& out);
/// Unpacks a buffer made by pack_batch for `layout`.
void unpack_batch(const std::vector<double>& in, const features::FeatureLayout& layout,
                  BatchResult& batch);

/// A worker's sink: sends each batch to rank 0 without blocking, at most two in flight.
class MpiSender : public ResultSink {
 public:
  MpiSender(MPI_Comm comm, WorkerStats& stats) : comm_(comm), stats_(stats) {}
  ~MpiSender() override;
  void accept(BatchResult& batch) override;
  /// Waits until every send has completed.
  void flush();

 private:
  struct Pending {
    std::vector<double> buffer;
    MPI_Request request = MPI_REQUEST_NULL;
  };
  MPI_Comm comm_;
  WorkerStats& stats_;
  std::deque<Pending> pending_;
};

/// Rank 0's side of the protocol: receives results into the collector and answers requests
/// from the dispenser.
class Coordinator {
 public:
  Coordinator(MPI_Comm comm, Collector& collector, const features::FeatureLayout& layout,
              partition::UnitDispenser* dynamic_dispenser);
  /// Sends every worker its first unit (dynamic policy); call once before rank 0's own work.
  void start();
  /// Handles every message already waiting (call between own chunks).
  void poll();
  /// Blocks until every block's result arrived and every worker was told there is no more work.
  void finish(double& wait_s);

 private:
  void handle(const MPI_Status& status);
  MPI_Comm comm_;
  Collector& collector_;
  features::FeatureLayout layout_;
  partition::UnitDispenser* dispenser_;
  int size_;
  int done_sent_ = 0;
  std::vector<double> buffer_;
  BatchResult batch_;
};

/// A worker's source of units under the dynamic policy: one request always outstanding.
class UnitRequester {
 public:
  UnitRequester(MPI_Comm comm, WorkerStats& stats);
  /// The next unit, or nullopt when the coordinator has no more.
  std::optional<partition::WorkUnit> next();

 private:
  void request();
  MPI_Comm comm_;
  WorkerStats& stats_;
  bool finished_ = false;
};

}  // namespace wafermill::job
