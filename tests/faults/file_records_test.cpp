// What the result store remembers of each input file (src/job/store/file_records.hpp).
#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>

#include "store/file_records.hpp"
#include "store/store_directory.hpp"

namespace wafermill::job {
namespace {

namespace fs = std::filesystem;

fs::path scratch(const std::string& name) {
  const fs::path d =
      fs::temp_directory_path() / ("wm_records_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

TEST(FileRecords, KeysComeBackOnlyForTheSameStampDigestAndBlockCount) {
  const fs::path d = scratch("roundtrip");
  const std::string input = (d / "in.h5").string();
  std::ofstream(input) << "version 1";
  const FileStamp stamp = *file_stamp(input);
  FileRecords r;
  r.set(input, {0xabcdef0123456789ULL, stamp, {1, 0xffffffffffffffffULL, 3}});
  const std::string odd = (d / "name with\ttab and spaces.h5").string();
  r.set(odd, {7, stamp, {}});
  r.write(d.string());
  EXPECT_TRUE(is_store_file_name(kFileRecordsName)) << "the store must recognise its own file";

  const FileRecords back = FileRecords::read(d.string());
  EXPECT_EQ(back.size(), 2u);
  const auto* keys = back.keys(input, 0xabcdef0123456789ULL, stamp, 3);
  ASSERT_NE(keys, nullptr);
  EXPECT_EQ(*keys, (std::vector<std::uint64_t>{1, 0xffffffffffffffffULL, 3}));
  EXPECT_NE(back.keys(odd, 7, stamp, 0), nullptr);
  // A relative name of the same file finds the record.
  const fs::path cwd = fs::current_path();
  fs::current_path(d);
  EXPECT_NE(back.keys("in.h5", 0xabcdef0123456789ULL, stamp, 3), nullptr);
  fs::current_path(cwd);
  EXPECT_EQ(back.keys(input, 1, stamp, 3), nullptr) << "another configuration";
  EXPECT_EQ(back.keys(input, 0xabcdef0123456789ULL, stamp, 2), nullptr) << "another block count";
  // Rewritten in place with the same size: the status-change time moves (and the mtime).
  ::usleep(20000);
  std::ofstream(input) << "version 2";
  const FileStamp now = *file_stamp(input);
  EXPECT_EQ(now.size, stamp.size);
  EXPECT_NE(now, stamp);
  EXPECT_EQ(back.keys(input, 0xabcdef0123456789ULL, now, 3), nullptr) << "a changed file is hashed";
  EXPECT_FALSE(file_stamp((d / "missing.h5").string()).has_value());
}

TEST(FileRecords, AMissingOrDamagedFileIsNoRecords) {
  const fs::path d = scratch("damaged");
  EXPECT_EQ(FileRecords::read(d.string()).size(), 0u);
  std::ofstream(d / kFileRecordsName) << "wafermill file records 1\nzz 1 2\tx\n";
  EXPECT_EQ(FileRecords::read(d.string()).size(), 0u);
  std::ofstream(d / kFileRecordsName) << "something else\n";
  EXPECT_EQ(FileRecords::read(d.string()).size(), 0u);
  std::ofstream(d / kFileRecordsName) << "wafermill file records 1\n0 1 2 3 4 5 99999 1 2\tx\n";
  EXPECT_EQ(FileRecords::read(d.string()).size(), 0u) << "fewer keys than announced";
}

}  // namespace
}  // namespace wafermill::job
