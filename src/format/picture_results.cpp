/// @file picture_results.cpp
/// @brief The picture part of the output file (picture_results.hpp; docs/FORMAT.md).
#include "wafermill/format/picture_results.hpp"

#include <stdexcept>

#include "wafermill/error.hpp"
#include "wafermill/format/h5.hpp"

namespace wafermill::format {
namespace {

/// Chunks of the golden image and per-item arrays: ~1 MiB.
constexpr std::uint64_t kChunkBytes = 1ULL << 20;

void check_size(const std::string& what, std::size_t have, std::uint64_t want) {
  if (have != want)
    throw std::invalid_argument("picture results: " + what + ": " + std::to_string(have) +
                                " values, " + std::to_string(want) + " expected");
}

/// Creates and fills a dataset; chunked by rows of ~1 MiB (shuffle-free, uncompressed:
/// features are doubles that gzip barely shrinks) when larger than one chunk.
template <class T>
void write(h5::Group& g, const std::string& name, h5::Elem type, const std::vector<T>& values,
           const std::vector<std::uint64_t>& dims) {
  std::uint64_t n = 1, row = 1;
  for (auto d : dims) n *= d;
  for (std::size_t i = 1; i < dims.size(); ++i) row *= dims[i];
  check_size(g.path() + "/" + name, values.size(), n);
  h5::DatasetOptions options;
  if (n * sizeof(T) > kChunkBytes && !dims.empty() && dims[0] > 1) {
    options.chunk = dims;
    options.chunk[0] = std::max<std::uint64_t>(1, kChunkBytes / (row * sizeof(T)));
  }
  g.create_dataset(name, type, dims, options).write_all(std::span<const T>(values));
}

void write_maps(h5::Group& root, const MapResults& m) {
  h5::Group g = root.open_group("map_results");
  g.write_string_dataset("feature_names", m.feature_names);
  g.write_string_dataset("pattern_names", m.pattern_names);
  h5::Group shapes = g.create_group("fail_maps");
  for (const auto& s : m.fail_maps) {
    h5::Group one = shapes.create_group(std::to_string(s.rows) + "x" + std::to_string(s.cols));
    one.write_int_attribute("wafers", static_cast<std::int64_t>(s.wafers));
    write(one, "fail_count", h5::Elem::u64, s.fails, {s.rows, s.cols});
    std::vector<double> p(s.fails.size());
    for (std::size_t i = 0; i < p.size(); ++i)
      p[i] = s.wafers ? double(s.fails[i]) / double(s.wafers) : 0.0;
    write(one, "fail_probability", h5::Elem::f64, p, {s.rows, s.cols});
  }
}

void write_images(h5::Group& root, const ImageResults& r) {
  h5::Group g = root.open_group("image_results");
  g.write_int_attribute("golden_images", static_cast<std::int64_t>(r.golden_images));
  g.write_double_attribute("k_sigma", r.k_sigma);
  g.write_double_attribute("std_floor", r.std_floor);
  g.write_int_attribute("min_blob", static_cast<std::int64_t>(r.min_blob));
  g.write_string_dataset("statistic_names", {"mean", "std", "min", "max"});
  g.write_string_dataset("score_names", {"beyond", "blobs", "largest_blob"});
  std::vector<std::uint64_t> dims = {r.height, r.width};
  if (r.channels > 1) dims.push_back(r.channels);
  write(g, "golden_mean", h5::Elem::f64, r.golden_mean, dims);
  write(g, "golden_std", h5::Elem::f64, r.golden_std, dims);
}

}  // namespace

void write_picture_results(h5::Group& root, const PictureResults& results) {
  if (results.maps) write_maps(root, *results.maps);
  if (results.images) write_images(root, *results.images);
}

}  // namespace wafermill::format
