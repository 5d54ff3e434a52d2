/// @file input_list_test.cpp
/// @brief `--input` specifications expanded to files: each form, the order, files named twice,
/// and the messages for what does not exist (format/input_list.hpp).
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "wafermill/error.hpp"
#include "wafermill/format/input_list.hpp"

namespace wafermill::format {
namespace {

namespace fs = std::filesystem;
using Files = std::vector<std::string>;

class InputList : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("wm_input_list_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  /// Creates an (empty) file under the test directory and returns its path.
  std::string touch(const std::string& rel) {
    const fs::path p = dir_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << "x";
    return p.string();
  }
  std::string write(const std::string& rel, const std::string& text) {
    const fs::path p = dir_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }
  std::string path(const std::string& rel) const { return (dir_ / rel).string(); }

  fs::path dir_;
};

/// The message of the UsageError that expand_inputs throws (fails the test when none).
std::string error_of(const Files& specs) {
  try {
    expand_inputs(specs);
  } catch (const UsageError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no UsageError for " << ::testing::PrintToString(specs);
  return "";
}

#define EXPECT_HAS(text, part) EXPECT_NE((text).find(part), std::string::npos) << (text)

TEST_F(InputList, FilesKeepTheOrderGiven) {
  const auto b = touch("b.h5"), a = touch("a.h5"), c = touch("c.hdf5");
  EXPECT_EQ(expand_inputs({b, a, c}), (Files{b, a, c}));
  EXPECT_EQ(expand_inputs({a}), (Files{a}));
  // A file given by name needs no trace suffix.
  const auto other = touch("traces.dat");
  EXPECT_EQ(expand_inputs({other, a}), (Files{other, a}));
}

TEST_F(InputList, DirectoryListsItsTraceFilesSortedAndNotRecursive) {
  touch("night/b.h5");
  touch("night/a.hdf5");
  touch("night/c.h5");
  touch("night/notes.txt");
  touch("night/.hidden.h5");
  touch("night/out.h5.tmp.123");
  touch("night/sub/d.h5");                       // not recursive
  fs::create_directories(path("night/dir.h5"));  // a directory, not a file
  fs::create_symlink(path("night/c.h5"), path("night/e.h5"));
  // e.h5 is a link to c.h5: one file named twice.
  EXPECT_HAS(error_of({path("night")}), "named twice");
  fs::remove(path("night/e.h5"));
  const Files got = expand_inputs({path("night")});
  EXPECT_EQ(got, (Files{path("night/a.hdf5"), path("night/b.h5"), path("night/c.h5")}));
  // With a trailing separator: the same files.
  EXPECT_EQ(expand_inputs({path("night") + "/"}).size(), 3u);
}

TEST_F(InputList, EmptyDirectoryIsAnErrorNamingIt) {
  fs::create_directories(path("empty"));
  touch("empty/readme.txt");
  const std::string e = error_of({path("empty")});
  EXPECT_HAS(e, path("empty"));
  EXPECT_HAS(e, "holds no trace files");
}

TEST_F(InputList, GlobIsSortedAndSkipsDirectories) {
  const auto x2 = touch("g/x2.h5"), x10 = touch("g/x10.h5"), x1 = touch("g/x1.h5");
  touch("g/y1.h5");
  fs::create_directories(path("g/x3.h5"));
  EXPECT_EQ(expand_inputs({path("g/x*.h5")}), (Files{x1, x10, x2}));  // bytewise
  EXPECT_EQ(expand_inputs({path("g/x?.h5")}), (Files{x1, x2}));
  EXPECT_EQ(expand_inputs({path("g/x[12].h5")}), (Files{x1, x2}));
}

TEST_F(InputList, GlobMatchingNothingIsAnErrorNamingIt) {
  touch("g/a.h5");
  const std::string spec = path("g/z*.h5");
  const std::string e = error_of({path("g/a.h5"), spec});
  EXPECT_HAS(e, spec);
  EXPECT_HAS(e, "matches no file");
  // Only directories match: no file either.
  fs::create_directories(path("g/zz.h5"));
  EXPECT_HAS(error_of({spec}), "matches no file");
}

TEST_F(InputList, ExistingNameWithPatternCharactersIsAFile) {
  const auto odd = touch("lot[7].h5");
  touch("lot7.h5");
  EXPECT_EQ(expand_inputs({odd}), (Files{odd}));
}

TEST_F(InputList, ManifestPathsAreRelativeToIt) {
  const auto a = touch("data/a.h5"), b = touch("data/sub/b.h5"), abs = touch("elsewhere/c.h5");
  const auto m = write("data/night.txt",
                       "# last night\n"
                       "\n"
                       "  sub/b.h5  \n"
                       "a.h5\n"
                       "\t# indented comment\n" +
                           abs + "\r\n");
  EXPECT_EQ(expand_inputs({"@" + m}), (Files{path("data/sub/b.h5"), path("data/a.h5"), abs}));
  (void)a;
  (void)b;
}

TEST_F(InputList, ManifestInTheWorkingDirectoryKeepsPathsAsListed) {
  const auto a = touch("a.h5");
  const fs::path old = fs::current_path();
  fs::current_path(dir_);
  write("m.txt", "a.h5\n");
  Files got;
  std::string error;
  try {
    got = expand_inputs({"@m.txt"});
  } catch (const std::exception& e) {
    error = e.what();
  }
  fs::current_path(old);
  EXPECT_EQ(error, "");
  EXPECT_EQ(got, (Files{"a.h5"}));
  (void)a;
}

TEST_F(InputList, ManifestErrorsNameTheLine) {
  touch("a.h5");
  const auto m = write("m.txt", "a.h5\n# gone:\nmissing.h5\n");
  const std::string e = error_of({"@" + m});
  EXPECT_HAS(e, "@" + m + " line 3: " + path("missing.h5"));
  EXPECT_HAS(e, "No such file");

  fs::create_directories(path("d"));
  const auto md = write("md.txt", "d\n");
  EXPECT_HAS(error_of({"@" + md}), "line 1: " + path("d") + ": is a directory");

  const auto empty = write("empty.txt", "# nothing tonight\n\n");
  EXPECT_HAS(error_of({"@" + empty}), "the manifest lists no files");

  const std::string missing = error_of({"@" + path("nope.txt")});
  EXPECT_HAS(missing, "cannot read the manifest " + path("nope.txt"));
  EXPECT_HAS(error_of({"@"}), "a manifest needs a file name");
}

TEST_F(InputList, MissingFileOrDirectoryIsAnErrorNamingIt) {
  const std::string e = error_of({touch("a.h5"), path("missing.h5")});
  EXPECT_HAS(e, "--input " + path("missing.h5") + ": No such file or directory");
  EXPECT_HAS(error_of({path("no_dir/")}), path("no_dir/"));
  EXPECT_HAS(error_of({""}), "an empty specification");
  EXPECT_HAS(error_of({}), "--input is required");
}

TEST_F(InputList, OrderIsSpecsThenEachExpansion) {
  const auto z = touch("z.h5");
  touch("d/b.h5");
  touch("d/a.h5");
  touch("g/q2.h5");
  touch("g/q1.h5");
  touch("m/y.h5");
  touch("m/x.h5");
  const auto m = write("m/list.txt", "y.h5\nx.h5\n");
  EXPECT_EQ(expand_inputs({z, path("d"), "@" + m, path("g/q*.h5")}),
            (Files{z, path("d/a.h5"), path("d/b.h5"), path("m/y.h5"), path("m/x.h5"),
                   path("g/q1.h5"), path("g/q2.h5")}));
}

TEST_F(InputList, FileNamedTwiceGivesBothPositions) {
  const auto a = touch("d/a.h5"), b = touch("d/b.h5");
  std::string e = error_of({a, b, a});
  EXPECT_HAS(e, a + " is named twice: input 1 (from '" + a + "') and input 3");
  // Through a directory and a glob: positions in the expanded list.
  e = error_of({b, path("d")});
  EXPECT_HAS(e, "is named twice: input 1 (from '" + b + "') and input 3 (from directory '" +
                    path("d") + "')");
  // Another spelling of the same file.
  const std::string other = dir_.string() + "/d/../d/b.h5";
  e = error_of({b, other});
  EXPECT_HAS(e, other + " (the same file as " + b + ") is named twice");
  // Twice in one manifest: the lines are named.
  const auto m = write("d/m.txt", "a.h5\nb.h5\na.h5\n");
  e = error_of({"@" + m});
  EXPECT_HAS(e, "line 1) and input 3 (from manifest '" + path("d/m.txt") + "' line 3)");
}

TEST(InputSpecs, JoinedForDisplay) {
  EXPECT_EQ(join_input_specs({"a.h5"}), "a.h5");
  EXPECT_EQ(join_input_specs({"a.h5", "@night.txt", "d/*.h5"}), "a.h5 @night.txt d/*.h5");
}

}  // namespace
}  // namespace wafermill::format
