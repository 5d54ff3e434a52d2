/// @file h5_test.cpp
/// @brief The HDF5 layer: round trips through the wrappers and typed, located errors.
#include <gtest/gtest.h>

#include "sample_files.hpp"
#include "wafermill/error.hpp"
#include "wafermill/format/h5.hpp"

namespace wafermill::format {
namespace {

using testing::temp_path;

TEST(H5, HyperslabsOfEveryElementTypeRoundTrip) {
  const std::string path = temp_path("types.h5");
  {
    h5::File f = h5::File::create(path);
    h5::Group g = f.create_group("g");
    g.create_dataset("f32", h5::Elem::f32, {2, 3}, {.chunk = {1, 3}, .deflate_level = 4})
        .write(std::span<const float>(std::vector<float>{1.5f, 2.5f, 3.5f}), {1, 0}, {1, 3});
    g.create_dataset("i64", h5::Elem::i64, {4})
        .write_all(std::span<const std::int64_t>(std::vector<std::int64_t>{-1, 2, -3, 1LL << 60}));
    g.create_dataset("u64", h5::Elem::u64, {2})
        .write_all(std::span<const std::uint64_t>(std::vector<std::uint64_t>{UINT64_MAX, 7}));
    g.create_dataset("u8", h5::Elem::u8, {2, 1, 2}, {.chunk = {1, 1, 2}, .fletcher32 = true})
        .write_all(std::span<const std::uint8_t>(std::vector<std::uint8_t>{1, 2, 3, 255}));
    g.create_dataset("i32", h5::Elem::i32, {1})
        .write_all(std::span<const std::int32_t>(std::vector<std::int32_t>{-5}));
    g.create_dataset("f64", h5::Elem::f64, {1})
        .write_all(std::span<const double>(std::vector<double>{0.1}));
    g.write_string_dataset("names", {"alpha", "", "ünïcode"});
    g.write_strings_attribute("list", {"x", "yy"});
    g.write_string_attribute("one", "value");
    g.write_int_attribute("n", -42);
    g.write_int_attribute("n", 43);  // replaces
    f.write_double_attribute("pi", 3.25);
  }
  const h5::File f = h5::File::open_read(path);
  const h5::Group g = f.open_group("g");
  std::vector<float> row(3);
  g.open_dataset("f32").read(std::span<float>(row), {1, 0}, {1, 3});
  EXPECT_EQ(row, (std::vector<float>{1.5f, 2.5f, 3.5f}));
  EXPECT_EQ(g.open_dataset("i64").read_all<std::int64_t>(),
            (std::vector<std::int64_t>{-1, 2, -3, 1LL << 60}));
  EXPECT_EQ(g.open_dataset("u64").read_all<std::uint64_t>(),
            (std::vector<std::uint64_t>{UINT64_MAX, 7}));
  EXPECT_EQ(g.open_dataset("u8").read_all<std::uint8_t>(),
            (std::vector<std::uint8_t>{1, 2, 3, 255}));
  EXPECT_EQ(g.open_dataset("i32").read_all<std::int32_t>(), (std::vector<std::int32_t>{-5}));
  EXPECT_EQ(g.open_dataset("f64").read_all<double>(), (std::vector<double>{0.1}));
  EXPECT_EQ(g.open_dataset("names").read_strings(0, 3),
            (std::vector<std::string>{"alpha", "", "ünïcode"}));
  EXPECT_EQ(g.read_strings_attribute("list"), (std::vector<std::string>{"x", "yy"}));
  EXPECT_EQ(g.read_string_attribute("one"), "value");
  EXPECT_EQ(g.read_int_attribute("n"), 43);
  EXPECT_TRUE(f.has_attribute("pi"));
  const h5::StorageInfo st = g.open_dataset("u8").storage();
  EXPECT_EQ(st.layout, h5::Layout::chunked);
  EXPECT_EQ(st.chunk, (std::vector<std::uint64_t>{1, 1, 2}));
  EXPECT_EQ(st.filters, (std::vector<int>{H5Z_FILTER_FLETCHER32}));
  EXPECT_EQ(g.link_names(),
            (std::vector<std::string>{"f32", "f64", "i32", "i64", "names", "u64", "u8"}));
  EXPECT_EQ(g.link_kind("nothing"), h5::LinkKind::none);
  EXPECT_TRUE(g.has_dataset("f32"));
  EXPECT_FALSE(f.has_dataset("g"));
  EXPECT_TRUE(f.has_group("g"));
}

TEST(H5, FixedLengthStringsAreReadWithoutPadding) {
  const std::string path = temp_path("fixed.h5");
  {
    h5::File f = h5::File::create(path);
    h5::Handle type(H5Tcopy(H5T_C_S1), h5::HandleKind::datatype);
    ASSERT_GE(H5Tset_size(type.id(), 6), 0);
    ASSERT_GE(H5Tset_strpad(type.id(), H5T_STR_NULLPAD), 0);
    const hsize_t n = 2;
    h5::Handle space(H5Screate_simple(1, &n, nullptr), h5::HandleKind::dataspace);
    h5::Handle attr(H5Acreate2(f.id(), "names", type.id(), space.id(), H5P_DEFAULT, H5P_DEFAULT),
                    h5::HandleKind::attribute);
    const char data[12] = {'a', 'b', 0, 0, 0, 0, 's', 'i', 'x', 'c', 'h', 'r'};
    ASSERT_GE(H5Awrite(attr.id(), type.id(), data), 0);
  }
  const h5::File f = h5::File::open_read(path);
  EXPECT_EQ(f.read_strings_attribute("names"), (std::vector<std::string>{"ab", "sixchr"}));
  const h5::TypeInfo t = f.attribute_type("names");
  EXPECT_EQ(t.type_class, h5::TypeClass::string);
  EXPECT_FALSE(t.variable_string);
}

TEST(H5, ErrorsNameFileObjectAndCarryTheStack) {
  const std::string path = temp_path("errors.h5");
  {
    h5::File f = h5::File::create(path);
    f.create_group("g");
    f.create_dataset("d", h5::Elem::f64, {4});
  }
  const h5::File f = h5::File::open_read(path);
  try {
    (void)f.open_group("g").open_dataset("missing");
    FAIL() << "no exception";
  } catch (const HdfError& e) {
    EXPECT_EQ(e.file(), path);
    EXPECT_EQ(e.object(), "/g/missing");
    const std::string what = e.what();
    EXPECT_NE(what.find(path + ": /g/missing: H5Dopen2 failed"), std::string::npos) << what;
    EXPECT_NE(what.find("HDF5 error stack"), std::string::npos) << what;
  }
  std::vector<double> small(2);
  const h5::Dataset d = f.open_dataset("d");
  EXPECT_THROW(d.read(std::span<double>(small), {3}, {2}), HdfError);  // past the extent
  EXPECT_THROW(d.read(std::span<double>(small), {0}, {3}), HdfError);  // buffer too small
  EXPECT_THROW(h5::File::open_read(temp_path("no-such-file.h5")), HdfError);
}

TEST(H5, CloseRefusesWhileObjectsAreOpen) {
  const std::string path = temp_path("close.h5");
  h5::File f = h5::File::create(path);
  h5::Group g = f.create_group("g");
  EXPECT_THROW(f.close(), HdfError);
  g = h5::Group();
  EXPECT_NO_THROW(f.close());
}

TEST(H5, CreatedFilesUseThe110FormatWithChecksums) {
  const std::string path = temp_path("libver.h5");
  { h5::File f = h5::File::create(path); }
  const h5::File f = h5::File::open_read(path);
  h5::Handle fcpl(H5Fget_create_plist(f.id()), h5::HandleKind::plist);
  unsigned super = 0;
  H5F_info2_t info{};
  ASSERT_GE(H5Fget_info2(f.id(), &info), 0);
  super = info.super.version;
  EXPECT_GE(super, 3u);  // superblock v3: checksummed, written by libver >= 1.10
}

}  // namespace
}  // namespace wafermill::format
