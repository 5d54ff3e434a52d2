/// @file h5.hpp
/// @brief The HDF5 layer: RAII handles and checked calls. Every HDF5 call of wafermill goes
/// through this file, so no bare hid_t or unchecked return code exists outside format/.
/// Every failure throws wafermill::HdfError naming the file, the object path and HDF5's own
/// error stack. Automatic error printing and filter plugins are switched off on first use.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include <mpi.h>

namespace wafermill::format::h5 {

/// @brief Which H5*close a Handle calls.
enum class HandleKind : std::uint8_t {
  file,
  group,
  dataset,
  dataspace,
  datatype,
  attribute,
  plist
};

/// @brief A move-only owner of one hid_t, closed with the function of its kind.
class Handle {
 public:
  Handle() = default;
  /// @brief Takes ownership of `id` (which must be valid, i.e. >= 0).
  Handle(hid_t id, HandleKind kind) noexcept : id_(id), kind_(kind) {}
  ~Handle() { reset(); }
  Handle(Handle&& other) noexcept : id_(other.id_), kind_(other.kind_) { other.id_ = -1; }
  Handle& operator=(Handle&& other) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  /// @brief The owned id (-1 if none). For format/ internals only.
  hid_t id() const noexcept { return id_; }
  /// @brief True when an id is owned.
  bool valid() const noexcept { return id_ >= 0; }
  /// @brief Closes the id, ignoring errors (for destructors and unwinding).
  void reset() noexcept;
  /// @brief Closes the id and reports a failure. @throws HdfError if the close fails.
  void close(const std::string& file, const std::string& object);
  /// @brief Forgets the id without closing it: for an object of a file opened with MPI-IO
  /// whose close is collective, when this rank fails alone and the job is about to be
  /// aborted (a close would wait forever for the other ranks).
  void abandon() noexcept { id_ = -1; }

 private:
  hid_t id_ = -1;
  HandleKind kind_ = HandleKind::plist;
};

/// @brief Switches off automatic error printing and filter plugins (idempotent; every entry
/// point of this file calls it, so callers need not).
void initialize();

/// @brief HDF5's current error stack as one line per frame (empty when no error is recorded).
std::string error_stack();

/// @brief Throws HdfError: "<file>: <object>: <what>" followed by HDF5's error stack.
[[noreturn]] void fail(const std::string& file, const std::string& object, const std::string& what);

/// @brief Element types that can be read and written through this layer.
enum class Elem : std::uint8_t { f32, f64, i32, i64, u8, u16, u64 };

/// @brief The Elem of a C++ type.
template <class T>
constexpr Elem elem_of() {
  using U = std::remove_cv_t<T>;
  if constexpr (std::is_same_v<U, float>)
    return Elem::f32;
  else if constexpr (std::is_same_v<U, double>)
    return Elem::f64;
  else if constexpr (std::is_same_v<U, std::int32_t>)
    return Elem::i32;
  else if constexpr (std::is_same_v<U, std::int64_t>)
    return Elem::i64;
  else if constexpr (std::is_same_v<U, std::uint8_t>)
    return Elem::u8;
  else if constexpr (std::is_same_v<U, std::uint16_t>)
    return Elem::u16;
  else if constexpr (std::is_same_v<U, std::uint64_t>)
    return Elem::u64;
  else
    static_assert(sizeof(T) == 0, "unsupported element type");
}

/// @brief Bytes of one element.
std::size_t elem_size(Elem e);
/// @brief The native memory type of an element type (a library-owned id: do not close).
hid_t native_type(Elem e);

/// @brief Class of a stored datatype, as the defensive reader needs it.
enum class TypeClass : std::uint8_t { integer, floating, string, other };

/// @brief What a dataset's or attribute's stored type is.
struct TypeInfo {
  TypeClass type_class = TypeClass::other;
  std::size_t size = 0;          ///< bytes per element (for variable strings: of the pointer)
  bool is_signed = false;        ///< integers only
  bool variable_string = false;  ///< strings only
};

/// @brief Storage layout of a dataset.
enum class Layout : std::uint8_t { compact, contiguous, chunked, virtual_, other };

/// @brief How a dataset is stored, for checks before any data is read.
struct StorageInfo {
  Layout layout = Layout::other;
  std::vector<std::uint64_t> chunk;          ///< chunk dims (chunked only)
  std::vector<int> filters;                  ///< H5Z filter ids in pipeline order
  int external_files = 0;                    ///< H5Pget_external_count
  std::uint64_t storage_bytes = 0;           ///< H5Dget_storage_size (allocated bytes)
  std::optional<std::uint64_t> file_offset;  ///< contiguous and allocated: address in the file
};

/// @brief Chunking and compression of a dataset being created.
struct DatasetOptions {
  std::vector<std::uint64_t> chunk;  ///< empty: contiguous
  int deflate_level = 0;             ///< 1-9: shuffle + deflate (needs chunk)
  bool fletcher32 = false;           ///< checksum each chunk (needs chunk)
  bool no_fill = false;              ///< allocate at creation, never write fill values (every element is written)
};

/// @brief Kind of a link, checked before following it (external links open other files).
enum class LinkKind : std::uint8_t { none, hard, soft, external, other };

/// @brief Kind of the object a hard link points to.
enum class ObjectKind : std::uint8_t { group, dataset, datatype, other };

/// @brief Something attributes can be attached to (file root, group, dataset).
class Location {
 public:
  /// @brief The file this object lives in.
  const std::string& file() const { return file_; }
  /// @brief The object path ("/traces/values").
  const std::string& path() const { return path_; }
  /// @brief For format/ internals.
  hid_t id() const { return h_.id(); }

  /// @brief True if an attribute `name` exists. @throws HdfError
  bool has_attribute(const std::string& name) const;
  /// @brief Type of attribute `name`. @throws HdfError
  TypeInfo attribute_type(const std::string& name) const;
  /// @brief Element count of attribute `name` (1 for a scalar). @throws HdfError
  std::uint64_t attribute_size(const std::string& name) const;
  /// @brief Bytes attribute `name` occupies in the file. @throws HdfError
  std::uint64_t attribute_storage_bytes(const std::string& name) const;
  /// @brief Writes (replacing) a scalar fixed-length UTF-8 string attribute (fixed length keeps
  /// it in the checksummed object header, unlike variable-length strings). @throws HdfError
  void write_string_attribute(const std::string& name, const std::string& value);
  /// @brief Writes (replacing) a 1-D fixed-length UTF-8 string attribute, each string
  /// NUL-padded to the longest. @throws HdfError
  void write_strings_attribute(const std::string& name, const std::vector<std::string>& values);
  /// @brief Writes (replacing) a scalar int64 attribute. @throws HdfError
  void write_int_attribute(const std::string& name, std::int64_t value);
  /// @brief Writes (replacing) a scalar double attribute. @throws HdfError
  void write_double_attribute(const std::string& name, double value);
  /// @brief Reads a string attribute (fixed or variable length, scalar or one element).
  /// @throws HdfError if absent or not a string.
  std::string read_string_attribute(const std::string& name) const;
  /// @brief Reads a string-array attribute (fixed or variable length), trailing NULs and
  /// padding stripped. @throws HdfError if absent or not strings.
  std::vector<std::string> read_strings_attribute(const std::string& name) const;
  /// @brief Reads a scalar integer attribute converted to int64. @throws HdfError
  std::int64_t read_int_attribute(const std::string& name) const;

  /// @brief See Handle::abandon().
  void abandon() noexcept { h_.abandon(); }

 protected:
  Location() = default;
  Location(Handle h, std::string file, std::string path)
      : h_(std::move(h)), file_(std::move(file)), path_(std::move(path)) {}
  /// @brief "<parent>/<name>" without a doubled slash.
  std::string child_path(const std::string& name) const;

  Handle h_;
  std::string file_;
  std::string path_;
};

/// @brief An open dataset.
class Dataset : public Location {
 public:
  Dataset() = default;
  /// @brief Current extent of each dimension. @throws HdfError
  std::vector<std::uint64_t> dims() const;
  /// @brief Maximum extent of each dimension (H5S_UNLIMITED as UINT64_MAX). @throws HdfError
  std::vector<std::uint64_t> max_dims() const;
  /// @brief The stored element type. @throws HdfError
  TypeInfo type() const;
  /// @brief Layout, chunking, filters and allocated bytes. @throws HdfError
  StorageInfo storage() const;
  /// @brief The native memory type of the stored type (H5Tget_native_type). @throws HdfError
  Handle memory_type() const;

  /// @brief Writes `count` elements at `offset` (one entry per dimension) from row-major
  /// `data`. @throws HdfError
  template <class T>
  void write(std::span<const T> data, const std::vector<std::uint64_t>& offset,
             const std::vector<std::uint64_t>& count) {
    write_raw(elem_of<T>(), data.data(), data.size(), offset, count);
  }
  /// @brief Reads `count` elements at `offset` into row-major `out` (converting to T).
  /// @throws HdfError
  template <class T>
  void read(std::span<T> out, const std::vector<std::uint64_t>& offset,
            const std::vector<std::uint64_t>& count) const {
    read_raw(elem_of<T>(), out.data(), out.size(), offset, count);
  }
  /// @brief Writes the whole dataset. @throws HdfError
  template <class T>
  void write_all(std::span<const T> data) {
    write(data, std::vector<std::uint64_t>(dims().size(), 0), dims());
  }
  /// @brief Reads the whole dataset (the caller bounds its size first). @throws HdfError
  template <class T>
  std::vector<T> read_all() const {
    const auto d = dims();
    std::uint64_t n = 1;
    for (auto x : d) n *= x;
    std::vector<T> out(n);
    read(std::span<T>(out), std::vector<std::uint64_t>(d.size(), 0), d);
    return out;
  }
  /// @brief Reads elements [first, first + n) of a 1-D string dataset (fixed or variable
  /// length). @throws HdfError
  std::vector<std::string> read_strings(std::uint64_t first, std::uint64_t n) const;
  /// @brief Writes elements [first, first + values.size()) of a 1-D variable-length string
  /// dataset. @throws HdfError
  void write_strings(std::uint64_t first, const std::vector<std::string>& values);
  /// @brief Reads a hyperslab in a raw memory type (format/ internals: the reader reads in
  /// the file's own type). `mem_type` is not closed. @throws HdfError
  void read_hyperslab(hid_t mem_type, void* out, const std::vector<std::uint64_t>& offset,
                      const std::vector<std::uint64_t>& count) const;
  /// @brief Writes a hyperslab from a raw memory type (format/ internals). @throws HdfError
  void write_hyperslab(hid_t mem_type, const void* data, const std::vector<std::uint64_t>& offset,
                       const std::vector<std::uint64_t>& count);

 private:
  friend class Group;
  using Location::Location;
  void write_raw(Elem e, const void* data, std::size_t n, const std::vector<std::uint64_t>& offset,
                 const std::vector<std::uint64_t>& count);
  void read_raw(Elem e, void* out, std::size_t n, const std::vector<std::uint64_t>& offset,
                const std::vector<std::uint64_t>& count) const;
};

/// @brief Chunk cache of a dataset being opened (H5Pset_chunk_cache).
struct ChunkCache {
  std::size_t slots = 0;  ///< hash slots (a prime ~100x the chunks that fit)
  std::size_t bytes = 0;  ///< cache size
};

/// @brief An open group (or a file's root group).
class Group : public Location {
 public:
  Group() = default;
  /// @brief Kind of link `name` (one path component) in this group, without following it.
  /// @throws HdfError
  LinkKind link_kind(const std::string& name) const;
  /// @brief Kind of object hard link `name` points to. @throws HdfError
  ObjectKind object_kind(const std::string& name) const;
  /// @brief True if `name` (one component) exists as a hard link to a dataset.
  bool has_dataset(const std::string& name) const;
  /// @brief True if `name` (one component) exists as a hard link to a group.
  bool has_group(const std::string& name) const;
  /// @brief Names of the links in this group, in name order. @throws HdfError
  std::vector<std::string> link_names() const;
  /// @brief Opens child group `name`. @throws HdfError
  Group open_group(const std::string& name) const;
  /// @brief Creates child group `name`. @throws HdfError
  Group create_group(const std::string& name);
  /// @brief Opens child dataset `name`, optionally with a chunk cache. @throws HdfError
  Dataset open_dataset(const std::string& name,
                       std::optional<ChunkCache> cache = std::nullopt) const;
  /// @brief Creates a numeric dataset of the given dims (N-D). @throws HdfError
  Dataset create_dataset(const std::string& name, Elem type, const std::vector<std::uint64_t>& dims,
                         const DatasetOptions& options = {});
  /// @brief Creates a numeric dataset whose element type copies another dataset's stored
  /// type (used to copy /wafers/* fields faithfully). @throws HdfError
  Dataset create_dataset_like(const std::string& name, const Dataset& like,
                              const std::vector<std::uint64_t>& dims,
                              const DatasetOptions& options = {});
  /// @brief Creates a 1-D variable-length UTF-8 string dataset of n elements. @throws HdfError
  Dataset create_string_dataset(const std::string& name, std::uint64_t n,
                                const DatasetOptions& options = {});
  /// @brief Creates and fills a 1-D variable-length string dataset. @throws HdfError
  Dataset write_string_dataset(const std::string& name, const std::vector<std::string>& values);

 protected:
  friend class File;
  using Location::Location;
};

/// @brief How File::create treats an existing file.
enum class CreateMode : std::uint8_t { truncate, exclusive };

/// @brief An open file; its root group is the File itself.
class File : public Group {
 public:
  File() = default;
  /// @brief Creates a file with the 1.10 format (metadata checksums). @throws HdfError
  static File create(const std::string& path, CreateMode mode = CreateMode::truncate);
  /// @brief Opens read-only with the sec2 driver; MPI need not be initialised.
  /// @throws HdfError (with a hint about HDF5_USE_FILE_LOCKING when locking failed)
  static File open_read(const std::string& path);
  /// @brief Opens read-only through MPI-IO, collectively over `comm`. @throws HdfError
  static File open_read_mpio(const std::string& path, MPI_Comm comm);
  /// @brief Creates a file collectively over `comm` with the MPI-IO driver (1.10 format, as
  /// create()): every rank of comm must call it. @throws HdfError
  static File create_mpio(const std::string& path, MPI_Comm comm, CreateMode mode);
  /// @brief Opens read-write with the sec2 driver. @throws HdfError
  static File open_read_write(const std::string& path);
  /// @brief True if `path` starts with an HDF5 signature (H5Fis_hdf5); false for a missing,
  /// empty or foreign file.
  static bool is_hdf5(const std::string& path);

  /// @brief Flushes buffers to the operating system. @throws HdfError
  void flush();
  /// @brief Closes the file, reporting failures (the destructor ignores them). Every object
  /// opened from it must be closed first, else the file would stay open behind the caller's
  /// back. @throws HdfError if objects are still open or the close fails
  void close();

 private:
  using Group::Group;
};

}  // namespace wafermill::format::h5
