// Test-only fault injection (docs/RELIABILITY.md "Fault injection"): the environment variable
// WAFERMILL_FAULT makes a chosen rank misbehave at a work-unit boundary, so that the fault tests
// are deterministic. Not for production use; unset, it costs one getenv per run.
//
//   WAFERMILL_FAULT=ACTION:rank=R[:after_units=N][:ms=M][,ACTION...]
//     kill   the rank sends itself SIGKILL when it starts unit N+1
//     hang   the rank's main thread sleeps forever when it starts unit N+1 (no heartbeats)
//     delay  the rank sleeps M ms before each unit (slows a run so a test can interrupt it)
//   rank=all applies to every rank.
// Private to job/.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace wafermill::job {

class FaultInjection {
 public:
  /// Parses $WAFERMILL_FAULT for `rank`. @throws UsageError on a malformed value.
  static FaultInjection from_environment(int rank);
  /// Parses `spec` (the variable's syntax) for `rank`. @throws UsageError when malformed.
  static FaultInjection parse(const std::string& spec, int rank);

  /// Called when this rank starts a unit, after `units_done` earlier units.
  void at_unit_start(std::uint64_t units_done) const;

  /// True when any fault applies to this rank.
  bool active() const { return !faults_.empty(); }

 private:
  enum class Action { kill, hang, delay };
  struct Fault {
    Action action;
    std::uint64_t after_units = 0;
    std::uint64_t ms = 0;
  };
  std::vector<Fault> faults_;
};

}  // namespace wafermill::job
