#include "store/result_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "store/content_hash.hpp"
#include "store/store_directory.hpp"

namespace wafermill::job {
namespace {

namespace fs = std::filesystem;

// "WMSTORE3", little-endian. 3: entries named by key alone, holding per-wafer moments (schema 3,
// content_hash.cpp); 2: keys and checksums are XXH3. Entries of older stores have other names
// (`block-…`), are never read and are pruned after the first complete run.
constexpr std::uint64_t kMagic = 0x3345524F54534D57ULL;
constexpr std::size_t kHeaderWords = 11;
constexpr std::size_t kMomentDoubles = sizeof(reduce::Moments) / sizeof(double);
constexpr const char* kTempMarker = ".tmp.";  // store_directory.hpp knows the pattern

// Header words, in file order. kWordBlock and kWordFirstWafer say where the writing run had the
// block; they are not checked on load (the same content may sit elsewhere in another run).
enum Word : std::size_t {
  kWordMagic,
  kWordKey,
  kWordBlock,
  kWordFirstWafer,
  kWordWafers,
  kWordSensors,
  kWordFeatures,
  kWordSteps,
  kWordPayload,
  kWordChecksum,
  kWordReserved
};

[[noreturn]] void fail(const std::string& path, const char* what) {
  throw std::runtime_error("result store: " + std::string(what) + " " + path + ": " +
                           std::strerror(errno));
}

// Doubles of one block's payload: values, by_step, per-wafer moments, latencies.
std::uint64_t payload_doubles(const features::FeatureLayout& l, std::uint64_t n_wafers) {
  const std::uint64_t sf = l.n_sensors * l.features.size();
  return n_wafers * (sf * (1 + l.n_steps) + l.n_sensors * kMomentDoubles + 1);
}

std::uint64_t checksum(const std::vector<double>& payload) {
  Hash64 h(6);
  h.add_bytes(payload.data(), payload.size() * sizeof(double));
  return h.finish();
}

void write_all(int fd, const void* data, std::size_t n, const std::string& path) {
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail(path, "cannot write");
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

bool read_all(int fd, void* data, std::size_t n) {
  auto* p = static_cast<char*>(data);
  while (n > 0) {
    const ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Parses "entry-<16 hex>.wmb" (store_directory.cpp checks the exact form).
bool parse_entry_name(const std::string& name, std::uint64_t& key) {
  bool temporary = false;
  if (name.compare(0, 6, "entry-") != 0 || !is_store_file_name(name, &temporary) || temporary)
    return false;
  unsigned long long k = 0;
  if (std::sscanf(name.c_str() + 6, "%16llx", &k) != 1) return false;
  key = k;
  return true;
}

// An entry of an older schema: "block-<index>-<key>.wmb", not a temporary.
bool old_entry_name(const std::string& name) {
  bool temporary = false;
  return name.compare(0, 6, "block-") == 0 && is_store_file_name(name, &temporary) && !temporary;
}

}  // namespace

ResultStore::ResultStore(std::string dir, const partition::BlockPlan& plan,
                         const features::FeatureLayout& layout)
    : dir_(std::move(dir)), plan_(plan), layout_(layout) {}

std::string ResultStore::entry_path(std::uint64_t key) const {
  char name[64];
  std::snprintf(name, sizeof name, "entry-%016" PRIx64 ".wmb", key);
  return dir_ + "/" + name;
}

void ResultStore::ensure_directory() {
  if (dir_ready_) return;
  ensure_store_directory(dir_);  // the directory and its marker (store_directory.hpp)
  dir_ready_ = true;
}

std::vector<std::uint64_t> ResultStore::list() const {
  std::vector<std::uint64_t> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    std::uint64_t key = 0;
    if (parse_entry_name(it->path().filename().string(), key)) out.push_back(key);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::size_t ResultStore::remove_temporaries() const {
  std::size_t n = 0;
  std::error_code ec;
  std::vector<fs::path> stale;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    bool temporary = false;  // only the stores' own temporaries: the directory may hold others
    if (is_store_file_name(it->path().filename().string(), &temporary) && temporary)
      stale.push_back(it->path());
  }
  for (const auto& p : stale) n += fs::remove(p, ec) ? 1 : 0;
  return n;
}

void ResultStore::put(const BatchResult& batch) {
  ensure_directory();
  const std::size_t sf = layout_.n_sensors * layout_.features.size();
  const std::size_t k = layout_.n_steps;
  std::vector<double> payload;
  std::vector<std::pair<std::string, std::string>> renames;
  // A failed write (a full disk) leaves no temporary behind.
  struct Cleanup {
    std::vector<std::pair<std::string, std::string>>& renames;
    std::string open_temp;
    bool done = false;
    ~Cleanup() {
      if (done) return;
      if (!open_temp.empty()) ::unlink(open_temp.c_str());
      for (const auto& r : renames) ::unlink(r.first.c_str());
    }
  } cleanup{renames, {}};
  for (std::uint64_t i = 0; i < batch.n_blocks; ++i) {
    const std::uint64_t b = batch.first_block + i;
    const std::uint64_t w0 = plan_.first_wafer(b), n = plan_.end_wafer(b) - w0;
    const std::uint64_t at = w0 - batch.block.first_wafer;  // first row within the batch
    payload.clear();
    payload.reserve(payload_doubles(layout_, n));
    const auto& v = batch.block.values;
    payload.insert(payload.end(), v.begin() + at * sf, v.begin() + (at + n) * sf);
    const auto& s = batch.block.by_step;
    if (k > 0)
      payload.insert(payload.end(), s.begin() + at * k * sf, s.begin() + (at + n) * k * sf);
    const auto* m =
        reinterpret_cast<const double*>(batch.block.moments.data() + at * layout_.n_sensors);
    payload.insert(payload.end(), m, m + n * layout_.n_sensors * kMomentDoubles);
    const auto& lat = batch.latency_s;
    payload.insert(payload.end(), lat.begin() + at, lat.begin() + at + n);

    const std::uint64_t header[kHeaderWords] = {kMagic,
                                                batch.keys[i],
                                                b,
                                                w0,
                                                n,
                                                layout_.n_sensors,
                                                layout_.features.size(),
                                                layout_.n_steps,
                                                payload.size(),
                                                checksum(payload),
                                                0};
    const std::string final_path = entry_path(batch.keys[i]);
    // The temporary is named by the run's block index, unique within the run (one run at a
    // time per store: it is locked), so two blocks of the same content (a file given twice),
    // computed by ranks on different hosts, never share a temporary.
    const std::string temp = final_path + kTempMarker + std::to_string(b);
    Fd f;
    f.fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (f.fd < 0) fail(temp, "cannot create");
    cleanup.open_temp = temp;
    write_all(f.fd, header, sizeof header, temp);
    write_all(f.fd, payload.data(), payload.size() * sizeof(double), temp);
    if (::close(f.fd) != 0) {  // NFS reports a full disk as late as close
      f.fd = -1;
      fail(temp, "cannot write");
    }
    f.fd = -1;
    cleanup.open_temp.clear();
    // No fsync: a killed process loses nothing the kernel already has, and an entry torn by an
    // operating-system crash fails its checksum on load and is recomputed. Syncing every block
    // cost 30-100 % of a 20,000-wafer run (2 ranks: 1.8 s without the store, 2.3-3.9 s with).
    renames.emplace_back(temp, final_path);
  }
  for (const auto& [from, to] : renames)
    if (std::rename(from.c_str(), to.c_str()) != 0) fail(to, "cannot rename into");
  cleanup.done = true;
}

bool ResultStore::load(std::uint64_t key, std::uint64_t b, BatchResult& out,
                       std::string& why) const {
  const std::string path = entry_path(key);
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) {
    why = path + ": " + std::strerror(errno);
    return false;
  }
  const std::uint64_t w0 = plan_.first_wafer(b), n = plan_.end_wafer(b) - w0;
  const std::uint64_t expect = payload_doubles(layout_, n);
  std::uint64_t h[kHeaderWords];
  if (!read_all(f.fd, h, sizeof h)) {
    why = path + ": truncated header";
    return false;
  }
  // Sizes are checked against this run's shape before anything is allocated from them.
  if (h[kWordMagic] != kMagic || h[kWordKey] != key || h[kWordWafers] != n ||
      h[kWordSensors] != layout_.n_sensors || h[kWordFeatures] != layout_.features.size() ||
      h[kWordSteps] != layout_.n_steps || h[kWordPayload] != expect) {
    why = path + ": header does not match block " + std::to_string(b) + " of this run";
    return false;
  }
  struct stat st {};
  if (::fstat(f.fd, &st) != 0 ||
      static_cast<std::uint64_t>(st.st_size) != sizeof h + expect * sizeof(double)) {
    why = path + ": wrong size";
    return false;
  }
  std::vector<double> payload(expect);
  if (!read_all(f.fd, payload.data(), expect * sizeof(double))) {
    why = path + ": truncated payload";
    return false;
  }
  if (checksum(payload) != h[kWordChecksum]) {
    why = path + ": checksum mismatch";
    return false;
  }
  const std::size_t sf = layout_.n_sensors * layout_.features.size();
  out.first_block = b;
  out.n_blocks = 1;
  out.keys.assign(1, key);
  out.block.reset(w0, n, layout_);
  const double* p = payload.data();
  std::copy(p, p + n * sf, out.block.values.begin());
  p += n * sf;
  std::copy(p, p + n * sf * layout_.n_steps, out.block.by_step.begin());
  p += n * sf * layout_.n_steps;
  std::memcpy(static_cast<void*>(out.block.moments.data()), p,
              n * layout_.n_sensors * sizeof(reduce::Moments));
  p += n * layout_.n_sensors * kMomentDoubles;
  out.latency_s.assign(p, p + n);
  return true;
}

bool ResultStore::has(std::uint64_t key) const {
  return ::access(entry_path(key).c_str(), F_OK) == 0;
}

std::size_t ResultStore::prune(std::vector<std::uint64_t> keep) const {
  std::sort(keep.begin(), keep.end());
  std::error_code ec;
  std::vector<fs::path> drop;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    std::uint64_t key = 0;
    if (parse_entry_name(name, key) ? !std::binary_search(keep.begin(), keep.end(), key)
                                    : old_entry_name(name))
      drop.push_back(it->path());
  }
  std::size_t n = 0;
  for (const auto& p : drop) n += fs::remove(p, ec) ? 1 : 0;
  return n;
}

}  // namespace wafermill::job
