// Finished blocks of the picture pass on disk, in the run's result-store directory, so that
// `--resume` after a kill or a stop does not compute them again (docs/RELIABILITY.md "Maps and
// images"). Private to job/.
//
// One file per block and kind, `<kind>-<block>-<key>.wmp`: a header (magic, key, block, row
// count, row width, checksum) and the block's result rows as doubles. Kinds: "maps" (per
// wafer: index, the 12 features, the pattern code) and "scores" (per image: index, beyond,
// blobs, largest blob, flag). Keys cover the content the block read and every setting its
// result depends on (picture_pipeline.cpp). Entries are written under a temporary name and
// renamed; an entry torn by a crash fails its checksum and is recomputed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace wafermill::job {

class PictureStore {
 public:
  /// A store in `dir`; "" disables it (every load misses, put does nothing).
  explicit PictureStore(std::string dir) : dir_(std::move(dir)) {}
  bool enabled() const { return !dir_.empty(); }

  /// Writes block `block`'s `rows` (width values each). A failure to write (a store directory
  /// this rank cannot reach, a full disk) disables the store for this rank with one warning:
  /// the run goes on, only resumability is lost.
  void put(const char* kind, std::uint64_t block, std::uint64_t key, std::size_t width,
           const std::vector<double>& rows);
  /// Reads block `block`'s entry with `key` into `rows`. False, with the reason in `why`, when
  /// it is missing, of another shape or fails its checksum: the block is then recomputed.
  bool load(const char* kind, std::uint64_t block, std::uint64_t key, std::size_t width,
            std::size_t n_rows, std::vector<double>& rows, std::string& why) const;
  /// Removes every `<kind>-*` entry whose (block, key) is not in `keys` (keys[block]) and
  /// temporaries left by killed writers: after a complete pass the store holds that pass only.
  void prune(const char* kind, const std::vector<std::uint64_t>& keys) const;

 private:
  std::string path(const char* kind, std::uint64_t block, std::uint64_t key) const;
  std::string dir_;
  bool dir_ready_ = false;  // the directory and its marker exist (made by the first put)
};

}  // namespace wafermill::job
