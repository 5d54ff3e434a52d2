#include "untimed_objects.hpp"

#include <hdf5.h>

#include <algorithm>

namespace wafermill::generate {

namespace h5 = format::h5;

namespace {

/// Throws HdfError for a failed call (negative return).
void check(herr_t status, const h5::Location& at, const std::string& object, const char* call) {
  if (status < 0) h5::fail(at.file(), object, call);
}

h5::Handle checked_id(hid_t id, h5::HandleKind kind, const h5::Location& at,
                      const std::string& object, const char* call) {
  if (id < 0) h5::fail(at.file(), object, call);
  return h5::Handle(id, kind);
}

hid_t little_endian_type(h5::Elem e) {
  switch (e) {
    case h5::Elem::f32:
      return H5T_IEEE_F32LE;
    case h5::Elem::f64:
      return H5T_IEEE_F64LE;
    case h5::Elem::i32:
      return H5T_STD_I32LE;
    case h5::Elem::i64:
      return H5T_STD_I64LE;
    case h5::Elem::u8:
      return H5T_STD_U8LE;
    case h5::Elem::u16:
      return H5T_STD_U16LE;
    case h5::Elem::u64:
      return H5T_STD_U64LE;
  }
  return H5T_STD_U8LE;
}

std::string child_of(const h5::Location& parent, const std::string& name) {
  return parent.path() == "/" ? "/" + name : parent.path() + "/" + name;
}

}  // namespace

h5::File create_untimed_file(const std::string& path) {
  h5::initialize();
  auto checked = [&](hid_t id, h5::HandleKind kind, const char* call) {
    if (id < 0) h5::fail(path, "/", call);
    return h5::Handle(id, kind);
  };
  const h5::Handle fapl = checked(H5Pcreate(H5P_FILE_ACCESS), h5::HandleKind::plist, "H5Pcreate");
  if (H5Pset_libver_bounds(fapl.id(), H5F_LIBVER_V110, H5F_LIBVER_V110) < 0) {
    h5::fail(path, "/", "H5Pset_libver_bounds");
  }
  // The root group is created with the file creation properties.
  const h5::Handle fcpl = checked(H5Pcreate(H5P_FILE_CREATE), h5::HandleKind::plist, "H5Pcreate");
  if (H5Pset_obj_track_times(fcpl.id(), 0) < 0) h5::fail(path, "/", "H5Pset_obj_track_times");
  h5::Handle file = checked(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl.id(), fapl.id()),
                            h5::HandleKind::file, "H5Fcreate");
  file.close(path, "/");
  return h5::File::open_read_write(path);
}

h5::Group create_untimed_group(h5::Group& parent, const std::string& name) {
  h5::initialize();
  const std::string object = child_of(parent, name);
  const h5::Handle gcpl =
      checked_id(H5Pcreate(H5P_GROUP_CREATE), h5::HandleKind::plist, parent, object, "H5Pcreate");
  check(H5Pset_obj_track_times(gcpl.id(), 0), parent, object, "H5Pset_obj_track_times");
  h5::Handle group =
      checked_id(H5Gcreate2(parent.id(), name.c_str(), H5P_DEFAULT, gcpl.id(), H5P_DEFAULT),
                 h5::HandleKind::group, parent, object, "H5Gcreate2");
  group.close(parent.file(), object);
  return parent.open_group(name);
}

h5::Dataset create_untimed_dataset(h5::Group& parent, const std::string& name, h5::Elem type,
                                   const std::vector<std::uint64_t>& dims,
                                   const h5::DatasetOptions& options) {
  h5::initialize();
  const std::string object = child_of(parent, name);
  const h5::Handle dcpl =
      checked_id(H5Pcreate(H5P_DATASET_CREATE), h5::HandleKind::plist, parent, object, "H5Pcreate");
  check(H5Pset_obj_track_times(dcpl.id(), 0), parent, object, "H5Pset_obj_track_times");
  const bool empty = std::find(dims.begin(), dims.end(), 0) != dims.end();
  // A chunk may not exceed a fixed dimension, so it is clamped, and a dataset without
  // elements stays contiguous (as format's create_dataset does).
  if (!options.chunk.empty() && !empty) {
    std::vector<hsize_t> chunk(dims.size());
    for (std::size_t i = 0; i < dims.size(); ++i) {
      chunk[i] = std::clamp<std::uint64_t>(options.chunk.at(i), 1, dims[i]);
    }
    check(H5Pset_chunk(dcpl.id(), static_cast<int>(chunk.size()), chunk.data()), parent, object,
          "H5Pset_chunk");
    if (options.deflate_level > 0) {
      check(H5Pset_shuffle(dcpl.id()), parent, object, "H5Pset_shuffle");
      check(H5Pset_deflate(dcpl.id(), static_cast<unsigned>(std::min(options.deflate_level, 9))),
            parent, object, "H5Pset_deflate");
    }
  }
  if (options.no_fill && !empty) {
    // Every chunk allocated at creation, one after the other in row order, each on a 4 KiB
    // page (File::open_read_write aligns large objects): a layout readers map in place. Never
    // filled: the generator writes every element.
    check(H5Pset_fill_time(dcpl.id(), H5D_FILL_TIME_NEVER), parent, object, "H5Pset_fill_time");
    check(H5Pset_alloc_time(dcpl.id(), H5D_ALLOC_TIME_EARLY), parent, object, "H5Pset_alloc_time");
  }
  const std::vector<hsize_t> extent(dims.begin(), dims.end());
  const h5::Handle space =
      checked_id(H5Screate_simple(static_cast<int>(extent.size()), extent.data(), nullptr),
                 h5::HandleKind::dataspace, parent, object, "H5Screate_simple");
  h5::Handle dataset = checked_id(H5Dcreate2(parent.id(), name.c_str(), little_endian_type(type),
                                             space.id(), H5P_DEFAULT, dcpl.id(), H5P_DEFAULT),
                                  h5::HandleKind::dataset, parent, object, "H5Dcreate2");
  dataset.close(parent.file(), object);
  return parent.open_dataset(name);
}

}  // namespace wafermill::generate
