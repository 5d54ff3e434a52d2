#include "store/picture_store.hpp"

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "store/content_hash.hpp"
#include "store/store_directory.hpp"

namespace wafermill::job {
namespace {

namespace fs = std::filesystem;

constexpr std::uint64_t kMagic = 0x3150524F54534D57ULL;  // "WMSTORP1", little-endian
enum Word : std::size_t { kWordMagic, kWordKey, kWordBlock, kWordRows, kWordWidth, kWordChecksum, kHeaderWords };

std::uint64_t checksum(const std::vector<double>& rows) {
  Hash64 h(7);
  h.add_bytes(rows.data(), rows.size() * sizeof(double));
  return h.finish();
}

}  // namespace

std::string PictureStore::path(const char* kind, std::uint64_t block, std::uint64_t key) const {
  char name[96];
  std::snprintf(name, sizeof name, "%s-%020" PRIu64 "-%016" PRIx64 ".wmp", kind, block, key);
  return dir_ + "/" + name;
}

void PictureStore::put(const char* kind, std::uint64_t block, std::uint64_t key, std::size_t width,
                       const std::vector<double>& rows) {
  if (!enabled()) return;
  const std::string final_path = path(kind, block, key);
  const std::string temp = final_path + ".tmp." + std::to_string(::getpid());
  try {
    if (!dir_ready_) {
      ensure_store_directory(dir_);  // once, as ResultStore does: not two syscalls per block
      dir_ready_ = true;
    }
    const std::uint64_t header[kHeaderWords] = {kMagic, key, block, rows.size() / width, width, checksum(rows)};
    {
      std::ofstream out(temp, std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(header), sizeof header);
      out.write(reinterpret_cast<const char*>(rows.data()), static_cast<std::streamsize>(rows.size() * sizeof(double)));
      out.close();  // a full disk may show only when the buffer is written
      if (!out) throw std::runtime_error("cannot write " + temp + ": " + std::strerror(errno));
    }
    fs::rename(temp, final_path);
  } catch (const std::exception& e) {
    std::error_code ignored;
    fs::remove(temp, ignored);
    store_unwritable(dir_, e.what());
    dir_.clear();
  }
}

bool PictureStore::load(const char* kind, std::uint64_t block, std::uint64_t key, std::size_t width,
                        std::size_t n_rows, std::vector<double>& rows, std::string& why) const {
  if (!enabled()) {
    why = "no store";
    return false;
  }
  const std::string p = path(kind, block, key);
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    why = p + ": " + std::strerror(errno);
    return false;
  }
  std::uint64_t h[kHeaderWords] = {};
  in.read(reinterpret_cast<char*>(h), sizeof h);
  // The shape is checked against this run's block before anything is allocated from it.
  if (!in || h[kWordMagic] != kMagic || h[kWordKey] != key || h[kWordBlock] != block ||
      h[kWordRows] != n_rows || h[kWordWidth] != width) {
    why = p + ": header does not match this run's block";
    return false;
  }
  rows.resize(n_rows * width);
  in.read(reinterpret_cast<char*>(rows.data()), static_cast<std::streamsize>(rows.size() * sizeof(double)));
  if (!in || in.peek() != std::char_traits<char>::eof()) {
    why = p + ": wrong size";
    return false;
  }
  if (checksum(rows) != h[kWordChecksum]) {
    why = p + ": checksum mismatch";
    return false;
  }
  return true;
}

void PictureStore::prune(const char* kind, const std::vector<std::uint64_t>& keys) const {
  if (!enabled()) return;
  std::error_code ec;
  const std::string prefix = std::string(kind) + "-";
  std::vector<fs::path> drop;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    // Only the store's own names: the directory may hold files of others (store_directory.hpp).
    if (name.rfind(prefix, 0) != 0 || !is_store_file_name(name)) continue;
    unsigned long long block = 0, key = 0;
    int used = 0;
    const bool parsed = std::sscanf(name.c_str() + prefix.size(), "%20llu-%16llx.wmp%n", &block, &key, &used) == 2 &&
                        name.size() == prefix.size() + static_cast<std::size_t>(used);
    if (!parsed || block >= keys.size() || keys[block] != key) drop.push_back(it->path());
  }
  for (const auto& p : drop) fs::remove(p, ec);
}

}  // namespace wafermill::job
