/// @file untimed_objects.hpp
/// @brief Local stand-in for a missing h5 wrapper: creates groups and datasets without
/// HDF5's creation/modification timestamps, so the same seed gives a byte-identical file.
/// Only the creation happens here; the objects are then opened and written through
/// format/h5.hpp like everything else. (format's Group::create_* keep HDF5's default of
/// recording times; once they can switch it off, this file can go.)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "wafermill/format/h5.hpp"

namespace wafermill::generate {

/// @brief Creates `path` (truncating) with the 1.10 file format like File::create, but
/// with an untimed root group, and opens it read-write. @throws HdfError
format::h5::File create_untimed_file(const std::string& path);

/// @brief Creates child group `name` of `parent` without timestamps and opens it.
/// @throws HdfError
format::h5::Group create_untimed_group(format::h5::Group& parent, const std::string& name);

/// @brief Creates a numeric dataset like Group::create_dataset (little-endian file type of
/// `type`, chunk clamped to the dims, contiguous when empty, shuffle + deflate when asked)
/// but without timestamps, and opens it. @throws HdfError
format::h5::Dataset create_untimed_dataset(format::h5::Group& parent, const std::string& name,
                                           format::h5::Elem type,
                                           const std::vector<std::uint64_t>& dims,
                                           const format::h5::DatasetOptions& options = {});

}  // namespace wafermill::generate
