#include "wafermill/format/datasets.hpp"

#include <algorithm>

#include "wafermill/error.hpp"
#include "wafermill/format/h5.hpp"

namespace wafermill::format {
namespace {

// Splits "/summary/feature_hist" into its group path and dataset name, and opens it.
h5::Dataset open_path(const h5::File& file, const std::string& dataset) {
  std::string path = dataset;
  if (!path.empty() && path.front() == '/') path.erase(0, 1);
  h5::Group group = file.open_group("/");
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = path.find('/', start);
    const std::string part = path.substr(start, slash == std::string::npos ? slash : slash - start);
    if (slash == std::string::npos) {
      if (!group.has_dataset(part))
        throw InputError(file.file() + ": " + dataset + " does not exist");
      return group.open_dataset(part);
    }
    if (!group.has_group(part)) throw InputError(file.file() + ": " + dataset + " does not exist");
    group = group.open_group(part);
    start = slash + 1;
  }
}

}  // namespace

std::optional<std::vector<std::uint8_t>> read_wafer_labels(const TraceIndex& index) {
  return read_wafer_labels(index, 0, index.n_wafers);
}

namespace {

// Labels [first, first + n) of one file of `n_wafers` wafers.
std::optional<std::vector<std::uint8_t>> read_file_labels(const std::string& path,
                                                          std::uint64_t n_wafers,
                                                          std::uint64_t first, std::uint64_t n) {
  const h5::File file = h5::File::open_read(path);
  if (!file.has_group("wafers")) return std::nullopt;
  const h5::Group wafers = file.open_group("wafers");
  if (!wafers.has_dataset("label")) return std::nullopt;
  const h5::Dataset d = wafers.open_dataset("label");
  const auto type = d.type();
  if (type.type_class != h5::TypeClass::integer && type.type_class != h5::TypeClass::floating)
    throw InputError(path + ": /wafers/label must be numeric (0 good, 1 bad)");
  const auto dims = d.dims();
  if (dims.size() != 1 || dims[0] != n_wafers)
    throw InputError(path + ": /wafers/label must have n_wafers = " + std::to_string(n_wafers) +
                     " elements");
  std::vector<double> values(n);
  if (n > 0) d.read(std::span<double>(values), {first}, {n});
  std::vector<std::uint8_t> labels(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) labels[i] = values[i] != 0.0 ? 1 : 0;
  return labels;
}

}  // namespace

std::optional<std::vector<std::uint8_t>> read_wafer_labels(const TraceIndex& index,
                                                           std::uint64_t first, std::uint64_t n) {
  if (first + n > index.n_wafers)
    throw std::invalid_argument("read_wafer_labels: wafers beyond n_wafers");
  // The index read them (read_trace_index, merge_trace_indexes).
  if (index.has_labels && index.labels.size() == index.n_wafers)
    return std::vector<std::uint8_t>(index.labels.begin() + static_cast<std::ptrdiff_t>(first),
                                     index.labels.begin() + static_cast<std::ptrdiff_t>(first + n));
  // Several files: merge_trace_indexes keeps labels exactly when every file has them as numbers
  // (the per-file read above found them), so an index without them has none to read.
  if (!index.sources.empty()) return std::nullopt;
  return read_file_labels(index.path, index.n_wafers, first, n);
}

std::optional<std::vector<std::string>> read_wafer_strings(const std::string& path,
                                                           const std::string& name,
                                                           std::uint64_t n) {
  const h5::File file = h5::File::open_read(path);
  if (!file.has_group("wafers")) return std::nullopt;
  const h5::Group wafers = file.open_group("wafers");
  if (!wafers.has_dataset(name)) return std::nullopt;
  const h5::Dataset d = wafers.open_dataset(name);
  const auto dims = d.dims();
  if (d.type().type_class != h5::TypeClass::string || dims.size() != 1 || dims[0] != n)
    throw InputError(path + ": /wafers/" + name + " must be a 1-D string dataset of " +
                     std::to_string(n) + " entries");
  return d.read_strings(0, n);
}

std::vector<std::uint64_t> read_u64_dataset(const std::string& path, const std::string& dataset,
                                            std::vector<std::uint64_t>* dims) {
  const h5::File file = h5::File::open_read(path);
  const h5::Dataset d = open_path(file, dataset);
  const auto type = d.type();
  if (type.type_class != h5::TypeClass::integer || type.is_signed)
    throw InputError(path + ": " + dataset + " is not an unsigned integer dataset");
  if (dims) *dims = d.dims();
  return d.read_all<std::uint64_t>();
}

std::vector<double> read_f64_dataset(const std::string& path, const std::string& dataset,
                                     std::vector<std::uint64_t>* dims) {
  const h5::File file = h5::File::open_read(path);
  const h5::Dataset d = open_path(file, dataset);
  const auto type = d.type();
  if (type.type_class != h5::TypeClass::integer && type.type_class != h5::TypeClass::floating)
    throw InputError(path + ": " + dataset + " is not numeric");
  if (dims) *dims = d.dims();
  return d.read_all<double>();
}

}  // namespace wafermill::format
