#include "drive/fault_injection.hpp"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <unistd.h>

#include "wafermill/error.hpp"

namespace wafermill::job {
namespace {

std::uint64_t number(const std::string& value, const std::string& spec) {
  char* end = nullptr;
  const unsigned long long v = std::strtoull(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0')
    throw UsageError("WAFERMILL_FAULT=" + spec + ": '" + value + "' is not a number");
  return v;
}

}  // namespace

FaultInjection FaultInjection::from_environment(int rank) {
  const char* spec = std::getenv("WAFERMILL_FAULT");
  return spec != nullptr && *spec != '\0' ? parse(spec, rank) : FaultInjection{};
}

FaultInjection FaultInjection::parse(const std::string& spec, int rank) {
  FaultInjection out;
  std::stringstream faults(spec);
  std::string one;
  while (std::getline(faults, one, ',')) {
    std::stringstream fields(one);
    std::string field;
    std::getline(fields, field, ':');
    Fault f{};
    if (field == "kill") f.action = Action::kill;
    else if (field == "hang") f.action = Action::hang;
    else if (field == "delay") f.action = Action::delay;
    else throw UsageError("WAFERMILL_FAULT=" + spec + ": unknown action '" + field + "' (kill, hang, delay)");
    bool mine = false, has_rank = false;
    while (std::getline(fields, field, ':')) {
      const auto eq = field.find('=');
      const std::string key = field.substr(0, eq);
      const std::string value = eq == std::string::npos ? "" : field.substr(eq + 1);
      if (key == "rank") {
        has_rank = true;
        mine = value == "all" || number(value, spec) == static_cast<std::uint64_t>(rank);
      } else if (key == "after_units") {
        f.after_units = number(value, spec);
      } else if (key == "ms") {
        f.ms = number(value, spec);
      } else {
        throw UsageError("WAFERMILL_FAULT=" + spec + ": unknown field '" + key + "' (rank, after_units, ms)");
      }
    }
    if (!has_rank) throw UsageError("WAFERMILL_FAULT=" + spec + ": every fault needs rank=R or rank=all");
    if (mine) out.faults_.push_back(f);
  }
  return out;
}

void FaultInjection::at_unit_start(std::uint64_t units_done) const {
  for (const Fault& f : faults_) {
    switch (f.action) {
      case Action::delay:
        ::usleep(static_cast<useconds_t>(f.ms * 1000));
        break;
      case Action::kill:
        if (units_done == f.after_units) {
          std::fprintf(stderr, "wafermill: WAFERMILL_FAULT: killing this rank (pid %d)\n", ::getpid());
          std::fflush(stderr);
          std::raise(SIGKILL);
        }
        break;
      case Action::hang:
        if (units_done == f.after_units) {
          std::fprintf(stderr, "wafermill: WAFERMILL_FAULT: hanging this rank (pid %d)\n", ::getpid());
          std::fflush(stderr);
          while (true) ::sleep(1);
        }
        break;
    }
  }
}

}  // namespace wafermill::job
