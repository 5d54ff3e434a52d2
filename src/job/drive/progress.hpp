// Progress on rank 0: wafers done of total, rate and ETA. Redrawn in place on a terminal;
// plain lines at a bounded rate otherwise (Slurm logs). Private to job/.
#pragma once

#include <cstdint>

namespace wafermill::job {

class Progress {
 public:
  Progress(std::uint64_t total_wafers, double interval_s, bool enabled);
  /// Adds finished wafers and redraws if due.
  void add(std::uint64_t wafers);
  /// Prints the final line.
  void finish();

 private:
  void draw(bool final);
  std::uint64_t total_;
  std::uint64_t done_ = 0;
  double interval_s_;
  bool enabled_;
  bool tty_;
  double start_;
  double last_draw_;
};

}  // namespace wafermill::job
