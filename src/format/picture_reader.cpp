/// @file picture_reader.cpp
/// @brief Hyperslab reads of die-map cells and inspection images.
#include "wafermill/format/picture_reader.hpp"

#include <optional>

#include "picture_checks.hpp"
#include "wafermill/error.hpp"
#include "wafermill/format/h5.hpp"

namespace wafermill::format {

FileContents probe_contents(const std::string& path) { return probe_contents(path, nullptr); }

FileContents probe_contents(const std::string& path, h5::File* open) {
  FileContents c;
  detail::as_input_errors(path, [&] {
    detail::PictureChecker check(path);
    c.traces = check.file().link_kind("traces") != h5::LinkKind::none;
    c.maps = check.file().link_kind("maps") != h5::LinkKind::none;
    c.images = check.file().link_kind("images") != h5::LinkKind::none;
    if (open != nullptr) *open = check.release_file();
  });
  return c;
}

struct PictureReader::Handles {
  h5::File file;
  std::optional<h5::Dataset> cells, pixels;
};

PictureReader::PictureReader(const std::string& path)
    : h_(std::make_unique<Handles>()), path_(path) {
  detail::as_input_errors(path, [&] { h_->file = h5::File::open_read(path); });
}

PictureReader::~PictureReader() = default;

void PictureReader::read_cells(std::uint64_t first, std::span<std::uint8_t> out) {
  if (out.empty()) return;
  try {
    if (!h_->cells) h_->cells = h_->file.open_group("maps").open_dataset("cells");
    h_->cells->read(out, {first}, {out.size()});
  } catch (const HdfError& e) {
    throw InputError(path_ + ": /maps/cells[" + std::to_string(first) + ", " +
                     std::to_string(first + out.size()) + "): read failed: " + e.what());
  }
  bytes_read_ += out.size();
}

void PictureReader::read_image(const ImageIndex& index, std::uint64_t i,
                               std::span<std::uint16_t> out) {
  if (out.size() != index.values_per_image())
    throw std::invalid_argument("PictureReader::read_image: buffer of the wrong size");
  try {
    if (!h_->pixels) {
      // One image's chunk (the writer chunks per image) stays in the cache while it is read.
      h_->pixels = h_->file.open_group("images").open_dataset(
          "pixels",
          h5::ChunkCache{521, static_cast<std::size_t>(index.image_bytes()) + (1U << 20)});
    }
    std::vector<std::uint64_t> offset = {i, 0, 0}, count = {1, index.height, index.width};
    if (index.channels == 3) {
      offset.push_back(0);
      count.push_back(3);
    }
    h_->pixels->read_hyperslab(H5T_NATIVE_UINT16, out.data(), offset, count);
  } catch (const HdfError& e) {
    throw InputError(path_ + ": /images/pixels[" + std::to_string(i) +
                     "]: read failed: " + e.what());
  }
  bytes_read_ += index.image_bytes();
}

}  // namespace wafermill::format
