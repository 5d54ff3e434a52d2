/// @file h5_detail.hpp
/// @brief Checked-call helpers shared by the h5*.cpp files of format/ (not a public header).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "wafermill/error.hpp"
#include "wafermill/format/h5.hpp"

namespace wafermill::format::h5::detail {

/// Throws HdfError "<file>: <object>: <what>" for a condition HDF5 itself did not flag.
[[noreturn]] inline void reject(const std::string& file, const std::string& object,
                                const std::string& what) {
  throw HdfError(file, object, file + ": " + object + ": " + what);
}

inline hid_t check_id(hid_t id, const std::string& file, const std::string& object,
                      const std::string& what) {
  if (id < 0) fail(file, object, what);
  return id;
}

inline void check(herr_t status, const std::string& file, const std::string& object,
                  const std::string& what) {
  if (status < 0) fail(file, object, what);
}

inline bool check_tri(htri_t t, const std::string& file, const std::string& object,
                      const std::string& what) {
  if (t < 0) fail(file, object, what);
  return t > 0;
}

inline std::uint64_t product(const std::vector<std::uint64_t>& v) {
  std::uint64_t n = 1;
  for (auto x : v) {
    if (__builtin_mul_overflow(n, x, &n)) return UINT64_MAX;
  }
  return n;
}

/// A variable-length UTF-8 string type, as h5py writes str.
inline Handle vlen_string_type(const std::string& file, const std::string& object) {
  Handle t(check_id(H5Tcopy(H5T_C_S1), file, object, "H5Tcopy"), HandleKind::datatype);
  check(H5Tset_size(t.id(), H5T_VARIABLE), file, object, "H5Tset_size");
  check(H5Tset_cset(t.id(), H5T_CSET_UTF8), file, object, "H5Tset_cset");
  return t;
}

inline TypeInfo describe_type(hid_t type, const std::string& file, const std::string& object) {
  TypeInfo info;
  const H5T_class_t cls = H5Tget_class(type);
  if (cls == H5T_NO_CLASS) fail(file, object, "H5Tget_class");
  info.size = H5Tget_size(type);
  if (info.size == 0) fail(file, object, "H5Tget_size");
  switch (cls) {
    case H5T_INTEGER: {
      info.type_class = TypeClass::integer;
      const H5T_sign_t sign = H5Tget_sign(type);
      if (sign == H5T_SGN_ERROR) fail(file, object, "H5Tget_sign");
      info.is_signed = sign == H5T_SGN_2;
      break;
    }
    case H5T_FLOAT:
      info.type_class = TypeClass::floating;
      break;
    case H5T_STRING:
      info.type_class = TypeClass::string;
      info.variable_string =
          check_tri(H5Tis_variable_str(type), file, object, "H5Tis_variable_str");
      break;
    default:
      info.type_class = TypeClass::other;
  }
  return info;
}

/// Turns a fixed-length string element into std::string: up to the first NUL, and without
/// trailing blanks when the type pads with spaces (Fortran style).
inline std::string fixed_to_string(const char* p, std::size_t size, bool space_padded) {
  std::size_t len = 0;
  while (len < size && p[len] != '\0') ++len;
  if (space_padded) {
    while (len > 0 && p[len - 1] == ' ') --len;
  }
  return std::string(p, len);
}

/// Reads `n` string elements through `read` (H5Dread or H5Aread bound to its object), with
/// a memory type matching the stored one, fixed or variable length.
template <class ReadFn>
std::vector<std::string> read_string_elements(hid_t stored_type, std::uint64_t n, ReadFn&& read,
                                              const std::string& file, const std::string& object) {
  std::vector<std::string> out;
  out.reserve(n);
  const TypeInfo info = describe_type(stored_type, file, object);
  if (info.type_class != TypeClass::string) reject(file, object, "is not a string");
  if (info.variable_string) {
    Handle mem = vlen_string_type(file, object);
    // Keep the stored character set so HDF5 does not attempt a cset conversion.
    const H5T_cset_t cset = H5Tget_cset(stored_type);
    if (cset < 0) fail(file, object, "H5Tget_cset");
    check(H5Tset_cset(mem.id(), cset), file, object, "H5Tset_cset");
    std::vector<char*> ptrs(n, nullptr);
    check(read(mem.id(), ptrs.data()), file, object, "read strings");
    for (char* p : ptrs) out.emplace_back(p ? p : "");
    // Frees the strings HDF5 allocated; a failure here only leaks.
    for (char* p : ptrs) H5free_memory(p);
  } else {
    Handle mem(check_id(H5Tcopy(stored_type), file, object, "H5Tcopy"), HandleKind::datatype);
    const H5T_str_t pad = H5Tget_strpad(stored_type);
    std::vector<char> buf(n * info.size);
    check(read(mem.id(), buf.data()), file, object, "read strings");
    for (std::uint64_t i = 0; i < n; ++i) {
      out.push_back(
          fixed_to_string(buf.data() + i * info.size, info.size, pad == H5T_STR_SPACEPAD));
    }
  }
  return out;
}

inline Handle scalar_space(const std::string& file, const std::string& object) {
  return Handle(check_id(H5Screate(H5S_SCALAR), file, object, "H5Screate"), HandleKind::dataspace);
}

inline Handle simple_space(const std::vector<std::uint64_t>& dims, const std::string& file,
                           const std::string& object) {
  std::vector<hsize_t> d(dims.begin(), dims.end());
  return Handle(check_id(H5Screate_simple(static_cast<int>(d.size()), d.data(), nullptr), file,
                         object, "H5Screate_simple"),
                HandleKind::dataspace);
}
}  // namespace wafermill::format::h5::detail
