/// @file damaged_file_test.cpp
/// @brief Mutation test (FIELD_NOTES "Malformed input"): valid files with a few random bytes
/// changed must either load and read, or fail with InputError; nothing else (no other
/// exception type, no crash, no huge allocation).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include "sample_files.hpp"
#include "wafermill/error.hpp"
#include "wafermill/format/trace_reader.hpp"

namespace wafermill::format {
namespace {

/// Loads the index and reads every row; returns "ok" or "input error".
std::string load_everything(const std::string& path) {
  try {
    const TraceIndex idx = read_trace_index(path);
    TraceReader reader(idx, IoDriver::posix, MPI_COMM_NULL);
    std::vector<char> values(idx.row_bytes() * 64);
    std::vector<std::int32_t> steps(64);
    for (std::uint64_t first = 0; first < idx.n_samples; first += 64) {
      const std::uint64_t n = std::min<std::uint64_t>(64, idx.n_samples - first);
      reader.read_rows(
          first, n, values.data(),
          idx.has_steps ? std::span<std::int32_t>(steps).first(n) : std::span<std::int32_t>());
    }
    (void)validate_trace_file(path);
    return "ok";
  } catch (const InputError&) {
    return "input error";
  }
}

TEST(DamagedFiles, MutationsEndInAValidReadOrAnInputError) {
  const std::string clean = testing::temp_path("clean.h5");
  testing::SampleSpec spec;
  spec.wafer_rows = {50, 0, 120, 33};
  spec.chunk = {32, 3};
  spec.deflate_level = 4;
  testing::write_sample(clean, spec);
  std::ifstream in(clean, std::ios::binary);
  const std::vector<char> original((std::istreambuf_iterator<char>(in)),
                                   std::istreambuf_iterator<char>());
  std::mt19937_64 rng(20240611);
  const std::string damaged = testing::temp_path("damaged.h5");
  int errors = 0;
  // WAFERMILL_MUTATIONS raises the count for a longer soak (3000 passed when written).
  const int kMutations =
      std::getenv("WAFERMILL_MUTATIONS") ? std::atoi(std::getenv("WAFERMILL_MUTATIONS")) : 300;
  for (int m = 0; m < kMutations; ++m) {
    std::vector<char> bytes = original;
    const int n_changes = 1 + static_cast<int>(rng() % 8);
    for (int c = 0; c < n_changes; ++c) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    std::ofstream(damaged, std::ios::binary | std::ios::trunc)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    const std::string outcome = load_everything(damaged);  // any other exception fails the test
    errors += outcome == "input error" ? 1 : 0;
  }
  // Most bytes of a small file are metadata under checksums: most mutations must be caught.
  EXPECT_GT(errors, kMutations / 4);
}

}  // namespace
}  // namespace wafermill::format
