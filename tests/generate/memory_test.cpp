/// @file memory_test.cpp
/// @brief Writing a large file holds one chunk of samples, not the file.
#include <fstream>
#include <string>

#include "trace_file.hpp"

namespace wafermill::generate {
namespace {

/// VmHWM or VmRSS of this process in bytes, from /proc/self/status.
std::uint64_t status_bytes(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::stoull(line.substr(key.size() + 1)) * 1024;
  }
  return 0;
}

TEST(GenerateMemory, PeakRssStaysFarBelowTheFileSize) {
  testing::ScratchDir dir;
  GeneratorOptions o;
  o.output = dir.file("big.h5");
  o.n_sensors = 16;
  o.n_steps = 4;
  o.mean_length = 500;
  o.length_sigma = 0.8;
  o.target_bytes = 200'000'000;
  o.seed = 3;
  // Writing 5 to clear_refs resets the high-water mark to the current RSS (Linux ≥ 4.0),
  // so the peak below is this generation's alone.
  { std::ofstream("/proc/self/clear_refs") << "5"; }
  const std::uint64_t before = status_bytes("VmRSS");
  const GeneratorResult r = generate_traces(o);
  const std::uint64_t peak = status_bytes("VmHWM");
  ASSERT_GT(peak, 0U);

  const std::uint64_t values_bytes = r.n_samples * o.n_sensors * 4;
  EXPECT_GT(values_bytes, 180'000'000U);
  EXPECT_GT(r.bytes, values_bytes);
  // One 65536-row batch of 16 floats is 4 MiB; with offsets (8 B/wafer) and HDF5's chunk
  // cache the whole run should stay within a few tens of MiB.
  const std::uint64_t delta = peak > before ? peak - before : 0;
  EXPECT_LT(delta, 48ULL << 20) << "peak RSS grew by " << delta << " bytes for a " << r.bytes
                                << "-byte file";
  RecordProperty("peak_rss_delta_bytes", std::to_string(delta));
}

}  // namespace
}  // namespace wafermill::generate
