/// @file input_wafers.cpp
/// @brief The input's /wafers/* copied into an output (input_wafers.hpp).
#include "wafermill/format/input_wafers.hpp"

#include <algorithm>
#include <vector>

#include "wafermill/error.hpp"
#include "wafermill/format/h5.hpp"

namespace wafermill::format {
namespace {

/// Rows of a field copied per read.
constexpr std::uint64_t kCopyRows = 1ULL << 16;

/// Name of an input field inside the trace output's /wafers: score and flag are the job's own.
std::string legacy_name(const std::string& name) {
  // The names the job writes under /wafers (with a model: docs/MONITORING.md).
  static const char* const kJob[] = {"score", "flag", "t2", "spe", "reason", "contrib_column", "contrib_share"};
  for (const char* j : kJob)
    if (name == j) return "input_" + name;
  return name;
}

void copy_strings(const h5::Dataset& src, std::uint64_t n, std::vector<h5::Group*> into,
                  const std::vector<std::string>& names) {
  std::vector<h5::Dataset> dst;
  for (std::size_t i = 0; i < into.size(); ++i) dst.push_back(into[i]->create_string_dataset(names[i], n));
  for (std::uint64_t first = 0; first < n; first += kCopyRows) {
    const auto values = src.read_strings(first, std::min(kCopyRows, n - first));
    for (auto& d : dst) d.write_strings(first, values);
  }
}

// Numbers keep their stored type; they pass through memory in its native form.
void copy_numbers(const std::string& input_path, const h5::Dataset& src, std::uint64_t n,
                  std::vector<h5::Group*> into, const std::vector<std::string>& names) {
  std::vector<h5::Dataset> dst;
  for (std::size_t i = 0; i < into.size(); ++i) dst.push_back(into[i]->create_dataset_like(names[i], src, {n}));
  const h5::Handle mem = src.memory_type();
  const std::size_t elem = H5Tget_size(mem.id());
  if (elem == 0) h5::fail(input_path, src.path(), "H5Tget_size");
  std::vector<unsigned char> buf(std::max<std::uint64_t>(1, std::min(kCopyRows, n)) * elem);
  for (std::uint64_t first = 0; first < n; first += kCopyRows) {
    const std::uint64_t count = std::min(kCopyRows, n - first);
    src.read_hyperslab(mem.id(), buf.data(), {first}, {count});
    for (auto& d : dst) d.write_hyperslab(mem.id(), buf.data(), {first}, {count});
  }
}

}  // namespace

void copy_input_wafers(const std::string& input_path, h5::Group& output_root,
                       h5::Group* also_into) {
  const h5::File in = h5::File::open_read(input_path);
  if (in.link_kind("wafers") == h5::LinkKind::none) return;
  if (in.link_kind("wafers") != h5::LinkKind::hard || in.object_kind("wafers") != h5::ObjectKind::group)
    throw InputError(input_path + ": /wafers is not a group");
  const h5::Group wafers = in.open_group("wafers");
  const std::vector<std::string> names = wafers.link_names();
  if (names.empty()) return;
  h5::Group input = output_root.has_group("input") ? output_root.open_group("input")
                                                   : output_root.create_group("input");
  h5::Group copy = input.create_group("wafers");
  for (const auto& name : names) {
    if (!wafers.has_dataset(name))
      throw InputError(input_path + ": /wafers/" + name + " is not a dataset (a hard link to one)");
    const h5::Dataset src = wafers.open_dataset(name);
    const auto dims = src.dims();
    const auto type = src.type();
    if (dims.size() != 1)
      throw InputError(input_path + ": /wafers/" + name + " has " + std::to_string(dims.size()) +
                       " dimensions, expected 1 (one entry per wafer)");
    std::vector<h5::Group*> into = {&copy};
    std::vector<std::string> out_names = {name};
    if (also_into) {
      into.push_back(also_into);
      out_names.push_back(legacy_name(name));
    }
    if (type.type_class == h5::TypeClass::string) {
      copy_strings(src, dims[0], into, out_names);
    } else if (type.type_class == h5::TypeClass::integer || type.type_class == h5::TypeClass::floating) {
      copy_numbers(input_path, src, dims[0], into, out_names);
    } else {
      throw InputError(input_path + ": /wafers/" + name + " is neither numbers nor strings");
    }
  }
}

}  // namespace wafermill::format
