/// @file trace_reader.cpp
/// @brief Hyperslab reads of /traces/values and /traces/step (trace_reader.hpp).
#include "wafermill/format/trace_reader.hpp"

#include <algorithm>
#include <optional>
#include <stdexcept>

#include "wafermill/error.hpp"
#include "wafermill/format/h5.hpp"

namespace wafermill::format {
namespace {

/// Upper bound of the chunk cache of /traces/values.
constexpr std::uint64_t kMaxCacheBytes = 512ULL << 20;

std::uint64_t next_prime(std::uint64_t n) {
  auto is_prime = [](std::uint64_t x) {
    if (x < 2) return false;
    for (std::uint64_t d = 2; d * d <= x; ++d) {
      if (x % d == 0) return false;
    }
    return true;
  };
  while (!is_prime(n)) ++n;
  return n;
}

/// A cache holding two full rows of chunks (the row of chunks being read and the next, for a
/// read that straddles a chunk boundary), so consecutive row reads never decompress a chunk
/// twice. HDF5 recommends ~100 hash slots per cached chunk, a prime.
h5::ChunkCache cache_for(const h5::StorageInfo& st, std::uint64_t n_sensors, std::size_t elem) {
  const std::uint64_t chunk_rows = st.chunk.at(0);
  const std::uint64_t chunk_cols = std::max<std::uint64_t>(st.chunk.at(1), 1);
  const std::uint64_t across = (n_sensors + chunk_cols - 1) / chunk_cols;
  const std::uint64_t chunk_bytes = chunk_rows * chunk_cols * elem;
  const std::uint64_t bytes =
      std::clamp<std::uint64_t>(2 * across * chunk_bytes, 1ULL << 20, kMaxCacheBytes);
  const std::uint64_t fit =
      std::max<std::uint64_t>(bytes / std::max<std::uint64_t>(chunk_bytes, 1), 1);
  return {static_cast<std::size_t>(next_prime(std::min<std::uint64_t>(100 * fit, 1U << 20))),
          static_cast<std::size_t>(bytes)};
}

}  // namespace

IoDriver parse_io_driver(std::string_view name) {
  if (name == "posix") return IoDriver::posix;
  if (name == "mpio") return IoDriver::mpio;
  throw UsageError("unknown I/O driver '" + std::string(name) + "'; expected posix or mpio");
}

std::string_view to_string(IoDriver d) { return d == IoDriver::posix ? "posix" : "mpio"; }

struct TraceReader::Handles {
  h5::File file;
  h5::Dataset values;
  std::optional<h5::Dataset> step;
  h5::Elem value_elem = h5::Elem::f32;
};

TraceReader::TraceReader(const TraceIndex& index, IoDriver driver, MPI_Comm comm)
    : h_(std::make_unique<Handles>()), index_(index) {
  const std::string& path = index.path;
  try {
    h_->file =
        driver == IoDriver::mpio ? h5::File::open_read_mpio(path, comm) : h5::File::open_read(path);
    const h5::Group traces = h_->file.open_group("traces");
    h_->values = traces.open_dataset("values");
    const auto dims = h_->values.dims();
    const auto type = h_->values.type();
    const std::size_t elem = index.value_type == ValueType::float32 ? 4 : 8;
    if (dims != std::vector<std::uint64_t>{index.n_samples, index.n_sensors} ||
        type.type_class != h5::TypeClass::floating || type.size != elem) {
      throw InputError(path +
                       ": /traces/values no longer matches its index (the file changed "
                       "while the job ran?)");
    }
    h_->value_elem = elem == 4 ? h5::Elem::f32 : h5::Elem::f64;
    const h5::StorageInfo st = h_->values.storage();
    if (st.layout == h5::Layout::chunked && st.chunk.size() == 2) {
      h_->values = h5::Dataset();
      h_->values = traces.open_dataset("values", cache_for(st, index.n_sensors, elem));
    }
    if (index.has_steps) {
      h_->step = traces.open_dataset("step");
      if (h_->step->dims() != std::vector<std::uint64_t>{index.n_samples}) {
        throw InputError(path + ": /traces/step no longer matches its index");
      }
    }
  } catch (const HdfError& e) {
    throw InputError(std::string(e.what()));
  }
}

TraceReader::~TraceReader() = default;

namespace {
void check_range(const TraceIndex& index, std::uint64_t first_row, std::uint64_t n_rows) {
  if (first_row > index.n_samples || n_rows > index.n_samples - first_row) {
    throw std::out_of_range(index.path + ": rows [" + std::to_string(first_row) + ", +" +
                            std::to_string(n_rows) + ") outside /traces/values of " +
                            std::to_string(index.n_samples) + " rows");
  }
}

/// Reads the steps of rows [first_row, first_row + steps.size()) and checks their range.
void read_steps(const TraceIndex& index, const h5::Dataset& step, std::uint64_t first_row,
                std::span<std::int32_t> steps) {
  // int32 memory type: HDF5 saturates larger stored values, which the range check rejects.
  step.read(steps, {first_row}, {steps.size()});
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (steps[i] < 0 || static_cast<std::uint32_t>(steps[i]) >= index.n_steps) {
      throw InputError(index.path + ": /traces/step[" + std::to_string(first_row + i) +
                       "] = " + std::to_string(steps[i]) + " outside [0, " +
                       std::to_string(index.n_steps) + ")");
    }
  }
}
}  // namespace

void TraceReader::read_rows(std::uint64_t first_row, std::uint64_t n_rows, void* values,
                            std::span<std::int32_t> steps) {
  check_range(index_, first_row, n_rows);
  if (n_rows > 0 && values == nullptr) throw std::invalid_argument("read_rows: null buffer");
  try {
    h_->values.read_hyperslab(h5::native_type(h_->value_elem), values, {first_row, 0},
                              {n_rows, index_.n_sensors});
    bytes_read_ += n_rows * index_.row_bytes();
    if (h_->step && !steps.empty()) {
      if (steps.size() != n_rows) throw std::invalid_argument("read_rows: steps size != n_rows");
      read_steps(index_, *h_->step, first_row, steps);
    }
  } catch (const HdfError& e) {
    throw InputError(index_.path + ": reading rows [" + std::to_string(first_row) + ", " +
                     std::to_string(first_row + n_rows) + "): " + e.what());
  }
}

void TraceReader::read_column(std::uint64_t first_row, std::uint64_t n_rows, std::uint64_t sensor,
                              void* values, std::span<std::int32_t> steps) {
  check_range(index_, first_row, n_rows);
  if (sensor >= index_.n_sensors) throw std::out_of_range("read_column: sensor out of range");
  if (n_rows > 0 && values == nullptr) throw std::invalid_argument("read_column: null buffer");
  try {
    h_->values.read_hyperslab(h5::native_type(h_->value_elem), values, {first_row, sensor},
                              {n_rows, 1});
    bytes_read_ += n_rows * h5::elem_size(h_->value_elem);
    if (h_->step && !steps.empty()) {
      if (steps.size() != n_rows) throw std::invalid_argument("read_column: steps size != n_rows");
      read_steps(index_, *h_->step, first_row, steps);
    }
  } catch (const HdfError& e) {
    throw InputError(index_.path + ": reading sensor " + std::to_string(sensor) + " rows [" +
                     std::to_string(first_row) + ", " + std::to_string(first_row + n_rows) +
                     "): " + e.what());
  }
}

}  // namespace wafermill::format
