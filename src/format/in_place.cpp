/// @file in_place.cpp
/// @brief detail::native_run (in_place.hpp).
#include "in_place.hpp"

#include <bit>

namespace wafermill::format::detail {

std::optional<std::uint64_t> native_run(const h5::Dataset& ds, const h5::StorageInfo& st,
                                        h5::Elem elem, std::uint64_t rows, std::uint64_t width,
                                        bool aligned) {
  if (!st.filters.empty() || st.external_files != 0 || std::endian::native != std::endian::little)
    return std::nullopt;
  const hid_t type = H5Dget_type(ds.id());
  if (type < 0) return std::nullopt;
  const htri_t same = H5Tequal(type, h5::native_type(elem));
  H5Tclose(type);
  if (same <= 0) return std::nullopt;
  const std::size_t rank = width == 0 ? 1 : 2;
  const std::uint64_t row_elems = width == 0 ? 1 : width;
  std::optional<std::uint64_t> base;
  if (st.layout == h5::Layout::contiguous) {
    base = st.file_offset;
  } else if (st.layout == h5::Layout::chunked && st.chunk.size() == rank &&
             (rank == 1 || st.chunk[1] == width) && st.chunk[0] > 0) {
    const std::uint64_t chunk_rows = st.chunk[0];
    const std::uint64_t chunk_bytes = chunk_rows * row_elems * h5::elem_size(elem);
    const std::uint64_t expected = (rows + chunk_rows - 1) / chunk_rows;
    const hid_t space = H5Dget_space(ds.id());
    if (space < 0) return std::nullopt;
    hsize_t n = 0;
    bool ok = H5Dget_num_chunks(ds.id(), space, &n) >= 0 && n == expected && n > 0;
    for (hsize_t i = 0; ok && i < n; ++i) {
      hsize_t offset[2] = {0, 0}, size = 0;
      unsigned mask = 0;
      haddr_t addr = HADDR_UNDEF;
      ok = H5Dget_chunk_info(ds.id(), space, i, offset, &mask, &addr, &size) >= 0 &&
           addr != HADDR_UNDEF && mask == 0 && size == chunk_bytes && offset[1] == 0 &&
           offset[0] % chunk_rows == 0;
      if (!ok) break;
      const std::uint64_t k = offset[0] / chunk_rows;
      if (!base && addr >= k * chunk_bytes) base = addr - k * chunk_bytes;
      ok = base && addr == *base + k * chunk_bytes;
    }
    H5Sclose(space);
    if (!ok) base.reset();
  }
  H5Eclear2(H5E_DEFAULT);  // a failed query above leaves a record; the answer is then nothing
  if (aligned && base && *base % h5::elem_size(elem) != 0) base.reset();
  return base;
}

}  // namespace wafermill::format::detail
