/// @file memory_probe.cpp
/// @brief What first touches and reads cost on this machine (docs/BENCHMARKS.md "Reads and first
/// touches on another VM"): the figures that chose how the job reads its input and sizes its
/// buffers. Virtual machines differ here by an order of magnitude.
///
///   memory_probe faults [MiB=256]      first write to each page of a fresh mapping, with 4 KiB
///                                      pages and with MADV_HUGEPAGE, twice each
///   memory_probe reads FILE [KiB=256]  a warm file summed after each read: pread into a reused
///                                      buffer of KiB, of 8 MiB and of 32 MiB, and mmap of 8 MiB
///                                      chunks (MAP_POPULATE, one touch per page), three times
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The sum of n floats (in 8 lanes, so that it runs at the speed of the loads).
double sum_floats(const float* p, std::size_t n) {
  float lane[8] = {};
  for (std::size_t i = 0; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) lane[j] += p[i + j];
  double s = 0.0;
  for (float v : lane) s += v;
  return s;
}

int faults(std::size_t mib) {
  const std::size_t len = mib << 20, huge = std::size_t{2} << 20;
  for (int advised = 0; advised < 2; ++advised)
    for (int rep = 0; rep < 2; ++rep) {
      void* m = ::mmap(nullptr, len + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                       -1, 0);
      if (m == MAP_FAILED) {
        std::perror("mmap");
        return 1;
      }
      auto* a = reinterpret_cast<char*>((reinterpret_cast<std::uintptr_t>(m) + huge - 1) &
                                        ~(huge - 1));
      if (advised) ::madvise(a, len, MADV_HUGEPAGE);
      const double t = now();
      for (std::size_t i = 0; i < len; i += 4096) a[i] = 1;
      const double dt = now() - t;
      std::printf("%-14s %.3f s for %zu MiB: %.2f us per 4 KiB page, %.2f GB/s\n",
                  advised ? "MADV_HUGEPAGE" : "4 KiB pages", dt, mib, dt / double(len / 4096) * 1e6,
                  double(len) / dt / 1e9);
      ::munmap(m, len + huge);
    }
  return 0;
}

int reads(const char* path, std::size_t slice_kib) {
  const int fd = ::open(path, O_RDONLY);
  struct stat sb {};
  if (fd < 0 || ::fstat(fd, &sb) != 0) {
    std::perror(path);
    return 1;
  }
  const std::size_t len = static_cast<std::size_t>(sb.st_size);
  double sink = 0.0;
  const auto by_pread = [&](std::size_t bytes) {
    std::vector<float> buf(bytes / 4);
    const double t = now();
    for (std::size_t off = 0; off + bytes <= len; off += bytes) {
      if (::pread(fd, buf.data(), bytes, static_cast<off_t>(off)) != static_cast<ssize_t>(bytes))
        return -1.0;
      sink += sum_floats(buf.data(), bytes / 4);
    }
    return now() - t;
  };
  const auto by_mmap = [&](std::size_t bytes) {
    const double t = now();
    for (std::size_t off = 0; off + bytes <= len; off += bytes) {
      void* m = ::mmap(nullptr, bytes, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd,
                       static_cast<off_t>(off));
      if (m == MAP_FAILED) return -1.0;
      unsigned char x = 0;
      for (std::size_t a = 0; a < bytes; a += 4096) x ^= static_cast<volatile unsigned char*>(m)[a];
      sink += sum_floats(static_cast<const float*>(m), bytes / 4) + x;
      ::munmap(m, bytes);
    }
    return now() - t;
  };
  std::vector<char> warm(1 << 20);
  for (std::size_t off = 0; off < len; off += warm.size())
    if (::pread(fd, warm.data(), warm.size(), static_cast<off_t>(off)) <= 0) break;
  std::printf("%.1f MB, warm; seconds to read and sum it\n", double(len) / 1e6);
  std::printf("pread %zu KiB | pread 8 MiB | pread 32 MiB | mmap 8 MiB chunks\n", slice_kib);
  for (int rep = 0; rep < 3; ++rep)
    std::printf("%.3f | %.3f | %.3f | %.3f\n", by_pread(slice_kib << 10), by_pread(8 << 20),
                by_pread(32 << 20), by_mmap(8 << 20));
  std::printf("(checksum %g)\n", sink);
  ::close(fd);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "faults") return faults(argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 256);
  if (mode == "reads" && argc > 2)
    return reads(argv[2], argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 256);
  std::fprintf(stderr, "usage: memory_probe faults [MiB] | memory_probe reads FILE [KiB]\n");
  return 2;
}
