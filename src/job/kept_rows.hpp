// A rank's own /features/values rows kept in memory as the collector writes them, so that the
// scoring pass's reads (the fleet fit reads them three times: histograms and first fit, refit,
// verdicts) need not read them back from the output file. Bounded: the leading runs are kept
// while they fit `limit_bytes`; from the first run that would pass it on, nothing more is kept
// and the pass reads the rest from the file (the same bits either way: the file holds the same
// doubles). Private to job/.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace wafermill::job {

class KeptRows {
 public:
  /// `columns`: values per row; `limit_bytes`: the most the rows may take (0: never keep).
  KeptRows(std::size_t columns, std::uint64_t limit_bytes);

  /// Appends rows [first_wafer, first_wafer + n) (n * columns values) while they fit the limit;
  /// once a run does not, it and every later run are left to the file.
  /// @throws std::invalid_argument on a size mismatch.
  void add(std::uint64_t first_wafer, std::uint64_t n, std::span<const double> values);
  /// True while every row added so far is held.
  bool complete() const { return keeping_; }
  /// Wafers held: the first wafers() of the rows added, in the order added.
  std::uint64_t wafers() const { return wafers_; }
  /// Bytes of rows held now.
  std::uint64_t bytes() const { return bytes_; }

  /// One run of consecutive rows as added (a batch): its values lie in one of the arenas.
  struct Run {
    std::uint64_t first_wafer = 0, n = 0;
    std::span<const double> values;
  };
  /// The runs held, in the order added.
  const std::vector<Run>& runs() const { return runs_; }

 private:
  std::size_t columns_;
  std::uint64_t limit_bytes_;
  std::uint64_t bytes_ = 0;
  std::uint64_t wafers_ = 0;
  bool keeping_;
  std::vector<Run> runs_;
  // The runs' values, one arena after another: each reserved once (kArenaBytes, or a larger
  // run's size, within the limit) in huge pages where the kernel offers them, so that keeping a
  // batch costs a copy and no fresh 4 KiB page faults (a vector per run took half of
  // KeptRows::add's time in faults, bench/perf at P = 2). An arena never reallocates: spans
  // into it stay valid.
  std::vector<std::vector<double>> arenas_;
};

}  // namespace wafermill::job
