// The clock and the memory figures of /proc/self/status.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>

#include "wafermill/metrics/metrics.hpp"

namespace wm = wafermill::metrics;

TEST(Process, ClockIsMonotonicAndScopedTimerAccumulates) {
  const double a = wm::now_seconds();
  const double b = wm::now_seconds();
  EXPECT_LE(a, b);
  double sink = 1.0;
  { wm::ScopedTimer timer(sink); }
  EXPECT_GE(sink, 1.0);
}

TEST(Process, PeakRssGrowsAfterTouching64MiB) {
  const std::uint64_t rss_before = wm::current_rss_bytes();
  ASSERT_GT(rss_before, 0u) << "no VmRSS in /proc/self/status";
  constexpr std::size_t kBytes = 64u << 20;
  auto buffer = std::make_unique_for_overwrite<unsigned char[]>(kBytes);
  for (std::size_t i = 0; i < kBytes; i += 4096) buffer[i] = static_cast<unsigned char>(i >> 12 | 1);
  std::uint64_t checksum = 0;
  for (std::size_t i = 0; i < kBytes; i += 4096) checksum += buffer[i];
  EXPECT_GT(checksum, 0u);
  const std::uint64_t touched = 60u << 20;  // the pages written, less some slack
  EXPECT_GE(wm::current_rss_bytes(), rss_before + touched);
  EXPECT_GE(wm::peak_rss_bytes(), rss_before + touched);
  EXPECT_GE(wm::peak_rss_bytes(), wm::current_rss_bytes());
}
