/// @file in_place.hpp
/// @brief Where a dataset's bytes on disk are exactly the native array a hyperslab read would
/// give, so that it can be mapped or read with plain file reads (trace_reader.cpp). Found by the
/// index read (trace_index.cpp), which already has the dataset open, and carried to the readers
/// with the index: a reader then opens no HDF5 file for such a dataset (issue 19: the per-file
/// cost of a night of thousands of small files). Private to format/.
#pragma once

#include <cstdint>
#include <optional>

#include "wafermill/format/h5.hpp"

namespace wafermill::format::detail {

/// @brief The file address where `ds`'s bytes form exactly the native row-major array of
/// `rows` × `width` elements of `elem` (width 0: a 1-D dataset of `rows`), or nothing: stored
/// in this machine's byte order (the file type equals the native type of `elem`), without
/// filter or external file, at an address aligned for the type, and either contiguous, or
/// chunked in chunks of whole rows that lie one after the other in row order (as a writer
/// filling the dataset in order allocates them; edge chunks are stored at full size), which is
/// then one contiguous run too. `st` is `ds.storage()`. With `aligned` false the address
/// need not be a multiple of the element size (for copies by plain file reads, not mappings).
std::optional<std::uint64_t> native_run(const h5::Dataset& ds, const h5::StorageInfo& st,
                                        h5::Elem elem, std::uint64_t rows, std::uint64_t width,
                                        bool aligned = true);

}  // namespace wafermill::format::detail
