/// @file picture_checks.cpp
/// @brief Dataset checks of the map and image indexes, following FIELD_NOTES "Malformed
/// input": every size is checked against the file before anything is allocated, only the
/// built-in filters run, and nothing outside the file is followed.
#include "picture_checks.hpp"

#include <filesystem>

#include "wafermill/error.hpp"
#include "wafermill/format/trace_index.hpp"

namespace wafermill::format::detail {
namespace {

/// Deflate cannot compress by more than about 1032:1 (zlib technical details).
constexpr std::uint64_t kMaxCompressionRatio = 1100;

}  // namespace

void as_input_errors(const std::string& path, const std::function<void()>& body) {
  try {
    body();
  } catch (const HdfError& e) {
    const std::string what = e.what();
    throw InputError(what.rfind(path, 0) == 0 ? what : path + ": " + what);
  }
}

PictureChecker::PictureChecker(std::string path) : path_(std::move(path)) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path_, ec)) throw InputError(path_ + ": no such file");
  file_size_ = std::filesystem::file_size(path_, ec);
  if (!h5::File::is_hdf5(path_)) throw InputError(path_ + " is not an HDF5 file");
  try {
    file_ = h5::File::open_read(path_);
  } catch (const FileInUseError& e) {
    throw InputError(e.what());  // held by a writer: not damage
  } catch (const HdfError& e) {
    throw InputError(path_ + " cannot be opened as HDF5 (truncated or damaged?): " + e.what());
  }
}

void PictureChecker::fail(const std::string& object, const std::string& what) const {
  throw InputError(path_ + ": " + object + ": " + what);
}

void PictureChecker::fail_element(const std::string& object, std::uint64_t i,
                                  const std::string& value, const std::string& rest) const {
  throw InputError(path_ + ": " + object + "[" + std::to_string(i) + "] = " + value + rest);
}

h5::Group PictureChecker::group(const std::string& name) const {
  const std::string object = "/" + name;
  switch (file_.link_kind(name)) {
    case h5::LinkKind::none:
      fail(object, "missing (required group)");
    case h5::LinkKind::hard:
      break;
    default:
      fail(object, "is not a hard link; links leaving the file are not accepted");
  }
  if (file_.object_kind(name) != h5::ObjectKind::group) fail(object, "is not a group");
  return file_.open_group(name);
}

CheckedDataset PictureChecker::dataset(const h5::Group& group, const std::string& name,
                                       std::size_t rank, const TypeRule& rule) const {
  const std::string object = group.path() + "/" + name;
  switch (group.link_kind(name)) {
    case h5::LinkKind::none:
      fail(object, "missing (required dataset)");
    case h5::LinkKind::hard:
      break;
    case h5::LinkKind::external:
      fail(object, "is an external link; links leaving the file are not accepted");
    default:
      fail(object, "is a soft or user-defined link; only hard links are accepted");
  }
  if (group.object_kind(name) != h5::ObjectKind::dataset) fail(object, "is not a dataset");
  CheckedDataset d;
  d.dataset = group.open_dataset(name);
  d.dims = d.dataset.dims();
  if (d.dims.size() != rank)
    fail(object, "has rank " + std::to_string(d.dims.size()) + " " + dims_text(d.dims) +
                     ", expected rank " + std::to_string(rank));
  const auto max_dims = d.dataset.max_dims();
  for (std::size_t i = 0; i < rank; ++i)
    if (d.dims[i] > max_dims[i])
      fail(object, "dimension " + std::to_string(i) + " = " + std::to_string(d.dims[i]) +
                       " exceeds its maximum " + std::to_string(max_dims[i]));
  d.type = d.dataset.type();
  if (const std::string expected = rule(d.type); !expected.empty())
    fail(object, "has type " + describe(d.type) + ", expected " + expected);
  d.storage = d.dataset.storage();
  const auto& st = d.storage;
  if (st.layout == h5::Layout::virtual_)
    fail(object, "is a virtual dataset; only data stored in the file is accepted");
  if (st.layout == h5::Layout::other) fail(object, "has an unknown storage layout");
  if (st.external_files > 0)
    fail(object, "uses external storage; only data stored in the file is accepted");
  for (int filter : st.filters)
    if (filter != H5Z_FILTER_DEFLATE && filter != H5Z_FILTER_SHUFFLE &&
        filter != H5Z_FILTER_FLETCHER32)
      fail(object, "uses HDF5 filter " + std::to_string(filter) +
                       "; only deflate (gzip), shuffle and fletcher32 are accepted");
  std::uint64_t bytes = d.type.size;
  for (auto n : d.dims)
    if (__builtin_mul_overflow(bytes, n, &bytes))
      fail(object, "extent " + dims_text(d.dims) + " overflows 64 bits");
  if (st.layout == h5::Layout::chunked) {
    std::uint64_t chunk_bytes = d.type.size;
    bool bad = st.chunk.size() != rank;
    for (std::size_t i = 0; !bad && i < rank; ++i)
      bad = st.chunk[i] == 0 || __builtin_mul_overflow(chunk_bytes, st.chunk[i], &chunk_bytes);
    if (bad || chunk_bytes > kMaxChunkBytes)
      fail(object, "has chunk dims " + dims_text(st.chunk) +
                       "; chunks must match the rank and hold at most " +
                       std::to_string(kMaxChunkBytes) + " bytes");
  }
  const bool filtered = !st.filters.empty();
  std::uint64_t bound = 0;
  if (__builtin_mul_overflow(file_size_, filtered ? kMaxCompressionRatio : 1, &bound))
    bound = UINT64_MAX;
  if (bytes > bound)
    fail(object, "extent " + dims_text(d.dims) + " needs " + std::to_string(bytes) +
                     " bytes, impossible in a file of " + std::to_string(file_size_) + " bytes");
  if (bytes > 0) {
    if (!filtered && st.layout != h5::Layout::compact && st.storage_bytes < bytes)
      fail(object, "only " + std::to_string(st.storage_bytes) + " of " + std::to_string(bytes) +
                       " bytes are stored; the dataset was not completely written");
    if (filtered && (st.storage_bytes == 0 || st.storage_bytes < bytes / kMaxCompressionRatio))
      fail(object, "stores " + std::to_string(st.storage_bytes) + " bytes for " +
                       std::to_string(bytes) + " bytes of data; the dataset was not completely written");
    if (st.file_offset && (*st.file_offset > file_size_ || file_size_ - *st.file_offset < bytes))
      fail(object, "data at byte " + std::to_string(*st.file_offset) + " + " +
                       std::to_string(bytes) + " lies past the end of the file (" +
                       std::to_string(file_size_) + " bytes): the file is truncated");
  }
  return d;
}

std::vector<std::int64_t> PictureChecker::read_int64(const CheckedDataset& d) const {
  if (d.dims.size() != 1) fail(d.dataset.path(), "expected a 1-D dataset");
  std::vector<std::int64_t> out(d.dims[0]);
  if (!out.empty()) d.dataset.read(std::span<std::int64_t>(out), {0}, {d.dims[0]});
  return out;
}

}  // namespace wafermill::format::detail
