/// @file image_index.cpp
/// @brief Reading and validating /images (docs/FORMAT.md "Maps and images").
#include "wafermill/format/image_index.hpp"

#include <stdexcept>

#include "picture_checks.hpp"
#include "wafermill/error.hpp"

namespace wafermill::format {
namespace {

ImageIndex inspect(const detail::PictureChecker& check, std::optional<std::uint64_t> n_map_wafers) {
  ImageIndex index;
  index.path = check.path();
  const h5::Group images = check.group("images");
  const std::string pixels_path = images.path() + "/pixels";
  // The rank decides grey or RGB, so look at it before the full checks.
  const auto pixel_rule = [](const h5::TypeInfo& t) {
    return t.type_class == h5::TypeClass::integer && !t.is_signed && (t.size == 1 || t.size == 2)
               ? ""
               : "uint8 or uint16";
  };
  std::size_t rank = 3;
  if (images.has_dataset("pixels") && images.link_kind("pixels") == h5::LinkKind::hard) {
    const auto dims = images.open_dataset("pixels").dims();
    if (dims.size() == 4) rank = 4;
  }
  const auto pixels = check.dataset(images, "pixels", rank, pixel_rule);
  const auto& d = pixels.dims;
  if (rank == 4 && d[3] != 3)
    check.fail(pixels_path, "has shape " + detail::dims_text(d) +
                                ", expected [n_images, height, width] or [n_images, height, width, 3]");
  if (d[1] < 1 || d[2] < 1 || d[1] > kMaxImageSide || d[2] > kMaxImageSide)
    check.fail(pixels_path, "has shape " + detail::dims_text(d) + ": height and width must be 1.." +
                                std::to_string(kMaxImageSide));
  index.n_images = d[0];
  index.height = static_cast<std::uint32_t>(d[1]);
  index.width = static_cast<std::uint32_t>(d[2]);
  index.channels = rank == 4 ? 3 : 1;
  index.bytes_per_value = static_cast<std::uint32_t>(pixels.type.size);
  if (index.values_per_image() > kMaxImageValues)
    check.fail(pixels_path, "has " + std::to_string(index.values_per_image()) +
                                " values per image, more than " + std::to_string(kMaxImageValues));

  const auto wafer = check.dataset(images, "wafer", 1, [](const h5::TypeInfo& t) {
    return t.type_class == h5::TypeClass::integer && t.size <= 8 ? "" : "an integer type (int64)";
  });
  if (wafer.dims[0] != index.n_images)
    check.fail(wafer.dataset.path(), "has " + std::to_string(wafer.dims[0]) +
                                         " entries, expected n_images = " +
                                         std::to_string(index.n_images));
  index.wafer = check.read_int64(wafer);
  for (std::uint64_t i = 0; i < index.n_images; ++i) {
    const std::int64_t w = index.wafer[i];
    if (w < 0 || (n_map_wafers && static_cast<std::uint64_t>(w) >= *n_map_wafers))
      check.fail_element(wafer.dataset.path(), i, std::to_string(w),
                 ", expected a wafer id >= 0" +
                     (n_map_wafers ? " and below the " + std::to_string(*n_map_wafers) +
                                         " wafers of /maps"
                                   : std::string()));
  }
  return index;
}

}  // namespace

std::vector<std::uint64_t> ImageIndex::serialize() const {
  std::vector<std::uint64_t> out = {n_images, height, width, channels, bytes_per_value};
  for (auto w : wafer) out.push_back(static_cast<std::uint64_t>(w));
  return out;
}

ImageIndex ImageIndex::deserialize(std::span<const std::uint64_t> words, std::string path) {
  if (words.size() < 5 || words.size() - 5 != words[0])
    throw std::runtime_error("ImageIndex::deserialize: malformed buffer");
  ImageIndex m;
  m.path = std::move(path);
  m.n_images = words[0];
  m.height = static_cast<std::uint32_t>(words[1]);
  m.width = static_cast<std::uint32_t>(words[2]);
  m.channels = static_cast<std::uint32_t>(words[3]);
  m.bytes_per_value = static_cast<std::uint32_t>(words[4]);
  for (std::size_t i = 5; i < words.size(); ++i) m.wafer.push_back(static_cast<std::int64_t>(words[i]));
  return m;
}

ImageIndex read_image_index(const std::string& path, std::optional<std::uint64_t> n_map_wafers) {
  ImageIndex index;
  detail::as_input_errors(path, [&] {
    const detail::PictureChecker check(path);
    index = inspect(check, n_map_wafers);
  });
  return index;
}

}  // namespace wafermill::format
