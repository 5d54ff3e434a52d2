/// @file sample_files.hpp
/// @brief Small "wafermill traces v1" files for the format tests, written through h5.hpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wafermill::format::testing {

/// @brief What write_sample() writes.
struct SampleSpec {
  std::vector<std::uint64_t> wafer_rows{3, 0, 5, 2};  ///< rows per wafer (0: empty wafer)
  std::uint64_t n_sensors = 3;
  bool float64 = false;
  std::vector<std::uint64_t> chunk;  ///< empty: contiguous
  int deflate_level = 0;             ///< > 0: shuffle + deflate
  std::uint32_t n_steps = 3;         ///< 0: no /traces/step
  bool n_steps_attribute = true;
  bool sensor_names = true;
  bool wafer_fields = true;  ///< /wafers/lot_id (strings), /wafers/label (uint8)
};

/// @brief The value stored at (row, sensor): exact in float32 for small tables.
inline double sample_value(std::uint64_t row, std::uint64_t sensor) {
  return static_cast<double>(row) * 8.0 + static_cast<double>(sensor) + 0.25;
}
/// @brief The step of row r.
inline std::int32_t sample_step(std::uint64_t row, std::uint32_t n_steps) {
  return static_cast<std::int32_t>((row * 7) % n_steps);
}

/// @brief Writes a valid sample file at `path` (truncating).
void write_sample(const std::string& path, const SampleSpec& spec = {});

/// @brief A fresh path under the test's temporary folder.
std::string temp_path(const std::string& name);

}  // namespace wafermill::format::testing
