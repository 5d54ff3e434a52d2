// libFuzzer target over the input path a run takes before any work: the bytes become a file,
// which goes through validate_trace_file (the `wafermill validate` command), read_trace_index
// (rank 0 of `wafermill run`) and, when it is accepted, a TraceReader reading rows and a column
// of the first and the last wafer. Any InputError or HdfError is a clean rejection; a crash, a
// sanitizer report, a leak, a timeout or an allocation above -malloc_limit_mb is a finding.
#include <cstdint>
#include <cstdio>
#include <string>
#include <unistd.h>
#include <vector>

#include "wafermill/error.hpp"
#include "wafermill/format/trace_index.hpp"
#include "wafermill/format/trace_reader.hpp"

namespace {

// One file per fuzzing process, in memory-backed /dev/shm when it exists.
std::string scratch_path() {
  const char* dir = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  return std::string(dir) + "/wafermill_fuzz_" + std::to_string(::getpid()) + ".h5";
}

void write_file(const std::string& path, const std::uint8_t* data, std::size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
}

// Reads up to 64 rows of wafer w whole, and its first sensor as a column.
void read_wafer(wafermill::format::TraceReader& reader, const wafermill::format::TraceIndex& index,
                std::uint64_t w) {
  const std::uint64_t rows = std::min<std::uint64_t>(index.wafer_rows(w), 64);
  if (rows == 0 || index.n_sensors == 0) return;
  std::vector<unsigned char> values(rows * index.row_bytes());
  std::vector<std::int32_t> steps(index.has_steps ? rows : 0);
  reader.read_rows(index.offsets[w], rows, values.data(), steps);
  reader.read_column(index.offsets[w], rows, 0, values.data(), steps);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = scratch_path();
  write_file(path, data, size);
  try {
    const auto problems = wafermill::format::validate_trace_file(path);
    if (problems.empty()) {
      const auto index = wafermill::format::read_trace_index(path);
      wafermill::format::TraceReader reader(index, wafermill::format::IoDriver::posix,
                                            MPI_COMM_NULL);
      if (index.n_wafers > 0) {
        read_wafer(reader, index, 0);
        read_wafer(reader, index, index.n_wafers - 1);
      }
    }
  } catch (const wafermill::InputError&) {
  } catch (const wafermill::HdfError&) {
  }
  ::unlink(path.c_str());
  return 0;
}
