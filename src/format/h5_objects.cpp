/// @file h5_objects.cpp
/// @brief Datasets, groups and files of the HDF5 layer (include/wafermill/format/h5.hpp).
#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <utility>

#include "h5_detail.hpp"
#include "wafermill/error.hpp"
#include "wafermill/format/h5.hpp"

namespace wafermill::format::h5 {

using namespace detail;

namespace {

/// Selects the hyperslab [offset, offset + count) of `dset`'s file space, after checking it
/// lies inside the extent (HDF5's own message for this is obscure).
Handle select_hyperslab(hid_t dset, const std::vector<std::uint64_t>& offset,
                        const std::vector<std::uint64_t>& count, const std::string& file,
                        const std::string& object) {
  Handle space(check_id(H5Dget_space(dset), file, object, "H5Dget_space"), HandleKind::dataspace);
  const int rank = H5Sget_simple_extent_ndims(space.id());
  if (rank < 0) fail(file, object, "H5Sget_simple_extent_ndims");
  if (offset.size() != static_cast<std::size_t>(rank) ||
      count.size() != static_cast<std::size_t>(rank)) {
    reject(file, object,
           "selection of rank " + std::to_string(offset.size()) + " on a dataset of rank " +
               std::to_string(rank));
  }
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  check(H5Sget_simple_extent_dims(space.id(), dims.data(), nullptr), file, object,
        "H5Sget_simple_extent_dims");
  bool empty = false;
  for (int i = 0; i < rank; ++i) {
    std::uint64_t end = 0;
    if (__builtin_add_overflow(offset[i], count[i], &end) || end > dims[i]) {
      reject(file, object,
             "selection [" + std::to_string(offset[i]) + ", +" + std::to_string(count[i]) +
                 ") outside dimension " + std::to_string(i) + " of extent " +
                 std::to_string(dims[i]));
    }
    empty = empty || count[i] == 0;
  }
  if (empty) {
    check(H5Sselect_none(space.id()), file, object, "H5Sselect_none");
  } else if (rank > 0) {
    std::vector<hsize_t> off(offset.begin(), offset.end());
    std::vector<hsize_t> cnt(count.begin(), count.end());
    check(H5Sselect_hyperslab(space.id(), H5S_SELECT_SET, off.data(), nullptr, cnt.data(), nullptr),
          file, object, "H5Sselect_hyperslab");
  }
  return space;
}

/// A memory space shaped like the selection `count` (every element selected; none when a count
/// is 0). Same rank and shape as the file selection lets HDF5 take its "shape same" fast path;
/// a 1-D memory space against an N-D selection made it map chunks element by element
/// (H5S_select_iterate was 21 % of a run's time).
Handle memory_space(const std::vector<std::uint64_t>& count, const std::string& file,
                    const std::string& object) {
  bool empty = count.empty();
  std::vector<hsize_t> dims(count.size());
  for (std::size_t i = 0; i < count.size(); ++i) {
    empty = empty || count[i] == 0;
    dims[i] = std::max<hsize_t>(count[i], 1);
  }
  if (dims.empty()) dims.push_back(1);
  Handle space(check_id(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), file,
                        object, "H5Screate_simple"),
               HandleKind::dataspace);
  if (empty) check(H5Sselect_none(space.id()), file, object, "H5Sselect_none");
  return space;
}

void check_buffer(std::size_t have, const std::vector<std::uint64_t>& count,
                  const std::string& file, const std::string& object) {
  const std::uint64_t need = product(count);
  if (need != have) {
    reject(file, object,
           "buffer of " + std::to_string(have) + " elements for a selection of " +
               std::to_string(need));
  }
}

Handle creation_plist(const std::vector<std::uint64_t>& dims, const DatasetOptions& options,
                      const std::string& file, const std::string& object) {
  Handle dcpl(check_id(H5Pcreate(H5P_DATASET_CREATE), file, object, "H5Pcreate"),
              HandleKind::plist);
  if (options.no_fill) {
    check(H5Pset_fill_time(dcpl.id(), H5D_FILL_TIME_NEVER), file, object, "H5Pset_fill_time");
    // Allocated now, as MPI-IO always does: the file offset is known from the start.
    check(H5Pset_alloc_time(dcpl.id(), H5D_ALLOC_TIME_EARLY), file, object, "H5Pset_alloc_time");
  }
  // A dataset without elements cannot be chunked with fixed max dims; it stays contiguous.
  if (options.chunk.empty() || product(dims) == 0) return dcpl;
  if (options.chunk.size() != dims.size()) reject(file, object, "chunk rank differs from rank");
  std::vector<hsize_t> chunk(dims.size());
  for (std::size_t i = 0; i < dims.size(); ++i) {
    chunk[i] = std::clamp<std::uint64_t>(options.chunk[i], 1, dims[i]);
  }
  check(H5Pset_chunk(dcpl.id(), static_cast<int>(chunk.size()), chunk.data()), file, object,
        "H5Pset_chunk");
  if (options.fletcher32) check(H5Pset_fletcher32(dcpl.id()), file, object, "H5Pset_fletcher32");
  if (options.deflate_level > 0) {
    check(H5Pset_shuffle(dcpl.id()), file, object, "H5Pset_shuffle");
    check(H5Pset_deflate(dcpl.id(), static_cast<unsigned>(std::min(options.deflate_level, 9))),
          file, object, "H5Pset_deflate");
  }
  return dcpl;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Dataset

std::vector<std::uint64_t> Dataset::dims() const {
  Handle space(check_id(H5Dget_space(id()), file_, path_, "H5Dget_space"), HandleKind::dataspace);
  const int rank = H5Sget_simple_extent_ndims(space.id());
  if (rank < 0) fail(file_, path_, "H5Sget_simple_extent_ndims");
  std::vector<hsize_t> d(static_cast<std::size_t>(rank));
  check(H5Sget_simple_extent_dims(space.id(), d.data(), nullptr), file_, path_,
        "H5Sget_simple_extent_dims");
  return {d.begin(), d.end()};
}

std::vector<std::uint64_t> Dataset::max_dims() const {
  Handle space(check_id(H5Dget_space(id()), file_, path_, "H5Dget_space"), HandleKind::dataspace);
  const int rank = H5Sget_simple_extent_ndims(space.id());
  if (rank < 0) fail(file_, path_, "H5Sget_simple_extent_ndims");
  std::vector<hsize_t> d(static_cast<std::size_t>(rank));
  check(H5Sget_simple_extent_dims(space.id(), nullptr, d.data()), file_, path_,
        "H5Sget_simple_extent_dims");
  std::vector<std::uint64_t> out;
  for (hsize_t x : d) out.push_back(x == H5S_UNLIMITED ? UINT64_MAX : x);
  return out;
}

TypeInfo Dataset::type() const {
  Handle t(check_id(H5Dget_type(id()), file_, path_, "H5Dget_type"), HandleKind::datatype);
  return describe_type(t.id(), file_, path_);
}

Handle Dataset::memory_type() const {
  Handle t(check_id(H5Dget_type(id()), file_, path_, "H5Dget_type"), HandleKind::datatype);
  return Handle(
      check_id(H5Tget_native_type(t.id(), H5T_DIR_ASCEND), file_, path_, "H5Tget_native_type"),
      HandleKind::datatype);
}

StorageInfo Dataset::storage() const {
  StorageInfo info;
  Handle dcpl(check_id(H5Dget_create_plist(id()), file_, path_, "H5Dget_create_plist"),
              HandleKind::plist);
  switch (H5Pget_layout(dcpl.id())) {
    case H5D_COMPACT:
      info.layout = Layout::compact;
      break;
    case H5D_CONTIGUOUS:
      info.layout = Layout::contiguous;
      break;
    case H5D_CHUNKED:
      info.layout = Layout::chunked;
      break;
    case H5D_VIRTUAL:
      info.layout = Layout::virtual_;
      break;
    case H5D_LAYOUT_ERROR:
      fail(file_, path_, "H5Pget_layout");
    default:
      info.layout = Layout::other;
  }
  if (info.layout == Layout::chunked) {
    std::vector<hsize_t> chunk(H5S_MAX_RANK);
    const int rank = H5Pget_chunk(dcpl.id(), H5S_MAX_RANK, chunk.data());
    if (rank < 0) fail(file_, path_, "H5Pget_chunk");
    info.chunk.assign(chunk.begin(), chunk.begin() + rank);
  }
  const int nfilters = H5Pget_nfilters(dcpl.id());
  if (nfilters < 0) fail(file_, path_, "H5Pget_nfilters");
  for (int i = 0; i < nfilters; ++i) {
    unsigned flags = 0;
    std::size_t n_values = 0;
    unsigned config = 0;
    const H5Z_filter_t f = H5Pget_filter2(dcpl.id(), static_cast<unsigned>(i), &flags, &n_values,
                                          nullptr, 0, nullptr, &config);
    if (f < 0) fail(file_, path_, "H5Pget_filter2");
    info.filters.push_back(static_cast<int>(f));
  }
  info.external_files = H5Pget_external_count(dcpl.id());
  if (info.external_files < 0) fail(file_, path_, "H5Pget_external_count");
  info.storage_bytes = H5Dget_storage_size(id());
  if (info.layout == Layout::contiguous) {
    const haddr_t addr = H5Dget_offset(id());
    if (addr != HADDR_UNDEF) info.file_offset = addr;
  }
  H5Eclear2(H5E_DEFAULT);  // H5Dget_offset leaves a record when the data is unallocated
  return info;
}

void Dataset::read_hyperslab(hid_t mem_type, void* out, const std::vector<std::uint64_t>& offset,
                             const std::vector<std::uint64_t>& count) const {
  Handle fspace = select_hyperslab(id(), offset, count, file_, path_);
  Handle mspace = memory_space(count, file_, path_);
  check(H5Dread(id(), mem_type, mspace.id(), fspace.id(), H5P_DEFAULT, out), file_, path_,
        "H5Dread");
}

void Dataset::write_hyperslab(hid_t mem_type, const void* data,
                              const std::vector<std::uint64_t>& offset,
                              const std::vector<std::uint64_t>& count) {
  Handle fspace = select_hyperslab(id(), offset, count, file_, path_);
  Handle mspace = memory_space(count, file_, path_);
  check(H5Dwrite(id(), mem_type, mspace.id(), fspace.id(), H5P_DEFAULT, data), file_, path_,
        "H5Dwrite");
}

void Dataset::write_raw(Elem e, const void* data, std::size_t n,
                        const std::vector<std::uint64_t>& offset,
                        const std::vector<std::uint64_t>& count) {
  check_buffer(n, count, file_, path_);
  write_hyperslab(native_type(e), data, offset, count);
}

void Dataset::read_raw(Elem e, void* out, std::size_t n, const std::vector<std::uint64_t>& offset,
                       const std::vector<std::uint64_t>& count) const {
  check_buffer(n, count, file_, path_);
  read_hyperslab(native_type(e), out, offset, count);
}

std::vector<std::string> Dataset::read_strings(std::uint64_t first, std::uint64_t n) const {
  Handle t(check_id(H5Dget_type(id()), file_, path_, "H5Dget_type"), HandleKind::datatype);
  Handle fspace = select_hyperslab(id(), {first}, {n}, file_, path_);
  Handle mspace = memory_space({n}, file_, path_);
  const hid_t did = id();
  const hid_t ms = mspace.id();
  const hid_t fs = fspace.id();
  return read_string_elements(
      t.id(), n,
      [did, ms, fs](hid_t mem, void* buf) { return H5Dread(did, mem, ms, fs, H5P_DEFAULT, buf); },
      file_, path_);
}

void Dataset::write_strings(std::uint64_t first, const std::vector<std::string>& values) {
  Handle type = vlen_string_type(file_, path_);
  std::vector<const char*> ptrs;
  ptrs.reserve(values.size());
  for (const auto& v : values) ptrs.push_back(v.c_str());
  write_hyperslab(type.id(), ptrs.data(), {first}, {values.size()});
}

// ---------------------------------------------------------------------------------------------
// Group

LinkKind Group::link_kind(const std::string& name) const {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
    reject(file_, child_path(name), "is not a single link name");
  }
  if (!check_tri(H5Lexists(id(), name.c_str(), H5P_DEFAULT), file_, child_path(name),
                 "H5Lexists")) {
    return LinkKind::none;
  }
  H5L_info_t info{};
  check(H5Lget_info(id(), name.c_str(), &info, H5P_DEFAULT), file_, child_path(name),
        "H5Lget_info");
  switch (info.type) {
    case H5L_TYPE_HARD:
      return LinkKind::hard;
    case H5L_TYPE_SOFT:
      return LinkKind::soft;
    case H5L_TYPE_EXTERNAL:
      return LinkKind::external;
    default:
      return LinkKind::other;
  }
}

ObjectKind Group::object_kind(const std::string& name) const {
  H5O_info_t info{};
  check(H5Oget_info_by_name2(id(), name.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT), file_,
        child_path(name), "H5Oget_info_by_name");
  switch (info.type) {
    case H5O_TYPE_GROUP:
      return ObjectKind::group;
    case H5O_TYPE_DATASET:
      return ObjectKind::dataset;
    case H5O_TYPE_NAMED_DATATYPE:
      return ObjectKind::datatype;
    default:
      return ObjectKind::other;
  }
}

bool Group::has_dataset(const std::string& name) const {
  return link_kind(name) == LinkKind::hard && object_kind(name) == ObjectKind::dataset;
}

bool Group::has_group(const std::string& name) const {
  return link_kind(name) == LinkKind::hard && object_kind(name) == ObjectKind::group;
}

std::vector<std::string> Group::link_names() const {
  H5G_info_t info{};
  check(H5Gget_info(id(), &info), file_, path_, "H5Gget_info");
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t len =
        H5Lget_name_by_idx(id(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (len < 0) fail(file_, path_, "H5Lget_name_by_idx");
    std::string name(static_cast<std::size_t>(len) + 1, '\0');
    if (H5Lget_name_by_idx(id(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(),
                           H5P_DEFAULT) < 0) {
      fail(file_, path_, "H5Lget_name_by_idx");
    }
    name.resize(static_cast<std::size_t>(len));
    names.push_back(std::move(name));
  }
  return names;
}

Group Group::open_group(const std::string& name) const {
  const std::string p = child_path(name);
  return Group(Handle(check_id(H5Gopen2(id(), name.c_str(), H5P_DEFAULT), file_, p, "H5Gopen2"),
                      HandleKind::group),
               file_, p);
}

Group Group::create_group(const std::string& name) {
  const std::string p = child_path(name);
  return Group(
      Handle(check_id(H5Gcreate2(id(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), file_,
                      p, "H5Gcreate2"),
             HandleKind::group),
      file_, p);
}

Dataset Group::open_dataset(const std::string& name, std::optional<ChunkCache> cache) const {
  const std::string p = child_path(name);
  Handle dapl(check_id(H5Pcreate(H5P_DATASET_ACCESS), file_, p, "H5Pcreate"), HandleKind::plist);
  if (cache) {
    // w0 = 1: a chunk read completely is evicted first, since rows are read in order.
    check(H5Pset_chunk_cache(dapl.id(), cache->slots, cache->bytes, 1.0), file_, p,
          "H5Pset_chunk_cache");
  }
  return Dataset(Handle(check_id(H5Dopen2(id(), name.c_str(), dapl.id()), file_, p, "H5Dopen2"),
                        HandleKind::dataset),
                 file_, p);
}

namespace {
Handle create_dataset_of_type(hid_t loc, const std::string& name, hid_t type,
                              const std::vector<std::uint64_t>& dims, const DatasetOptions& options,
                              const std::string& file, const std::string& p) {
  Handle space = simple_space(dims, file, p);
  Handle dcpl = creation_plist(dims, options, file, p);
  return Handle(
      check_id(H5Dcreate2(loc, name.c_str(), type, space.id(), H5P_DEFAULT, dcpl.id(), H5P_DEFAULT),
               file, p, "H5Dcreate2"),
      HandleKind::dataset);
}

/// The little-endian file type of an element type (portable files, whatever the host).
hid_t file_type(Elem e) {
  switch (e) {
    case Elem::f32:
      return H5T_IEEE_F32LE;
    case Elem::f64:
      return H5T_IEEE_F64LE;
    case Elem::i32:
      return H5T_STD_I32LE;
    case Elem::i64:
      return H5T_STD_I64LE;
    case Elem::u8:
      return H5T_STD_U8LE;
    case Elem::u16:
      return H5T_STD_U16LE;
    case Elem::u64:
      return H5T_STD_U64LE;
  }
  return -1;
}
}  // namespace

Dataset Group::create_dataset(const std::string& name, Elem type,
                              const std::vector<std::uint64_t>& dims,
                              const DatasetOptions& options) {
  const std::string p = child_path(name);
  return Dataset(create_dataset_of_type(id(), name, file_type(type), dims, options, file_, p),
                 file_, p);
}

Dataset Group::create_dataset_like(const std::string& name, const Dataset& like,
                                   const std::vector<std::uint64_t>& dims,
                                   const DatasetOptions& options) {
  const std::string p = child_path(name);
  Handle t(check_id(H5Dget_type(like.id()), like.file(), like.path(), "H5Dget_type"),
           HandleKind::datatype);
  return Dataset(create_dataset_of_type(id(), name, t.id(), dims, options, file_, p), file_, p);
}

Dataset Group::create_string_dataset(const std::string& name, std::uint64_t n,
                                     const DatasetOptions& options) {
  const std::string p = child_path(name);
  Handle type = vlen_string_type(file_, p);
  return Dataset(create_dataset_of_type(id(), name, type.id(), {n}, options, file_, p), file_, p);
}

Dataset Group::write_string_dataset(const std::string& name,
                                    const std::vector<std::string>& values) {
  Dataset d = create_string_dataset(name, values.size());
  d.write_strings(0, values);
  return d;
}

// ---------------------------------------------------------------------------------------------
// File

namespace {
const char kLockingHint[] =
    " (if the file system does not support file locking, HDF5_USE_FILE_LOCKING=FALSE is the "
    "known switch)";

/// True when HDF5's stack reports a failed file lock (sec2: "unable to lock file"; not the
/// "sblock" of superblock messages).
bool lock_failed(const std::string& stack) {
  return stack.find("lock file") != std::string::npos ||
         stack.find("lock the file") != std::string::npos ||
         stack.find("file locking") != std::string::npos;
}

/// The status flags byte of the superblock of `path` (format spec: versions 2 and 3 keep it at
/// byte 11; bit 0 "open for write", bit 2 "open for SWMR write"), or -1 where there is none:
/// older superblocks (versions 0 and 1, which HDF5 1.10 does not mark) or no signature found.
/// The superblock sits at byte 0 or after a user block of 512, 1024, 2048... bytes.
int superblock_status_flags(const std::string& path) {
  static constexpr std::array<unsigned char, 8> kSignature = {0x89, 'H', 'D', 'F', '\r', '\n',
                                                              0x1a, '\n'};
  std::ifstream in(path, std::ios::binary);
  for (std::uint64_t at = 0; in && at < (1ULL << 40); at = at == 0 ? 512 : 2 * at) {
    std::array<unsigned char, 12> head{};
    in.seekg(static_cast<std::streamoff>(at));
    if (!in.read(reinterpret_cast<char*>(head.data()), head.size())) return -1;
    if (!std::equal(kSignature.begin(), kSignature.end(), head.begin())) continue;
    return head[8] >= 2 ? head[11] : -1;
  }
  return -1;
}

/// "0x05: write, SWMR write" for the status flags of superblock_status_flags.
std::string describe_status_flags(int flags) {
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02x", flags & 0xff);
  std::string out = hex;
  std::string sep = ": ";
  if (flags & 0x01) out += std::exchange(sep, ", ") + "open for write";
  if (flags & 0x04) out += std::exchange(sep, ", ") + "open for SWMR write";
  return out;
}

/// Throws FileInUseError when H5Fopen failed because a writer holds the file or left it marked
/// open; returns otherwise. HDF5 1.10 refuses a file whose superblock status flags are set
/// ("file is already open for write (may use <h5clear file> ...)"): a writer sets them while it
/// has a 1.10-format file open (in SWMR mode it also drops its file lock, so the flags are all a
/// reader sees) and a writer that crashed leaves them set. A writer of an older-format file
/// holds an exclusive lock instead, which our shared lock meets as EAGAIN (errno 11).
void throw_if_in_use(const std::string& path, const std::string& stack) {
  // The flags alone count only when they are the two a writer sets and the superblock passed
  // its checksum: a damaged byte 11 is damage, not a writer.
  const int flags = superblock_status_flags(path);
  const bool writer_flags = flags > 0 && (flags & ~0x05) == 0 &&
                            stack.find("checksum") == std::string::npos;
  if (stack.find("already open for write") != std::string::npos || writer_flags) {
    const std::string marked = flags > 0 ? " (superblock status flags " +
                                               describe_status_flags(flags) + ")"
                                         : "";
    throw FileInUseError(
        path, "",
        path + ": the file is marked open for writing" + marked +
            ": another process is writing it (an HDF5 writer, e.g. in SWMR mode), or a writer "
            "crashed and left the mark; it is not damaged. Wait until the writer has closed the "
            "file, then run again. Only if no writer is running any more: `h5clear -s "
            "--increment " + path + "` clears the mark and keeps the data (plain `h5clear -s` "
            "can destroy it, docs/RELIABILITY.md); to leave the file untouched, copy it first "
            "(`cp " + path + " COPY.h5 && h5clear -s --increment COPY.h5`, then `h5repack` the "
            "copy if you want a clean file) and read the copy; h5repack itself refuses a marked "
            "file.");
  }
  if (lock_failed(stack) && (stack.find("errno = 11") != std::string::npos ||
                             stack.find("Resource temporarily unavailable") != std::string::npos)) {
    throw FileInUseError(path, "",
                         path + ": the file is open for writing by another process (it holds "
                                "the file's lock; HDF5 could not take a shared lock: errno 11). "
                                "Wait until the writer has closed the file, then run again.");
  }
}

/// Opens `path` with `fapl`: a file held by a writer is FileInUseError; otherwise the locking
/// hint is added when HDF5 reports a lock failure.
hid_t open_with(const std::string& path, unsigned flags, hid_t fapl) {
  const hid_t id = H5Fopen(path.c_str(), flags, fapl);
  if (id < 0) {
    const std::string stack = error_stack();
    throw_if_in_use(path, stack);
    std::string what = "cannot open: H5Fopen failed";
    if (lock_failed(stack)) what += kLockingHint;
    throw HdfError(path, "", path + ": " + what + "; HDF5 error stack:" + stack);
  }
  return id;
}
}  // namespace

namespace {
// Objects of 64 KiB or more start on a 4 KiB page in every file wafermill writes: a contiguous
// dataset or a run of chunks is then aligned for any element type and can be read in place
// (trace_reader.cpp), and large writes start on page boundaries. At most 4 KiB of padding per
// large object. A file access property: set again whenever a file is opened for writing.
void align_large_objects(hid_t fapl, const std::string& path) {
  check(H5Pset_alignment(fapl, 64 * 1024, 4096), path, "", "H5Pset_alignment");
}
}  // namespace

File File::create(const std::string& path, CreateMode mode) {
  initialize();
  Handle fapl(check_id(H5Pcreate(H5P_FILE_ACCESS), path, "", "H5Pcreate"), HandleKind::plist);
  // The 1.10 format checksums all metadata: damaged files fail cleanly instead of silently
  // giving wrong values (FIELD_NOTES "Malformed input").
  check(H5Pset_libver_bounds(fapl.id(), H5F_LIBVER_V110, H5F_LIBVER_V110), path, "",
        "H5Pset_libver_bounds");
  align_large_objects(fapl.id(), path);
  const unsigned flags = mode == CreateMode::truncate ? H5F_ACC_TRUNC : H5F_ACC_EXCL;
  const hid_t id = H5Fcreate(path.c_str(), flags, H5P_DEFAULT, fapl.id());
  if (id < 0) {
    const std::string stack = error_stack();
    std::string what = "cannot create: H5Fcreate failed";
    if (lock_failed(stack)) what += kLockingHint;
    throw HdfError(path, "", path + ": " + what + "; HDF5 error stack:" + stack);
  }
  return File(Handle(id, HandleKind::file), path, "/");
}

File File::create_mpio(const std::string& path, MPI_Comm comm, CreateMode mode) {
  initialize();
  Handle fapl(check_id(H5Pcreate(H5P_FILE_ACCESS), path, "", "H5Pcreate"), HandleKind::plist);
  check(H5Pset_fapl_mpio(fapl.id(), comm, MPI_INFO_NULL), path, "", "H5Pset_fapl_mpio");
  check(H5Pset_libver_bounds(fapl.id(), H5F_LIBVER_V110, H5F_LIBVER_V110), path, "",
        "H5Pset_libver_bounds");
  align_large_objects(fapl.id(), path);
  const unsigned flags = mode == CreateMode::truncate ? H5F_ACC_TRUNC : H5F_ACC_EXCL;
  const hid_t id = H5Fcreate(path.c_str(), flags, H5P_DEFAULT, fapl.id());
  if (id < 0)
    throw HdfError(path, "", path + ": cannot create (MPI-IO): H5Fcreate failed; HDF5 error stack:" +
                                 error_stack());
  return File(Handle(id, HandleKind::file), path, "/");
}

File File::open_read(const std::string& path) {
  initialize();
  Handle fapl(check_id(H5Pcreate(H5P_FILE_ACCESS), path, "", "H5Pcreate"), HandleKind::plist);
  check(H5Pset_fapl_sec2(fapl.id()), path, "", "H5Pset_fapl_sec2");
  return File(Handle(open_with(path, H5F_ACC_RDONLY, fapl.id()), HandleKind::file), path, "/");
}

File File::open_read_mpio(const std::string& path, MPI_Comm comm) {
  initialize();
  Handle fapl(check_id(H5Pcreate(H5P_FILE_ACCESS), path, "", "H5Pcreate"), HandleKind::plist);
  check(H5Pset_fapl_mpio(fapl.id(), comm, MPI_INFO_NULL), path, "", "H5Pset_fapl_mpio");
  return File(Handle(open_with(path, H5F_ACC_RDONLY, fapl.id()), HandleKind::file), path, "/");
}

File File::open_read_write(const std::string& path) {
  initialize();
  Handle fapl(check_id(H5Pcreate(H5P_FILE_ACCESS), path, "", "H5Pcreate"), HandleKind::plist);
  check(H5Pset_fapl_sec2(fapl.id()), path, "", "H5Pset_fapl_sec2");
  align_large_objects(fapl.id(), path);
  return File(Handle(open_with(path, H5F_ACC_RDWR, fapl.id()), HandleKind::file), path, "/");
}

bool File::is_hdf5(const std::string& path) {
  initialize();
  const htri_t t = H5Fis_hdf5(path.c_str());
  H5Eclear2(H5E_DEFAULT);
  return t > 0;
}

void File::flush() { check(H5Fflush(id(), H5F_SCOPE_LOCAL), file_, "", "H5Fflush"); }

void File::close() {
  if (!h_.valid()) return;
  const ssize_t open = H5Fget_obj_count(id(), H5F_OBJ_ALL | H5F_OBJ_LOCAL);
  if (open < 0) fail(file_, "", "H5Fget_obj_count");
  if (open > 1) {
    reject(file_, "/",
           std::to_string(open - 1) + " objects still open at close; the file would stay open");
  }
  h_.close(file_, "");
}

}  // namespace wafermill::format::h5
