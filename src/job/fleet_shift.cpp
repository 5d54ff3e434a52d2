#include "fleet_shift.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <span>
#include <string>

#include "wafermill/reduce/fleet.hpp"

namespace wafermill::job {
namespace {

// True when wafer w's file has no column for sensor s (several files, sensors the union).
bool lacks_sensor(const format::TraceIndex& index, std::uint64_t w, std::uint64_t s) {
  if (index.sources.empty()) return false;
  const auto& columns = index.sources[index.source_of_wafer(w)].columns;
  return !columns.empty() && columns[s] < 0;
}

std::vector<double> shift_on_rank0(const format::TraceIndex& index, format::TraceReader& reader) {
  const std::uint64_t S = index.n_sensors;
  const bool f32 = index.value_type == format::ValueType::float32;
  std::vector<double> shift(S, 0.0), column;
  std::vector<unsigned char> raw;
  column.reserve(kShiftRows);
  raw.reserve(kShiftRows * 8);
  for (std::uint64_t s = 0; s < S; ++s) {
    std::uint64_t budget = kShiftRows;
    for (std::uint64_t w = 0; w < index.n_wafers && budget > 0; ++w) {
      if (lacks_sensor(index, w, s)) {  // a whole file of invalid samples: not read, not counted
        w = index.source_end_wafer(w) - 1;
        continue;
      }
      const std::uint64_t rows = std::min(index.wafer_rows(w), budget);
      if (rows == 0) continue;
      budget -= rows;
      raw.resize(rows * (f32 ? 4 : 8));
      reader.read_column(index.offsets[w], rows, s, raw.data(), {});
      column.resize(rows);
      for (std::uint64_t i = 0; i < rows; ++i) {
        if (f32) {
          float v;
          std::memcpy(&v, raw.data() + 4 * i, 4);
          column[i] = v;
        } else {
          std::memcpy(&column[i], raw.data() + 8 * i, 8);
        }
      }
      if (std::none_of(column.begin(), column.end(), [](double x) { return std::isfinite(x); }))
        continue;
      shift[s] = reduce::shift_of_samples(column);
      break;
    }
  }
  return shift;
}

}  // namespace

std::vector<double> choose_fleet_shift(const format::TraceIndex& index, format::TraceReader& reader,
                                       const Team& team) {
  std::vector<double> shift;
  std::string error;
  if (team.rank == 0) {
    try {
      shift = shift_on_rank0(index, reader);
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  share_error(team, error);
  // The bit patterns travel: every rank gets exactly rank 0's doubles.
  std::vector<std::uint64_t> words(shift.size());
  if (!shift.empty()) std::memcpy(words.data(), shift.data(), shift.size() * sizeof(double));
  share_words(team, words);
  shift.resize(words.size());
  if (!words.empty()) std::memcpy(shift.data(), words.data(), words.size() * sizeof(double));
  return shift;
}

}  // namespace wafermill::job
