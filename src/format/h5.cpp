/// @file h5.cpp
/// @brief RAII handles and checked HDF5 calls (include/wafermill/format/h5.hpp).
#include "wafermill/format/h5.hpp"

#include <H5PLpublic.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "h5_detail.hpp"
#include "wafermill/error.hpp"

namespace wafermill::format::h5 {

using namespace detail;

namespace {
/// Appends one frame of HDF5's error stack; called by H5Ewalk2.
herr_t append_frame(unsigned n, const H5E_error2_t* e, void* data) {
  auto* out = static_cast<std::string*>(data);
  char minor[160] = "";
  if (H5Eget_msg(e->min_num, nullptr, minor, sizeof minor) < 0) minor[0] = '\0';
  *out += "\n  #" + std::to_string(n) + " " + (e->func_name ? e->func_name : "?") + ": " +
          (e->desc ? e->desc : "") + " (" + minor + ")";
  return 0;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Handle

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = other.id_;
    kind_ = other.kind_;
    other.id_ = -1;
  }
  return *this;
}

namespace {
herr_t close_id(hid_t id, HandleKind kind) {
  switch (kind) {
    case HandleKind::file:
      return H5Fclose(id);
    case HandleKind::group:
      return H5Gclose(id);
    case HandleKind::dataset:
      return H5Dclose(id);
    case HandleKind::dataspace:
      return H5Sclose(id);
    case HandleKind::datatype:
      return H5Tclose(id);
    case HandleKind::attribute:
      return H5Aclose(id);
    case HandleKind::plist:
      return H5Pclose(id);
  }
  return -1;
}
}  // namespace

void Handle::reset() noexcept {
  if (id_ >= 0) {
    (void)close_id(id_, kind_);  // destructors cannot report; close() does
    id_ = -1;
  }
}

void Handle::close(const std::string& file, const std::string& object) {
  if (id_ < 0) return;
  const hid_t id = id_;
  id_ = -1;
  if (close_id(id, kind_) < 0) fail(file, object, "close");
}

// ---------------------------------------------------------------------------------------------
// Library state and errors

void initialize() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (H5open() < 0) throw HdfError("", "", "HDF5 library failed to initialise");
    // Errors become exceptions carrying the stack; HDF5 must not print them itself.
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    // Only the built-in deflate/shuffle/fletcher32 filters may run on input we read
    // (FIELD_NOTES "Malformed input"): no plugin is ever loaded.
    H5PLset_loading_state(0);
  });
}

std::string error_stack() {
  std::string out;
  // Walk a copy: the H5E calls made while walking must not disturb the stack being read.
  const hid_t copy = H5Eget_current_stack();
  if (copy < 0) return out;
  H5Ewalk2(copy, H5E_WALK_DOWNWARD, append_frame, &out);
  H5Eclose_stack(copy);
  return out;
}

void fail(const std::string& file, const std::string& object, const std::string& what) {
  std::string msg = file;
  if (!object.empty()) msg += ": " + object;
  msg += ": " + what + " failed";
  const std::string stack = error_stack();
  if (!stack.empty()) msg += "; HDF5 error stack:" + stack;
  throw HdfError(file, object, msg);
}

std::size_t elem_size(Elem e) {
  switch (e) {
    case Elem::f32:
      return 4;
    case Elem::f64:
      return 8;
    case Elem::i32:
      return 4;
    case Elem::i64:
      return 8;
    case Elem::u8:
      return 1;
    case Elem::u16:
      return 2;
    case Elem::u64:
      return 8;
  }
  return 0;
}

hid_t native_type(Elem e) {
  initialize();
  switch (e) {
    case Elem::f32:
      return H5T_NATIVE_FLOAT;
    case Elem::f64:
      return H5T_NATIVE_DOUBLE;
    case Elem::i32:
      return H5T_NATIVE_INT32;
    case Elem::i64:
      return H5T_NATIVE_INT64;
    case Elem::u8:
      return H5T_NATIVE_UINT8;
    case Elem::u16:
      return H5T_NATIVE_UINT16;
    case Elem::u64:
      return H5T_NATIVE_UINT64;
  }
  return -1;
}

// ---------------------------------------------------------------------------------------------
// Location: attributes

std::string Location::child_path(const std::string& name) const {
  return path_ == "/" ? "/" + name : path_ + "/" + name;
}

bool Location::has_attribute(const std::string& name) const {
  return check_tri(H5Aexists(id(), name.c_str()), file_, path_, "H5Aexists " + name + "");
}

namespace {
Handle open_attribute(hid_t loc, const std::string& name, const std::string& file,
                      const std::string& object) {
  return Handle(
      check_id(H5Aopen(loc, name.c_str(), H5P_DEFAULT), file, object, ("H5Aopen " + name).c_str()),
      HandleKind::attribute);
}

std::uint64_t space_elements(hid_t space, const std::string& file, const std::string& object) {
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  if (n < 0) fail(file, object, "H5Sget_simple_extent_npoints");
  return static_cast<std::uint64_t>(n);
}
}  // namespace

TypeInfo Location::attribute_type(const std::string& name) const {
  Handle a = open_attribute(id(), name, file_, path_);
  Handle t(check_id(H5Aget_type(a.id()), file_, path_, "H5Aget_type"), HandleKind::datatype);
  return describe_type(t.id(), file_, path_ + " attribute " + name);
}

std::uint64_t Location::attribute_size(const std::string& name) const {
  Handle a = open_attribute(id(), name, file_, path_);
  Handle s(check_id(H5Aget_space(a.id()), file_, path_, "H5Aget_space"), HandleKind::dataspace);
  return space_elements(s.id(), file_, path_);
}

std::uint64_t Location::attribute_storage_bytes(const std::string& name) const {
  Handle a = open_attribute(id(), name, file_, path_);
  return H5Aget_storage_size(a.id());
}

namespace {
/// Creates attribute `name` (replacing one of that name) of the given type and space.
Handle create_attribute(hid_t loc, const std::string& name, hid_t type, hid_t space,
                        const std::string& file, const std::string& object) {
  if (check_tri(H5Aexists(loc, name.c_str()), file, object, "H5Aexists")) {
    check(H5Adelete(loc, name.c_str()), file, object, ("H5Adelete " + name).c_str());
  }
  return Handle(check_id(H5Acreate2(loc, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), file,
                         object, ("H5Acreate2 " + name).c_str()),
                HandleKind::attribute);
}

}  // namespace

namespace {
/// Writes `values` as fixed-length, NUL-padded UTF-8 strings of the longest one's size.
/// Fixed-length attribute data lives in the (checksummed, 1.10 format) object header, whereas
/// variable-length strings live in the global heap, which HDF5 1.10 does not checksum and whose
/// damage crashes H5HG_read (found by tests/format/damaged_file_test.cpp).
void write_fixed_strings(hid_t loc, const std::string& name, const std::vector<std::string>& values,
                         bool scalar, const std::string& file, const std::string& object) {
  std::size_t size = 1;
  for (const auto& v : values) size = std::max(size, v.size());
  Handle type(check_id(H5Tcopy(H5T_C_S1), file, object, "H5Tcopy"), HandleKind::datatype);
  check(H5Tset_size(type.id(), size), file, object, "H5Tset_size");
  check(H5Tset_strpad(type.id(), H5T_STR_NULLPAD), file, object, "H5Tset_strpad");
  check(H5Tset_cset(type.id(), H5T_CSET_UTF8), file, object, "H5Tset_cset");
  Handle space = scalar ? scalar_space(file, object) : simple_space({values.size()}, file, object);
  Handle a = create_attribute(loc, name, type.id(), space.id(), file, object);
  std::vector<char> buf(values.size() * size, '\0');
  for (std::size_t i = 0; i < values.size(); ++i) {
    std::copy(values[i].begin(), values[i].end(),
              buf.begin() + static_cast<std::ptrdiff_t>(i * size));
  }
  check(H5Awrite(a.id(), type.id(), buf.data()), file, object, "H5Awrite " + name);
  a.close(file, object);
}
}  // namespace

void Location::write_string_attribute(const std::string& name, const std::string& value) {
  write_fixed_strings(id(), name, {value}, true, file_, path_);
}

void Location::write_strings_attribute(const std::string& name,
                                       const std::vector<std::string>& values) {
  write_fixed_strings(id(), name, values, false, file_, path_);
}

void Location::write_int_attribute(const std::string& name, std::int64_t value) {
  Handle space = scalar_space(file_, path_);
  Handle a = create_attribute(id(), name, H5T_STD_I64LE, space.id(), file_, path_);
  check(H5Awrite(a.id(), H5T_NATIVE_INT64, &value), file_, path_, ("H5Awrite " + name).c_str());
  a.close(file_, path_);
}

void Location::write_double_attribute(const std::string& name, double value) {
  Handle space = scalar_space(file_, path_);
  Handle a = create_attribute(id(), name, H5T_IEEE_F64LE, space.id(), file_, path_);
  check(H5Awrite(a.id(), H5T_NATIVE_DOUBLE, &value), file_, path_, ("H5Awrite " + name).c_str());
  a.close(file_, path_);
}

std::vector<std::string> Location::read_strings_attribute(const std::string& name) const {
  const std::string object = path_ + " attribute " + name;
  Handle a = open_attribute(id(), name, file_, path_);
  Handle t(check_id(H5Aget_type(a.id()), file_, object, "H5Aget_type"), HandleKind::datatype);
  Handle s(check_id(H5Aget_space(a.id()), file_, object, "H5Aget_space"), HandleKind::dataspace);
  const std::uint64_t n = space_elements(s.id(), file_, object);
  const hid_t aid = a.id();
  return read_string_elements(
      t.id(), n, [aid](hid_t mem, void* buf) { return H5Aread(aid, mem, buf); }, file_, object);
}

std::string Location::read_string_attribute(const std::string& name) const {
  auto v = read_strings_attribute(name);
  if (v.size() != 1) reject(file_, path_ + " attribute " + name, "is not a single string");
  return v.front();
}

std::int64_t Location::read_int_attribute(const std::string& name) const {
  const std::string object = path_ + " attribute " + name;
  Handle a = open_attribute(id(), name, file_, path_);
  Handle t(check_id(H5Aget_type(a.id()), file_, object, "H5Aget_type"), HandleKind::datatype);
  if (describe_type(t.id(), file_, object).type_class != TypeClass::integer) {
    reject(file_, object, "is not an integer");
  }
  Handle s(check_id(H5Aget_space(a.id()), file_, object, "H5Aget_space"), HandleKind::dataspace);
  if (space_elements(s.id(), file_, object) != 1) {
    reject(file_, object, "is not a single value");
  }
  std::int64_t v = 0;
  check(H5Aread(a.id(), H5T_NATIVE_INT64, &v), file_, object, "H5Aread");
  return v;
}

}  // namespace wafermill::format::h5
