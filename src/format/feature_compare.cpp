/// @file feature_compare.cpp
/// @brief compare_feature_files: bit-for-bit comparison of two output files' results, used to
/// check that runs with different rank counts, policies or backends agree exactly.
#include <algorithm>
#include <cstring>
#include <optional>
#include <set>

#include "wafermill/error.hpp"
#include "wafermill/format/feature_file.hpp"
#include "wafermill/format/h5.hpp"

namespace wafermill::format {
namespace {

/// Bytes compared per read.
constexpr std::uint64_t kCompareBytes = 16ULL << 20;

std::optional<h5::Dataset> find(const h5::File& f, const std::string& group,
                                const std::string& name) {
  if (!f.has_group(group)) return std::nullopt;
  const h5::Group g = f.open_group(group);
  if (!g.has_dataset(name)) return std::nullopt;
  return g.open_dataset(name);
}

std::string index_text(std::uint64_t flat, const std::vector<std::uint64_t>& dims) {
  std::vector<std::uint64_t> idx(dims.size());
  for (std::size_t i = dims.size(); i-- > 0;) {
    idx[i] = dims[i] ? flat % dims[i] : 0;
    flat = dims[i] ? flat / dims[i] : 0;
  }
  std::string s = "[";
  for (std::size_t i = 0; i < idx.size(); ++i) s += (i ? ", " : "") + std::to_string(idx[i]);
  return s + "]";
}

bool same_type(const h5::TypeInfo& x, const h5::TypeInfo& y) {
  return x.type_class == y.type_class && x.size == y.size && x.is_signed == y.is_signed;
}

/// First difference of two numeric datasets of equal shape and type, read in slabs of rows.
std::optional<std::string> compare_numeric(const h5::Dataset& a, const h5::Dataset& b,
                                           const std::string& object) {
  const auto dims = a.dims();
  const h5::Handle mem = a.memory_type();
  const std::size_t elem = H5Tget_size(mem.id());
  if (dims.empty()) {
    std::vector<unsigned char> x(elem), y(elem);
    a.read_hyperslab(mem.id(), x.data(), {}, {});
    b.read_hyperslab(mem.id(), y.data(), {}, {});
    if (x != y) return object + ": scalar values differ";
    return std::nullopt;
  }
  std::uint64_t row_elems = 1;
  for (std::size_t i = 1; i < dims.size(); ++i) row_elems *= dims[i];
  const std::uint64_t rows_per_read =
      std::max<std::uint64_t>(1, kCompareBytes / std::max<std::uint64_t>(row_elems * elem, 1));
  std::vector<unsigned char> x, y;
  for (std::uint64_t first = 0; first < dims[0]; first += rows_per_read) {
    const std::uint64_t n = std::min(rows_per_read, dims[0] - first);
    std::vector<std::uint64_t> offset(dims.size(), 0), count = dims;
    offset[0] = first;
    count[0] = n;
    x.resize(n * row_elems * elem);
    y.resize(x.size());
    a.read_hyperslab(mem.id(), x.data(), offset, count);
    b.read_hyperslab(mem.id(), y.data(), offset, count);
    if (std::memcmp(x.data(), y.data(), x.size()) == 0) continue;
    const auto at = std::mismatch(x.begin(), x.end(), y.begin());
    const std::uint64_t flat = first * row_elems + (at.first - x.begin()) / elem;
    // The values as doubles, for the reader of the message (the comparison was on bits).
    std::vector<std::uint64_t> one_offset(dims.size()), one_count(dims.size(), 1);
    std::uint64_t rest = flat;
    for (std::size_t i = dims.size(); i-- > 0;) {
      one_offset[i] = rest % dims[i];
      rest /= dims[i];
    }
    double va = 0, vb = 0;
    a.read(std::span<double>(&va, 1), one_offset, one_count);
    b.read(std::span<double>(&vb, 1), one_offset, one_count);
    char text[96];
    std::snprintf(text, sizeof text, ": %.17g vs %.17g", va, vb);
    return object + index_text(flat, dims) + text;
  }
  return std::nullopt;
}

std::optional<std::string> compare_dataset(const h5::File& fa, const h5::File& fb,
                                           const std::string& group, const std::string& name) {
  const std::string object = "/" + group + "/" + name;
  const auto a = find(fa, group, name);
  const auto b = find(fb, group, name);
  if (!a && !b) return std::nullopt;
  if (!a || !b) {
    return object + ": present in " + (a ? fa.file() : fb.file()) + " only";
  }
  const auto da = a->dims();
  const auto db = b->dims();
  if (da != db) return object + ": shapes differ";
  const auto ta = a->type();
  const auto tb = b->type();
  if (!same_type(ta, tb)) return object + ": types differ";
  if (ta.type_class == h5::TypeClass::string) {
    if (da.size() != 1) return object + ": not a 1-D string dataset";
    const auto sa = a->read_strings(0, da[0]);
    const auto sb = b->read_strings(0, db[0]);
    const auto at = std::mismatch(sa.begin(), sa.end(), sb.begin());
    if (at.first == sa.end()) return std::nullopt;
    return object + "[" + std::to_string(at.first - sa.begin()) + "]: '" + *at.first + "' vs '" +
           *at.second + "'";
  }
  return compare_numeric(*a, *b, object);
}

std::set<std::string> link_names(const h5::Group& parent, const std::string& group) {
  if (!parent.has_group(group)) return {};
  const auto names = parent.open_group(group).link_names();
  return {names.begin(), names.end()};
}

/// Every dataset under `group` (recursively: /map_results/fail_maps/<shape>/...) of either
/// file, compared; a dataset or group present in one file only is a difference.
std::optional<std::string> compare_tree(const h5::Group& a, const h5::Group& b, const std::string& group,
                                        const std::string& path) {
  std::set<std::string> names = link_names(a, group);
  names.merge(link_names(b, group));
  if (names.empty()) return std::nullopt;
  if (!a.has_group(group) || !b.has_group(group))
    return path + ": present in " + (a.has_group(group) ? a.file() : b.file()) + " only";
  const h5::Group ga = a.open_group(group), gb = b.open_group(group);
  for (const auto& name : names) {
    const std::string child = path + "/" + name;
    if (ga.has_group(name) || gb.has_group(name)) {
      if (auto d = compare_tree(ga, gb, name, child)) return d;
      continue;
    }
    const bool in_a = ga.has_dataset(name), in_b = gb.has_dataset(name);
    if (!in_a || !in_b) return child + ": present in " + (in_a ? a.file() : b.file()) + " only";
    const h5::Dataset da = ga.open_dataset(name), db = gb.open_dataset(name);
    if (da.dims() != db.dims()) return child + ": shapes differ";
    if (!same_type(da.type(), db.type())) return child + ": types differ";
    if (da.type().type_class == h5::TypeClass::string) {
      const auto n = da.dims().empty() ? 0 : da.dims()[0];
      if (da.read_strings(0, n) != db.read_strings(0, n)) return child + ": strings differ";
      continue;
    }
    if (auto d = compare_numeric(da, db, child)) return d;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> compare_feature_files(const std::string& a, const std::string& b) {
  const h5::File fa = h5::File::open_read(a);
  const h5::File fb = h5::File::open_read(b);
  const std::pair<const char*, const char*> fixed[] = {
      {"features", "values"},       {"features", "by_step"}, {"features", "names"},
      {"features", "sensor_names"}, {"wafers", "score"},     {"wafers", "flag"},
      {"wafers", "t2"},             {"wafers", "spe"},       {"wafers", "reason"},
      {"wafers", "contrib_column"}, {"wafers", "contrib_share"}};
  for (const auto& [group, name] : fixed) {
    if (auto d = compare_dataset(fa, fb, group, name)) return d;
  }
  for (const char* group : {"summary", "map_results", "image_results"}) {
    if (auto d = compare_tree(fa, fb, group, std::string("/") + group)) return d;
  }
  return std::nullopt;
}

}  // namespace wafermill::format
