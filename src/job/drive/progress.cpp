#include "drive/progress.hpp"

#include <cstdio>
#include <unistd.h>

#include "wafermill/metrics/metrics.hpp"

namespace wafermill::job {

Progress::Progress(std::uint64_t total_wafers, double interval_s, bool enabled)
    : total_(total_wafers),
      interval_s_(interval_s),
      enabled_(enabled),
      tty_(::isatty(STDERR_FILENO) != 0),
      start_(metrics::now_seconds()),
      last_draw_(start_) {}

void Progress::add(std::uint64_t wafers) {
  done_ += wafers;
  if (!enabled_) return;
  const double now = metrics::now_seconds();
  // A terminal is redrawn at most 5 times a second; a log gets a line per interval.
  if (now - last_draw_ >= (tty_ ? 0.2 : interval_s_)) {
    last_draw_ = now;
    draw(false);
  }
}

void Progress::finish() {
  if (enabled_) draw(true);
}

void Progress::draw(bool final) {
  const double elapsed = metrics::now_seconds() - start_;
  const double rate = elapsed > 0 ? done_ / elapsed : 0.0;
  const double eta = rate > 0 ? (total_ - done_) / rate : 0.0;
  const double pct = total_ ? 100.0 * done_ / total_ : 100.0;
  std::fprintf(stderr, "%s[wafermill] %llu/%llu wafers (%.1f%%)  %.0f wafers/s  ETA %.1f s%s",
               tty_ ? "\r" : "", static_cast<unsigned long long>(done_),
               static_cast<unsigned long long>(total_), pct, rate, eta,
               tty_ && !final ? "   " : "\n");
  std::fflush(stderr);
}

}  // namespace wafermill::job
