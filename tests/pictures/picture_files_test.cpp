// Picture files end to end without MPI: hostile inputs refused with a message naming file,
// dataset and index; an h5py-written uint16 RGB file read exactly; generated patterns and
// defects recovered by the features.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <unistd.h>
#include <string>

#include "wafermill/error.hpp"
#include "wafermill/format/h5.hpp"
#include "wafermill/format/picture_reader.hpp"
#include "wafermill/generate/maps_images.hpp"
#include "wafermill/pictures/die_map.hpp"
#include "wafermill/pictures/inspection_image.hpp"

namespace wafermill {
namespace {

constexpr const char* kPython = "/usr/bin/python3";

const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() /
             ("wafermill_pictures_" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

// Writes the h5py files once; empty when python with h5py is missing.
std::string python_files() {
  static const std::string dir = [] {
    if (std::system((std::string(kPython) + " -c 'import h5py, numpy' 2>/dev/null").c_str()) != 0)
      return std::string();
    const std::string d = (scratch_dir() / "h5py").string();
    const std::string cmd = std::string(kPython) + " " + WAFERMILL_SOURCE_DIR +
                            "/tests/pictures/write_picture_files.py " + d;
    return std::system(cmd.c_str()) == 0 ? d : std::string();
  }();
  return dir;
}

// Reads every picture index of a file the way the job does.
void read_indexes(const std::string& path) {
  const auto contents = format::probe_contents(path);
  std::optional<std::uint64_t> n_maps;
  if (contents.maps) n_maps = format::read_map_index(path).n_wafers;
  if (contents.images) (void)format::read_image_index(path, n_maps);
}

TEST(PictureFiles, HostileInputsAreRefusedNamingFileDatasetAndIndex) {
  const std::string dir = python_files();
  if (dir.empty()) GTEST_SKIP() << kPython << " with h5py and numpy is not available";
  std::ifstream list(dir + "/hostile.tsv");
  std::string line;
  int cases = 0;
  while (std::getline(list, line)) {
    const auto tab = line.find('\t');
    const std::string name = line.substr(0, tab), expected = line.substr(tab + 1);
    const std::string path = dir + "/" + name + ".h5";
    SCOPED_TRACE(name);
    try {
      read_indexes(path);
      ADD_FAILURE() << "accepted";
    } catch (const InputError& e) {
      const std::string what = e.what();
      EXPECT_EQ(what.rfind(path + ": ", 0), 0u) << what;
      EXPECT_NE(what.find(expected), std::string::npos) << what;
    }
    ++cases;
  }
  EXPECT_EQ(cases, 21);
}

TEST(PictureFiles, NonFilesAreRefused) {
  const std::string missing = (scratch_dir() / "missing.h5").string();
  EXPECT_THROW(format::probe_contents(missing), InputError);
  const std::string text = (scratch_dir() / "text.h5").string();
  std::ofstream(text) << "not hdf5";
  EXPECT_THROW(format::read_map_index(text), InputError);
}

TEST(PictureFiles, Uint16RgbFromH5pyReadsExactly) {
  const std::string dir = python_files();
  if (dir.empty()) GTEST_SKIP() << kPython << " with h5py and numpy is not available";
  const std::string path = dir + "/valid_u16_rgb.h5";
  const auto contents = format::probe_contents(path);
  EXPECT_FALSE(contents.traces);
  EXPECT_TRUE(contents.maps);
  EXPECT_TRUE(contents.images);
  const auto maps = format::read_map_index(path);
  EXPECT_EQ(maps.n_wafers, 2u);
  EXPECT_EQ(maps.rows, (std::vector<std::uint32_t>{2, 3}));
  EXPECT_EQ(maps.cols, (std::vector<std::uint32_t>{3, 2}));
  EXPECT_EQ(maps.offsets, (std::vector<std::uint64_t>{0, 6, 12}));
  const auto round = format::MapIndex::deserialize(maps.serialize(), path);
  EXPECT_EQ(round.offsets, maps.offsets);
  EXPECT_EQ(round.cols, maps.cols);
  const auto images = format::read_image_index(path, maps.n_wafers);
  EXPECT_EQ(images.n_images, 3u);
  EXPECT_EQ(images.height, 4u);
  EXPECT_EQ(images.width, 5u);
  EXPECT_EQ(images.channels, 3u);
  EXPECT_EQ(images.bytes_per_value, 2u);
  EXPECT_EQ(images.wafer, (std::vector<std::int64_t>{1, 0, 1}));
  EXPECT_EQ(format::ImageIndex::deserialize(images.serialize(), path).wafer, images.wafer);

  format::PictureReader reader(path);
  std::vector<std::uint8_t> cells(6);
  reader.read_cells(6, cells);
  EXPECT_EQ(cells, (std::vector<std::uint8_t>{2, 2, 1, 0, 1, 1}));
  std::vector<std::uint16_t> px(images.values_per_image());
  reader.read_image(images, 2, px);
  for (std::size_t j = 0; j < px.size(); ++j)
    ASSERT_EQ(px[j], (2 * px.size() + j) * 997 % 65536) << j;
  EXPECT_EQ(reader.bytes_read(), 6u + 4 * 5 * 3 * 2);
}

// The generated file of the recovery tests.
struct Generated {
  std::string path;
  generate::PictureResult result;
};
const Generated& generated() {
  static const Generated g = [] {
    generate::PictureOptions o;
    o.output = (scratch_dir() / "generated.h5").string();
    o.force = true;
    o.n_maps = 900;
    o.pattern_fraction = 0.8;
    o.n_images = 80;
    o.image_height = 40;
    o.image_width = 56;
    o.rgb = true;
    o.defect_fraction = 0.25;
    o.seed = 42;
    return Generated{o.output, generate::generate_pictures(o)};
  }();
  return g;
}

std::vector<std::uint8_t> truth(const std::string& path, const std::string& name) {
  return format::h5::File::open_read(path).open_group("truth").open_dataset(name).read_all<std::uint8_t>();
}

TEST(PictureFiles, GeneratedPatternsAreRecovered) {
  const auto& g = generated();
  EXPECT_EQ(g.result.n_maps, 900u);
  const auto index = format::read_map_index(g.path);
  ASSERT_EQ(index.n_wafers, 900u);
  const auto planted = truth(g.path, "map_pattern");
  format::PictureReader reader(g.path);
  std::vector<std::uint8_t> cells;
  std::vector<std::uint32_t> scratch;
  std::map<int, std::pair<int, int>> per_class;  // pattern -> (recovered, planted)
  int shapes_seen = 0;
  std::set<std::pair<std::uint32_t, std::uint32_t>> shapes;
  for (std::uint64_t w = 0; w < index.n_wafers; ++w) {
    cells.resize(index.cells(w));
    reader.read_cells(index.offsets[w], cells);
    const auto f = pictures::map_features({cells, index.rows[w], index.cols[w]}, scratch);
    const auto found = pictures::classify_pattern(f);
    auto& [ok, n] = per_class[planted[w]];
    ok += static_cast<int>(found) == planted[w];
    ++n;
    shapes.insert({index.rows[w], index.cols[w]});
  }
  shapes_seen = static_cast<int>(shapes.size());
  EXPECT_EQ(shapes_seen, 3);
  ASSERT_EQ(per_class.size(), 9u);
  int ok_all = 0;
  for (const auto& [pattern, counts] : per_class) {
    SCOPED_TRACE(std::string(pictures::pattern_name(static_cast<pictures::MapPattern>(pattern))));
    EXPECT_GE(counts.second, 40);
    // Recall per pattern: the rules are a transparent baseline, not a perfect classifier.
    EXPECT_GE(double(counts.first) / counts.second, 0.85)
        << counts.first << " of " << counts.second;
    ok_all += counts.first;
  }
  EXPECT_GE(ok_all / 900.0, 0.93);
}

TEST(PictureFiles, GeneratedDefectsAreFoundAgainstTheGoldenImage) {
  const auto& g = generated();
  const auto index = format::read_image_index(g.path, 900);
  ASSERT_EQ(index.n_images, 80u);
  EXPECT_EQ(index.channels, 3u);
  EXPECT_EQ(index.bytes_per_value, 1u);
  const auto defects = truth(g.path, "image_defects");
  format::PictureReader reader(g.path);
  std::vector<std::uint16_t> px(index.values_per_image());
  pictures::GoldenSums sums(px.size());
  for (std::uint64_t i = 0; i < index.n_images; ++i) {
    reader.read_image(index, i, px);
    sums.add(px);
  }
  const auto golden = pictures::finalize_golden(sums);
  std::vector<std::uint8_t> mask;
  std::vector<std::uint32_t> scratch;
  int agree = 0, defective = 0;
  for (std::uint64_t i = 0; i < index.n_images; ++i) {
    reader.read_image(index, i, px);
    const auto s = pictures::score_image({px, index.height, index.width, 3}, golden, {}, mask, scratch);
    agree += s.flagged == (defects[i] > 0);
    defective += defects[i] > 0;
  }
  EXPECT_GE(defective, 10);
  EXPECT_GE(agree, 78) << "flags agreeing with the planted truth, of 80";
}

TEST(PictureFiles, GeneratorIsDeterministicAndRefusesNonsense) {
  generate::PictureOptions o;
  o.output = (scratch_dir() / "det.h5").string();
  o.force = true;
  o.n_maps = 50;
  o.n_images = 3;
  o.seed = 9;
  generate::generate_pictures(o);
  const auto a = truth(o.output, "map_pattern");
  generate::generate_pictures(o);
  EXPECT_EQ(truth(o.output, "map_pattern"), a);
  o.force = false;
  EXPECT_THROW(generate::generate_pictures(o), UsageError);
  o.force = true;
  o.pattern_fraction = 2;
  EXPECT_THROW(generate::generate_pictures(o), UsageError);
}

}  // namespace
}  // namespace wafermill
