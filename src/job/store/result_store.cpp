#include "store/result_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <unordered_set>

#include "store/content_hash.hpp"
#include "store/store_directory.hpp"

namespace wafermill::job {
namespace {

namespace fs = std::filesystem;

// "WMSTORE4", little-endian: an entry's magic. 4: entries live in pack files (result_store.hpp);
// 3: one file per entry named by key alone, holding per-wafer moments (content_hash.cpp);
// 2: keys and checksums are XXH3. Files of older stores have other names (`entry-…`,
// `block-…`), are never read and are pruned after the first complete run. The keys did not
// change with schema 4 (an entry's content is the same), so kStoreSchema stays 3.
constexpr std::uint64_t kMagic = 0x3445524F54534D57ULL;
// "WMPACK04", little-endian: a pack file's magic.
constexpr std::uint64_t kPackMagic = 0x34304B4341504D57ULL;
constexpr std::size_t kHeaderWords = 11;
constexpr std::size_t kPackWords = 4;   // magic, entry count, table checksum, reserved
constexpr std::size_t kTableWords = 3;  // per entry: key, offset, length
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

std::uint64_t checksum(const double* payload, std::size_t n) {
  Hash64 h(6);
  h.add_bytes(payload, n * sizeof(double));
  return h.finish();
}

std::uint64_t table_checksum(std::uint64_t n, const std::uint64_t* table) {
  Hash64 h(9);
  h.add(n);
  h.add_bytes(table, n * kTableWords * sizeof(std::uint64_t));
  return h.finish();
}

std::string hex_key(std::uint64_t key) {
  char s[20];
  std::snprintf(s, sizeof s, "%016" PRIx64, key);
  return s;
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

// Writes the pieces in order (each iovec is advanced past what was written).
void writev_all(int fd, std::vector<iovec>& pieces, const std::string& path) {
  std::size_t i = 0;
  while (i < pieces.size()) {
    const int n = static_cast<int>(std::min<std::size_t>(pieces.size() - i, IOV_MAX));
    ssize_t w = ::writev(fd, pieces.data() + i, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail(path, "cannot write");
    }
    while (i < pieces.size() && static_cast<std::size_t>(w) >= pieces[i].iov_len) {
      w -= static_cast<ssize_t>(pieces[i].iov_len);
      ++i;
    }
    if (i < pieces.size()) {
      pieces[i].iov_base = static_cast<char*>(pieces[i].iov_base) + w;
      pieces[i].iov_len -= static_cast<std::size_t>(w);
    }
  }
}

// Reads n bytes at `offset`; false when the file ends first or a read fails.
bool pread_all(int fd, void* data, std::size_t n, std::uint64_t offset) {
  auto* p = static_cast<char*>(data);
  while (n > 0) {
    const ssize_t r = ::pread(fd, p, n, static_cast<off_t>(offset));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
    offset += static_cast<std::uint64_t>(r);
  }
  return true;
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// "pack-<16 hex>.wmb", not a temporary (store_directory.cpp checks the exact form).
bool pack_name(const std::string& name) {
  bool temporary = false;
  return name.compare(0, 5, "pack-") == 0 && is_store_file_name(name, &temporary) && !temporary;
}

// An entry file of an older schema: "entry-<key>.wmb" (3) or "block-<index>-<key>.wmb" (1, 2),
// not a temporary.
bool old_entry_name(const std::string& name) {
  bool temporary = false;
  return (name.compare(0, 6, "block-") == 0 || name.compare(0, 6, "entry-") == 0) &&
         is_store_file_name(name, &temporary) && !temporary;
}

// The packs in `dir`, sorted by name; old-schema entry files into `old` when given.
std::vector<std::string> scan(const std::string& dir, std::vector<std::string>* old = nullptr) {
  std::vector<std::string> packs;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (pack_name(name))
      packs.push_back(it->path().string());
    else if (old != nullptr && old_entry_name(name))
      old->push_back(it->path().string());
  }
  std::sort(packs.begin(), packs.end());
  return packs;
}

// Reads the table of the pack open as `fd` into `table` (kTableWords per entry). Returns "" or
// why the pack gives no entries. `size` receives the file's size.
std::string read_table(int fd, std::vector<std::uint64_t>& table, std::uint64_t& size) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return std::strerror(errno);
  size = static_cast<std::uint64_t>(st.st_size);
  std::uint64_t h[kPackWords];
  if (!pread_all(fd, h, sizeof h, 0)) return "truncated pack header";
  if (h[0] != kPackMagic) return "not a pack of this schema (magic)";
  // The count is bounded by the file's size before anything is allocated from it.
  const std::uint64_t per_entry = (kTableWords + kHeaderWords) * sizeof(std::uint64_t);
  if (h[1] > (size - sizeof h) / per_entry) return "truncated table";
  table.resize(h[1] * kTableWords);
  if (!pread_all(fd, table.data(), table.size() * sizeof(std::uint64_t), sizeof h))
    return "truncated table";
  if (table_checksum(h[1], table.data()) != h[2]) return "table checksum mismatch";
  return "";
}

// Writes a pack of keys.size() entries of lengths[i] bytes into `dir`, under a temporary name
// ending in `temp_suffix`, and renames it. entry(i, pieces) appends where the bytes of entry i
// are (lengths[i] in all; they must stay valid until the next call). Returns the pack's path.
std::string write_pack(const std::string& dir, const std::vector<std::uint64_t>& keys,
                       const std::vector<std::uint64_t>& lengths, const std::string& temp_suffix,
                       const std::function<void(std::size_t, std::vector<iovec>&)>& entry) {
  const std::uint64_t n = keys.size();
  std::vector<std::uint64_t> table(n * kTableWords);
  std::uint64_t at = (kPackWords + table.size()) * sizeof(std::uint64_t);
  Hash64 name_hash(8);
  for (std::uint64_t i = 0; i < n; ++i) {
    table[i * kTableWords] = keys[i];
    table[i * kTableWords + 1] = at;
    table[i * kTableWords + 2] = lengths[i];
    at += lengths[i];
    name_hash.add(keys[i]);
  }
  const std::uint64_t head[kPackWords] = {kPackMagic, n, table_checksum(n, table.data()), 0};
  const std::string path = dir + "/pack-" + hex_key(name_hash.finish()) + ".wmb";
  const std::string temp = path + temp_suffix;
  // A failed write (a full disk) leaves no temporary behind.
  struct Cleanup {
    const std::string& temp;
    int fd = -1;
    bool done = false;
    ~Cleanup() {
      if (fd >= 0) ::close(fd);
      if (!done) ::unlink(temp.c_str());
    }
  } f{temp};
  f.fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (f.fd < 0) {
    f.done = true;  // nothing was created
    fail(temp, "cannot create");
  }
  write_all(f.fd, head, sizeof head, temp);
  write_all(f.fd, table.data(), table.size() * sizeof(std::uint64_t), temp);
  std::vector<iovec> pieces;
  for (std::uint64_t i = 0; i < n; ++i) {
    pieces.clear();
    entry(i, pieces);
    std::uint64_t bytes = 0;
    for (const iovec& v : pieces) bytes += v.iov_len;
    if (bytes != lengths[i]) throw std::logic_error("result store: entry of the wrong length");
    writev_all(f.fd, pieces, temp);
  }
  const int fd = f.fd;
  f.fd = -1;
  if (::close(fd) != 0) fail(temp, "cannot write");  // NFS reports a full disk as late as close
  // No fsync: a killed process loses nothing the kernel already has, and a pack torn by an
  // operating-system crash fails its table's or its entries' checksums on load and is
  // recomputed. Syncing every block cost 30-100 % of a 20,000-wafer run (2 ranks: 1.8 s
  // without the store, 2.3-3.9 s with).
  if (std::rename(temp.c_str(), path.c_str()) != 0) fail(path, "cannot rename into");
  f.done = true;
  return path;
}

}  // namespace

ResultStore::ResultStore(std::string dir, const partition::BlockPlan& plan,
                         const features::FeatureLayout& layout)
    : dir_(std::move(dir)), plan_(plan), layout_(layout) {}

ResultStore::~ResultStore() {
  if (open_fd_ >= 0) ::close(open_fd_);
}

void ResultStore::ensure_directory() {
  if (dir_ready_) return;
  ensure_store_directory(dir_);  // the directory and its marker (store_directory.hpp)
  dir_ready_ = true;
}

void ResultStore::read_tables() const {
  if (indexed_) return;
  indexed_ = true;
  std::vector<std::uint64_t> table;
  std::uint64_t size = 0;
  for (const std::string& path : scan(dir_)) {
    Fd f;
    f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    const std::string why =
        f.fd < 0 ? std::string(std::strerror(errno)) : read_table(f.fd, table, size);
    if (!why.empty()) {
      rejected_.push_back(path + ": " + why);
      continue;
    }
    const auto id = static_cast<std::uint32_t>(packs_.size());
    packs_.push_back(path);
    for (std::size_t i = 0; i < table.size(); i += kTableWords)
      index_.emplace(table[i], Where{id, table[i + 1], table[i + 2]});
  }
}

std::vector<std::uint64_t> ResultStore::list() const {
  read_tables();
  std::vector<std::uint64_t> out;
  out.reserve(index_.size());
  for (const auto& [key, where] : index_) out.push_back(key);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

const std::vector<std::string>& ResultStore::rejected_packs() const {
  read_tables();
  return rejected_;
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
  // One entry per distinct key: a file given twice within a batch is stored once.
  std::vector<std::uint64_t> keys, lengths, blocks;
  std::unordered_set<std::uint64_t> seen;
  for (std::uint64_t i = 0; i < batch.n_blocks; ++i) {
    if (!seen.insert(batch.keys[i]).second) continue;
    const std::uint64_t b = batch.first_block + i;
    keys.push_back(batch.keys[i]);
    blocks.push_back(b);
    const std::uint64_t n = plan_.end_wafer(b) - plan_.first_wafer(b);
    lengths.push_back((kHeaderWords + payload_doubles(layout_, n)) * sizeof(double));
  }
  // Each entry is written from where the batch holds it (no copy), behind its header.
  std::uint64_t header[kHeaderWords];
  const auto entry = [&](std::size_t e, std::vector<iovec>& pieces) {
    const std::uint64_t b = blocks[e];
    const std::uint64_t w0 = plan_.first_wafer(b), n = plan_.end_wafer(b) - w0;
    const std::uint64_t at = w0 - batch.block.first_wafer;  // first row within the batch
    const auto piece = [&pieces](const double* p, std::size_t doubles) {
      if (doubles > 0) pieces.push_back({const_cast<double*>(p), doubles * sizeof(double)});
    };
    pieces.push_back({header, sizeof header});
    piece(batch.block.values.data() + at * sf, n * sf);
    piece(batch.block.by_step.data() + at * k * sf, n * k * sf);
    piece(reinterpret_cast<const double*>(batch.block.moments.data() + at * layout_.n_sensors),
          n * layout_.n_sensors * kMomentDoubles);
    piece(batch.latency_s.data() + at, n);
    const std::uint64_t payload = lengths[e] / sizeof(double) - kHeaderWords;
    Hash64 sum(6);  // = checksum() of the payload as one range
    sum.add(payload * sizeof(double));
    for (std::size_t i = 1; i < pieces.size(); ++i)
      sum.add_piece(pieces[i].iov_base, pieces[i].iov_len);
    const std::uint64_t words[kHeaderWords] = {kMagic,
                                               keys[e],
                                               b,
                                               w0,
                                               n,
                                               layout_.n_sensors,
                                               layout_.features.size(),
                                               layout_.n_steps,
                                               payload,
                                               sum.finish(),
                                               0};
    std::memcpy(header, words, sizeof header);
  };
  // The temporary is named by the batch's first block index, unique within the run (one run at
  // a time per store: it is locked), so two batches of the same content (a file given twice),
  // computed by ranks on different hosts, never share a temporary.
  const std::string path =
      write_pack(dir_, keys, lengths, kTempMarker + std::to_string(batch.first_block), entry);
  if (!indexed_) return;  // read from the directory, with this pack, when first needed
  if (std::find(packs_.begin(), packs_.end(), path) != packs_.end()) return;  // same keys again
  const auto id = static_cast<std::uint32_t>(packs_.size());
  packs_.push_back(path);
  std::uint64_t at = (kPackWords + keys.size() * kTableWords) * sizeof(std::uint64_t);
  for (std::size_t e = 0; e < keys.size(); ++e) {
    index_.emplace(keys[e], Where{id, at, lengths[e]});
    at += lengths[e];
  }
}

bool ResultStore::load_from(const Where& w, std::uint64_t key, std::uint64_t b, BatchResult& out,
                            std::string& why) const {
  const std::string& path = packs_[w.pack];
  const std::string name = path + " entry " + hex_key(key);
  if (open_fd_ < 0 || open_pack_ != w.pack) {
    if (open_fd_ >= 0) ::close(open_fd_);
    open_fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    open_pack_ = w.pack;
    if (open_fd_ < 0) {
      why = path + ": " + std::strerror(errno);
      return false;
    }
  }
  const std::uint64_t w0 = plan_.first_wafer(b), n = plan_.end_wafer(b) - w0;
  const std::uint64_t expect = payload_doubles(layout_, n);
  std::uint64_t h[kHeaderWords];
  if (!pread_all(open_fd_, h, sizeof h, w.offset)) {
    why = name + ": truncated (the pack ends before the entry's header)";
    return false;
  }
  // Sizes are checked against this run's shape before anything is allocated from them.
  if (h[kWordMagic] != kMagic || h[kWordKey] != key || h[kWordWafers] != n ||
      h[kWordSensors] != layout_.n_sensors || h[kWordFeatures] != layout_.features.size() ||
      h[kWordSteps] != layout_.n_steps || h[kWordPayload] != expect) {
    why = name + ": header does not match block " + std::to_string(b) + " of this run";
    return false;
  }
  if (w.length != sizeof h + expect * sizeof(double)) {
    why = name + ": wrong size";
    return false;
  }
  std::vector<double> payload(expect);
  if (!pread_all(open_fd_, payload.data(), expect * sizeof(double), w.offset + sizeof h)) {
    why = name + ": truncated (the pack ends within the entry's payload)";
    return false;
  }
  if (checksum(payload.data(), payload.size()) != h[kWordChecksum]) {
    why = name + ": checksum mismatch";
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

bool ResultStore::load(std::uint64_t key, std::uint64_t b, BatchResult& out,
                       std::string& why) const {
  read_tables();
  const auto [first, last] = index_.equal_range(key);
  if (first == last) {
    why = dir_ + ": no entry " + hex_key(key);
    return false;
  }
  std::string first_why;
  for (auto it = first; it != last; ++it) {
    if (load_from(it->second, key, b, out, why)) return true;
    if (first_why.empty()) first_why = why;
  }
  why = first_why;
  return false;
}

bool ResultStore::has(std::uint64_t key) const {
  read_tables();
  return index_.count(key) > 0;
}

std::size_t ResultStore::prune(std::vector<std::uint64_t> keep) const {
  std::sort(keep.begin(), keep.end());
  keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
  std::vector<bool> claimed(keep.size(), false);
  std::vector<std::string> old;
  std::vector<std::string> packs = scan(dir_, &old);
  // Newest first: a key held by several packs (a block recomputed after its entry in an older
  // pack failed to load) counts as live in the newest copy.
  {
    std::vector<std::pair<std::int64_t, std::string>> by_age;
    for (auto& p : packs) {
      struct stat st {};
      const std::int64_t t =
          ::stat(p.c_str(), &st) == 0 ? st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec : 0;
      by_age.emplace_back(-t, std::move(p));
    }
    std::sort(by_age.begin(), by_age.end());
    packs.clear();
    for (auto& [t, p] : by_age) packs.push_back(std::move(p));
  }
  std::size_t removed = 0;
  std::error_code ec;
  for (const auto& p : old) removed += fs::remove(p, ec) ? 1 : 0;
  std::vector<std::uint64_t> table;
  std::vector<std::string> written;  // packs this prune wrote, which may sort later
  for (const std::string& path : packs) {
    if (std::find(written.begin(), written.end(), path) != written.end()) continue;
    Fd f;
    f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (f.fd < 0) continue;
    std::uint64_t size = 0;
    if (!read_table(f.fd, table, size).empty()) {  // a damaged pack: nothing in it can be read
      ::unlink(path.c_str());
      continue;
    }
    const std::size_t n = table.size() / kTableWords;
    // Entries whose key is kept and not claimed by a newer pack, and that the file holds whole
    // (a pack cut short by a crash lists entries it no longer has).
    std::vector<std::size_t> live;
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint64_t offset = table[i * kTableWords + 1], length = table[i * kTableWords + 2];
      if (offset > size || length > size - offset) continue;
      const auto it = std::lower_bound(keep.begin(), keep.end(), table[i * kTableWords]);
      if (it == keep.end() || *it != table[i * kTableWords]) continue;
      const auto at = static_cast<std::size_t>(it - keep.begin());
      if (claimed[at]) continue;
      claimed[at] = true;
      live.push_back(i);
    }
    if (2 * live.size() >= n && !live.empty()) continue;  // at least half live: kept whole
    if (!live.empty()) {
      // Fewer than half live: those entries are copied, each checked, into a pack of their own.
      std::vector<std::uint64_t> keys, lengths, offsets;
      std::vector<double> buffer;
      for (const std::size_t i : live) {
        const std::uint64_t length = table[i * kTableWords + 2];
        if (length < kHeaderWords * sizeof(double) || length % sizeof(double) != 0) continue;
        buffer.resize(length / sizeof(double));
        if (!pread_all(f.fd, buffer.data(), length, table[i * kTableWords + 1])) continue;
        std::uint64_t h[kHeaderWords];
        std::memcpy(h, buffer.data(), sizeof h);
        if (h[kWordMagic] != kMagic || h[kWordKey] != table[i * kTableWords] ||
            h[kWordPayload] != buffer.size() - kHeaderWords ||
            h[kWordChecksum] != checksum(buffer.data() + kHeaderWords, h[kWordPayload]))
          continue;  // a damaged entry is dropped: its block is recomputed
        keys.push_back(table[i * kTableWords]);
        offsets.push_back(table[i * kTableWords + 1]);
        lengths.push_back(length);
      }
      if (!keys.empty()) {
        try {
          const std::string fresh =
              write_pack(dir_, keys, lengths, kTempMarker + std::to_string(::getpid()),
                         [&](std::size_t e, std::vector<iovec>& pieces) {
                           buffer.resize(lengths[e] / sizeof(double));
                           if (!pread_all(f.fd, buffer.data(), lengths[e], offsets[e]))
                             throw std::runtime_error("result store: cannot read " + path);
                           pieces.push_back({buffer.data(), lengths[e]});
                         });
          written.push_back(fresh);
        } catch (const std::exception&) {
          continue;  // a full disk: the old pack stays, whole
        }
      }
      removed += n - keys.size();
    } else {
      removed += n;
    }
    ::unlink(path.c_str());
  }
  // This object's index no longer matches the directory: read again when needed.
  indexed_ = false;
  packs_.clear();
  index_.clear();
  rejected_.clear();
  if (open_fd_ >= 0) ::close(open_fd_);
  open_fd_ = -1;
  return removed;
}

}  // namespace wafermill::job
