/// @file trace_reader.cpp
/// @brief Hyperslab reads of /traces/values and /traces/step (trace_reader.hpp).
#include "wafermill/format/trace_reader.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>

#include "in_place.hpp"
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

NativeReads native_reads() {
  const char* env = std::getenv("WAFERMILL_READ_IN_PLACE");
  if (env == nullptr) return NativeReads::read;
  const std::string_view v(env);
  if (v == "0" || v == "hdf5") return NativeReads::hdf5;
  if (v == "map") return NativeReads::map;
  return NativeReads::read;
}

namespace {

/// What a FileReader needs of one file's index (its offsets are not among it).
struct FileShape {
  std::string path;
  std::uint64_t n_samples = 0;
  std::uint64_t n_sensors = 0;
  ValueType value_type = ValueType::float32;
  bool has_steps = false;
  std::uint32_t n_steps = 0;
  std::uint64_t values_at = kNotInPlace;  // TraceIndex::values_at
  std::uint64_t steps_at = kNotInPlace;   // TraceIndex::steps_at
  std::uint64_t row_bytes() const { return n_sensors * (value_type == ValueType::float32 ? 4 : 8); }
};

FileShape shape_of(const TraceIndex& t) {
  const bool file_steps = t.has_steps && t.time_windows == 0;  // windows are filled, not read
  return {t.path,      t.n_samples,           t.n_sensors, t.value_type,
          file_steps,  file_steps ? t.n_steps : 0, t.values_at, t.steps_at};
}

FileShape shape_of(const TraceSource& s) {
  return {s.path,      s.n_rows,  s.n_sensors, s.value_type,
          s.has_steps, s.n_steps, s.values_at, s.steps_at};
}

struct FileHandles;

/// One open trace file: the reads of TraceReader in the file's own rows and columns.
class FileReader {
 public:
  FileReader(FileShape shape, IoDriver driver, MPI_Comm comm);
  ~FileReader();
  void read_rows(std::uint64_t first_row, std::uint64_t n_rows, void* values,
                 std::span<std::int32_t> steps);
  void read_column(std::uint64_t first_row, std::uint64_t n_rows, std::uint64_t sensor,
                   void* values, std::span<std::int32_t> steps);
  bool maps_in_place() const;
  const void* map_rows(std::uint64_t first_row, std::uint64_t n_rows,
                       std::span<std::int32_t> steps);
  std::uint64_t bytes_read() const { return bytes_read_; }

 private:
  // Opens the file with HDF5 (the hyperslab reads; in place too when allowed and found).
  void open_hdf5(bool in_place);
  // Rows [first_row, first_row + n_rows) of the native array at h_->data_offset, by pread.
  void read_native(std::uint64_t first_row, std::uint64_t n_rows, void* values);
  // Steps of rows [first_row, first_row + steps.size()): from the file's bytes where the index
  // found them stored as native int32, else through HDF5.
  void read_step_values(std::uint64_t first_row, std::span<std::int32_t> steps);

  std::unique_ptr<FileHandles> h_;
  FileShape index_;
  IoDriver driver_;
  MPI_Comm comm_;
  std::uint64_t bytes_read_ = 0;
};

struct FileHandles {
  bool hdf5 = false;  // file, values and step are open
  h5::File file;
  h5::Dataset values;
  std::optional<h5::Dataset> step;
  h5::Elem value_elem = h5::Elem::f32;
  // In-place reads (map_rows): the file, the values' address in it, the current mapping.
  int fd = -1;
  std::uint64_t data_offset = 0;
  void* map = nullptr;
  std::size_t map_len = 0;
  void unmap() {
    if (map != nullptr) ::munmap(map, map_len);
    map = nullptr;
    map_len = 0;
  }
  ~FileHandles() {
    unmap();
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

FileReader::FileReader(FileShape shape, IoDriver driver, MPI_Comm comm)
    : h_(std::make_unique<FileHandles>()), index_(std::move(shape)), driver_(driver), comm_(comm) {
  // Direct reads (pread, or map_rows) for the posix driver where the bytes on disk are the
  // native array; any other storage (filters, scattered or partial-width chunks, external
  // files, another byte order, mpio) reads by hyperslab. WAFERMILL_READ_IN_PLACE=0 turns them
  // off (native_reads()).
  const bool in_place = driver == IoDriver::posix && native_reads() != NativeReads::hdf5;
  // Where the index read found the values (and steps) stored as native arrays, the file is
  // read with plain file reads and never opened with HDF5: a night of thousands of small files
  // pays no HDF5 open per file on the readers (docs/FORMAT.md "Several input files").
  if (in_place && index_.values_at != kNotInPlace &&
      (!index_.has_steps || index_.steps_at != kNotInPlace)) {
    h_->fd = ::open(index_.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (h_->fd >= 0) {
      h_->data_offset = index_.values_at;
      return;
    }
  }
  open_hdf5(in_place);
}

void FileReader::open_hdf5(bool in_place) {
  const FileShape& index = index_;
  const std::string& path = index.path;
  try {
    h_->file = driver_ == IoDriver::mpio ? h5::File::open_read_mpio(path, comm_)
                                         : h5::File::open_read(path);
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
    if (in_place && h_->fd < 0) {
      if (const auto base = detail::native_run(h_->values, st, h_->value_elem, index.n_samples,
                                               index.n_sensors)) {
        h_->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        h_->data_offset = *base;
      }
    }
    if (index.has_steps) {
      h_->step = traces.open_dataset("step");
      if (h_->step->dims() != std::vector<std::uint64_t>{index.n_samples}) {
        throw InputError(path + ": /traces/step no longer matches its index");
      }
    }
    h_->hdf5 = true;
  } catch (const HdfError& e) {
    throw InputError(std::string(e.what()));
  }
}

FileReader::~FileReader() = default;

namespace {
void check_range(const FileShape& index, std::uint64_t first_row, std::uint64_t n_rows) {
  if (first_row > index.n_samples || n_rows > index.n_samples - first_row) {
    throw std::out_of_range(index.path + ": rows [" + std::to_string(first_row) + ", +" +
                            std::to_string(n_rows) + ") outside /traces/values of " +
                            std::to_string(index.n_samples) + " rows");
  }
}

/// Checks the range of the steps of rows [first_row, first_row + steps.size()).
void check_steps(const FileShape& index, std::uint64_t first_row,
                 std::span<const std::int32_t> steps) {
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (steps[i] < 0 || static_cast<std::uint32_t>(steps[i]) >= index.n_steps) {
      throw InputError(index.path + ": /traces/step[" + std::to_string(first_row + i) +
                       "] = " + std::to_string(steps[i]) + " outside [0, " +
                       std::to_string(index.n_steps) + ")");
    }
  }
}
}  // namespace

void FileReader::read_rows(std::uint64_t first_row, std::uint64_t n_rows, void* values,
                           std::span<std::int32_t> steps) {
  check_range(index_, first_row, n_rows);
  if (n_rows > 0 && values == nullptr) throw std::invalid_argument("read_rows: null buffer");
  if (h_->fd >= 0) {  // the native array's bytes, read directly (no HDF5 call, no conversion)
    read_native(first_row, n_rows, values);
    bytes_read_ += n_rows * index_.row_bytes();
    if (index_.has_steps && !steps.empty()) {
      if (steps.size() != n_rows) throw std::invalid_argument("read_rows: steps size != n_rows");
      read_step_values(first_row, steps);
    }
    return;
  }
  if (!h_->hdf5) open_hdf5(false);
  try {
    h_->values.read_hyperslab(h5::native_type(h_->value_elem), values, {first_row, 0},
                              {n_rows, index_.n_sensors});
    bytes_read_ += n_rows * index_.row_bytes();
    if (index_.has_steps && !steps.empty()) {
      if (steps.size() != n_rows) throw std::invalid_argument("read_rows: steps size != n_rows");
      read_step_values(first_row, steps);
    }
  } catch (const HdfError& e) {
    throw InputError(index_.path + ": reading rows [" + std::to_string(first_row) + ", " +
                     std::to_string(first_row + n_rows) + "): " + e.what());
  }
}

bool FileReader::maps_in_place() const { return h_->fd >= 0; }

namespace {

/// Reads `bytes` bytes of `fd` at `at` into `dst` (pread, retried where it returns less);
/// throws InputError naming `path`, the dataset and the rows when the file errs or ends first.
void pread_fully(int fd, void* dst, std::size_t bytes, std::uint64_t at, const std::string& path,
                 const char* dataset, std::uint64_t first_row, std::uint64_t n_rows) {
  auto* p = static_cast<char*>(dst);
  while (bytes > 0) {
    const ssize_t r = ::pread(fd, p, bytes, static_cast<off_t>(at));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      throw InputError(path + ": reading " + dataset + " rows [" + std::to_string(first_row) +
                       ", " + std::to_string(first_row + n_rows) + "): " +
                       (r < 0 ? std::string(std::strerror(errno))
                              : "the file is shorter than " + std::string(dataset) +
                                    " (changed while the job ran?)"));
    }
    p += r;
    at += static_cast<std::uint64_t>(r);
    bytes -= static_cast<std::size_t>(r);
  }
}

}  // namespace

void FileReader::read_native(std::uint64_t first_row, std::uint64_t n_rows, void* values) {
  pread_fully(h_->fd, values, static_cast<std::size_t>(n_rows * index_.row_bytes()),
              h_->data_offset + first_row * index_.row_bytes(), index_.path, "/traces/values",
              first_row, n_rows);
}

void FileReader::read_step_values(std::uint64_t first_row, std::span<std::int32_t> steps) {
  if (h_->fd >= 0 && index_.steps_at != kNotInPlace) {
    pread_fully(h_->fd, steps.data(), steps.size() * sizeof(std::int32_t),
                index_.steps_at + first_row * sizeof(std::int32_t), index_.path, "/traces/step",
                first_row, steps.size());
  } else {
    if (!h_->hdf5) open_hdf5(false);
    // int32 memory type: HDF5 saturates larger stored values, which the range check rejects.
    h_->step->read(steps, {first_row}, {steps.size()});
  }
  check_steps(index_, first_row, steps);
}

const void* FileReader::map_rows(std::uint64_t first_row, std::uint64_t n_rows,
                                 std::span<std::int32_t> steps) {
  check_range(index_, first_row, n_rows);
  h_->unmap();
  if (h_->fd < 0 || n_rows == 0) return nullptr;
  const std::uint64_t begin = h_->data_offset + first_row * index_.row_bytes();
  const std::uint64_t bytes = n_rows * index_.row_bytes();
  const std::uint64_t page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  const std::uint64_t floor = begin / page * page;
  // A file cut short since the index was read must fail as a read does, not with SIGBUS.
  struct stat sb {};
  if (::fstat(h_->fd, &sb) != 0 || static_cast<std::uint64_t>(sb.st_size) < begin + bytes) {
    throw InputError(index_.path + ": reading rows [" + std::to_string(first_row) + ", " +
                     std::to_string(first_row + n_rows) + "): the file is shorter than " +
                     "/traces/values (changed while the job ran?)");
  }
  const std::size_t len = static_cast<std::size_t>(begin + bytes - floor);
  void* m = ::mmap(nullptr, len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, h_->fd,
                   static_cast<off_t>(floor));
  if (m == MAP_FAILED) return nullptr;  // the hyperslab read still works
  ::madvise(m, len, MADV_SEQUENTIAL);
  // MAP_POPULATE maps what the page cache holds but may leave a cold file's pages to fault in
  // later, inside the compute: touch one byte per page so that the read is done (and timed as
  // a read) here.
  unsigned char sum = 0;
  for (std::size_t at = 0; at < len; at += page) sum ^= static_cast<volatile unsigned char*>(m)[at];
  asm volatile("" : : "r"(sum));
  h_->map = m;
  h_->map_len = len;
  bytes_read_ += bytes;
  try {
    if (index_.has_steps && !steps.empty()) {
      if (steps.size() != n_rows) throw std::invalid_argument("map_rows: steps size != n_rows");
      read_step_values(first_row, steps);
    }
  } catch (const HdfError& e) {
    throw InputError(index_.path + ": reading steps [" + std::to_string(first_row) + ", " +
                     std::to_string(first_row + n_rows) + "): " + e.what());
  }
  return static_cast<const unsigned char*>(m) + (begin - floor);
}

void FileReader::read_column(std::uint64_t first_row, std::uint64_t n_rows, std::uint64_t sensor,
                             void* values, std::span<std::int32_t> steps) {
  check_range(index_, first_row, n_rows);
  if (sensor >= index_.n_sensors) throw std::out_of_range("read_column: sensor out of range");
  if (n_rows > 0 && values == nullptr) throw std::invalid_argument("read_column: null buffer");
  if (!h_->hdf5) open_hdf5(false);
  try {
    h_->values.read_hyperslab(h5::native_type(h_->value_elem), values, {first_row, sensor},
                              {n_rows, 1});
    bytes_read_ += n_rows * h5::elem_size(h_->value_elem);
    if (index_.has_steps && !steps.empty()) {
      if (steps.size() != n_rows) throw std::invalid_argument("read_column: steps size != n_rows");
      read_step_values(first_row, steps);
    }
  } catch (const HdfError& e) {
    throw InputError(index_.path + ": reading sensor " + std::to_string(sensor) + " rows [" +
                     std::to_string(first_row) + ", " + std::to_string(first_row + n_rows) +
                     "): " + e.what());
  }
}

// ---- TraceReader: one file, or several stitched into the job's rows and columns ----

namespace {

/// Files a reader keeps open at most (each holds an HDF5 file, its chunk cache and, for
/// in-place reads, a descriptor); the least recently used is closed first.
constexpr std::size_t kMaxOpenFiles = 64;

template <class From, class To>
void scatter_rows(const From* src, std::uint64_t rows, std::uint64_t src_width,
                  const std::vector<std::int64_t>& columns, To* dst, std::uint64_t dst_width) {
  const To nan = std::numeric_limits<To>::quiet_NaN();
  for (std::uint64_t r = 0; r < rows; ++r) {
    const From* in = src + r * src_width;
    To* out = dst + r * dst_width;
    if (columns.empty()) {
      for (std::uint64_t c = 0; c < dst_width; ++c) out[c] = static_cast<To>(in[c]);
    } else {
      for (std::uint64_t c = 0; c < dst_width; ++c)
        out[c] = columns[c] < 0 ? nan : static_cast<To>(in[columns[c]]);
    }
  }
}

}  // namespace

struct TraceReader::Impl {
  const TraceIndex& index;
  IoDriver driver;
  MPI_Comm comm;
  std::unique_ptr<FileReader> single;  // a single-file index
  // Several files: open readers by source, and when each was last used.
  std::map<std::size_t, std::unique_ptr<FileReader>> open;
  std::map<std::size_t, std::uint64_t> last_use;
  std::uint64_t clock = 0;
  std::uint64_t closed_bytes = 0;  // bytes read by readers since closed
  std::vector<unsigned char> scratch;

  FileReader& file(std::size_t k) {
    last_use[k] = ++clock;
    auto it = open.find(k);
    if (it != open.end()) return *it->second;
    if (open.size() >= kMaxOpenFiles) {
      auto oldest = std::min_element(last_use.begin(), last_use.end(), [&](auto& a, auto& b) {
        return (open.count(a.first) ? a.second : UINT64_MAX) <
               (open.count(b.first) ? b.second : UINT64_MAX);
      });
      closed_bytes += open.at(oldest->first)->bytes_read();
      open.erase(oldest->first);
      last_use.erase(oldest->first);
      last_use[k] = clock;
    }
    // Files open on their own: ranks read different files at different times, so no open can
    // be collective (mpio opens over MPI_COMM_SELF).
    auto reader = std::make_unique<FileReader>(shape_of(index.sources[k]), driver, MPI_COMM_SELF);
    return *open.emplace(k, std::move(reader)).first->second;
  }

  /// The file holding job row `row` (a row of a file of no rows is never asked for).
  std::size_t source_of_row(std::uint64_t row) const {
    const auto& src = index.sources;
    auto it =
        std::upper_bound(src.begin(), src.end(), row,
                         [](std::uint64_t x, const TraceSource& s) { return x < s.first_row; });
    std::size_t k = static_cast<std::size_t>(it - src.begin()) - 1;
    while (src[k].n_rows == 0 || row >= src[k].first_row + src[k].n_rows) ++k;
    return k;
  }

  bool native(const TraceSource& s) const {
    return s.columns.empty() && s.value_type == index.value_type;
  }

  void zero_steps(const TraceSource& s, std::span<std::int32_t> steps) const {
    if (!s.has_steps) std::fill(steps.begin(), steps.end(), 0);
  }
};

namespace {

/// With TraceIndex::time_windows: the windows of rows [first_row, first_row + steps.size()).
void fill_time_windows(const TraceIndex& index, std::uint64_t first_row,
                       std::span<std::int32_t> steps) {
  if (index.time_windows == 0 || steps.empty()) return;
  const auto& off = index.offsets;
  // The wafer holding first_row (wafers of no rows are passed over by the loop below).
  std::size_t w = static_cast<std::size_t>(
      std::upper_bound(off.begin(), off.end(), first_row) - off.begin() - 1);
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const std::uint64_t row = first_row + i;
    while (row >= off[w + 1]) ++w;
    steps[i] = time_window_of(row - off[w], off[w + 1] - off[w], index.time_windows);
  }
}

}  // namespace

TraceReader::TraceReader(const TraceIndex& index, IoDriver driver, MPI_Comm comm)
    : impl_(std::make_unique<Impl>(Impl{index, driver, comm, nullptr, {}, {}, 0, 0, {}})) {
  if (index.sources.empty())
    impl_->single = std::make_unique<FileReader>(shape_of(index), driver, comm);
}

TraceReader::~TraceReader() = default;

void TraceReader::read_rows(std::uint64_t first_row, std::uint64_t n_rows, void* values,
                            std::span<std::int32_t> steps) {
  read_rows_of_files(first_row, n_rows, values, steps);
  fill_time_windows(impl_->index, first_row, steps);
}

void TraceReader::read_rows_of_files(std::uint64_t first_row, std::uint64_t n_rows, void* values,
                                     std::span<std::int32_t> steps) {
  Impl& m = *impl_;
  if (m.single) return m.single->read_rows(first_row, n_rows, values, steps);
  const TraceIndex& job = m.index;
  if (first_row > job.n_samples || n_rows > job.n_samples - first_row)
    throw std::out_of_range(job.path + ": rows outside the inputs' rows");
  if (n_rows > 0 && values == nullptr) throw std::invalid_argument("read_rows: null buffer");
  if (!steps.empty() && steps.size() != n_rows)
    throw std::invalid_argument("read_rows: steps size != n_rows");
  auto* out = static_cast<unsigned char*>(values);
  std::uint64_t row = first_row;
  while (row < first_row + n_rows) {
    const std::size_t k = m.source_of_row(row);
    const TraceSource& s = job.sources[k];
    const std::uint64_t local = row - s.first_row;
    const std::uint64_t n = std::min(first_row + n_rows - row, s.n_rows - local);
    const std::uint64_t at = row - first_row;
    const std::span<std::int32_t> part = steps.empty() ? steps : steps.subspan(at, n);
    const std::span<std::int32_t> file_steps = s.has_steps ? part : std::span<std::int32_t>();
    unsigned char* dst = out + at * job.row_bytes();
    if (m.native(s)) {
      m.file(k).read_rows(local, n, dst, file_steps);
    } else {
      if (m.scratch.size() < n * s.row_bytes()) m.scratch.resize(n * s.row_bytes());
      m.file(k).read_rows(local, n, m.scratch.data(), file_steps);
      const bool from32 = s.value_type == ValueType::float32;
      const bool to32 = job.value_type == ValueType::float32;
      if (from32 && to32)
        scatter_rows(reinterpret_cast<const float*>(m.scratch.data()), n, s.n_sensors, s.columns,
                     reinterpret_cast<float*>(dst), job.n_sensors);
      else if (from32)
        scatter_rows(reinterpret_cast<const float*>(m.scratch.data()), n, s.n_sensors, s.columns,
                     reinterpret_cast<double*>(dst), job.n_sensors);
      else
        scatter_rows(reinterpret_cast<const double*>(m.scratch.data()), n, s.n_sensors, s.columns,
                     reinterpret_cast<double*>(dst), job.n_sensors);
    }
    m.zero_steps(s, part);
    row += n;
  }
}

bool TraceReader::maps_in_place() const {
  return impl_->single ? impl_->single->maps_in_place() : false;
}

const void* TraceReader::map_rows(std::uint64_t first_row, std::uint64_t n_rows,
                                  std::span<std::int32_t> steps) {
  const void* p = map_rows_of_files(first_row, n_rows, steps);
  if (p != nullptr) fill_time_windows(impl_->index, first_row, steps);
  return p;
}

const void* TraceReader::map_rows_of_files(std::uint64_t first_row, std::uint64_t n_rows,
                                           std::span<std::int32_t> steps) {
  Impl& m = *impl_;
  if (m.single) return m.single->map_rows(first_row, n_rows, steps);
  if (n_rows == 0 || first_row >= m.index.n_samples) return nullptr;
  const std::size_t k = m.source_of_row(first_row);
  const TraceSource& s = m.index.sources[k];
  // In place only within one file that stores the job's columns in the job's type.
  if (!m.native(s) || first_row + n_rows > s.first_row + s.n_rows) return nullptr;
  FileReader& f = m.file(k);
  if (!f.maps_in_place()) return nullptr;
  const void* p =
      f.map_rows(first_row - s.first_row, n_rows, s.has_steps ? steps : std::span<std::int32_t>());
  if (p != nullptr) m.zero_steps(s, steps);
  return p;
}

void TraceReader::read_column(std::uint64_t first_row, std::uint64_t n_rows, std::uint64_t sensor,
                              void* values, std::span<std::int32_t> steps) {
  read_column_of_files(first_row, n_rows, sensor, values, steps);
  fill_time_windows(impl_->index, first_row, steps);
}

void TraceReader::read_column_of_files(std::uint64_t first_row, std::uint64_t n_rows,
                                       std::uint64_t sensor, void* values,
                                       std::span<std::int32_t> steps) {
  Impl& m = *impl_;
  if (m.single) return m.single->read_column(first_row, n_rows, sensor, values, steps);
  const TraceIndex& job = m.index;
  if (sensor >= job.n_sensors) throw std::out_of_range("read_column: sensor out of range");
  if (n_rows == 0) return;
  // A wafer's rows lie in one file.
  const std::size_t k = m.source_of_row(first_row);
  const TraceSource& s = job.sources[k];
  if (first_row + n_rows > s.first_row + s.n_rows)
    throw std::out_of_range(job.path + ": read_column across two files");
  const std::uint64_t local = first_row - s.first_row;
  const std::int64_t col =
      s.columns.empty() ? static_cast<std::int64_t>(sensor) : s.columns[sensor];
  const std::span<std::int32_t> file_steps = s.has_steps ? steps : std::span<std::int32_t>();
  const bool to32 = job.value_type == ValueType::float32;
  if (col < 0) {  // the file lacks the sensor: invalid samples
    if (to32)
      std::fill_n(static_cast<float*>(values), n_rows, std::numeric_limits<float>::quiet_NaN());
    else
      std::fill_n(static_cast<double*>(values), n_rows, std::numeric_limits<double>::quiet_NaN());
    if (!file_steps.empty()) {
      // The steps still come from the file.
      std::vector<float> one(n_rows);
      m.file(k).read_column(local, n_rows, 0, one.data(), file_steps);
    }
  } else if (s.value_type == job.value_type) {
    m.file(k).read_column(local, n_rows, static_cast<std::uint64_t>(col), values, file_steps);
  } else {  // float32 file in a float64 job
    if (m.scratch.size() < n_rows * 4) m.scratch.resize(n_rows * 4);
    m.file(k).read_column(local, n_rows, static_cast<std::uint64_t>(col), m.scratch.data(),
                          file_steps);
    const auto* in = reinterpret_cast<const float*>(m.scratch.data());
    auto* out = static_cast<double*>(values);
    for (std::uint64_t i = 0; i < n_rows; ++i) out[i] = in[i];
  }
  m.zero_steps(s, steps);
}

std::uint64_t TraceReader::bytes_read() const {
  if (impl_->single) return impl_->single->bytes_read();
  std::uint64_t b = impl_->closed_bytes;
  for (const auto& [k, f] : impl_->open) b += f->bytes_read();
  return b;
}

}  // namespace wafermill::format
