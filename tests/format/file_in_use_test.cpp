/// @file file_in_use_test.cpp
/// @brief A file left marked open for writing by an HDF5 writer (here one in SWMR mode that
/// died by SIGKILL) is reported as such, naming the file and the way out, not as damage.
#include <gtest/gtest.h>

#include <hdf5.h>

#include <csignal>
#include <filesystem>
#include <sys/wait.h>
#include <unistd.h>

#include "sample_files.hpp"
#include "wafermill/error.hpp"
#include "wafermill/format/h5.hpp"
#include "wafermill/format/picture_reader.hpp"
#include "wafermill/format/trace_index.hpp"

namespace wafermill::format {
namespace {

/// Writes `path` in a child that switches to SWMR writing and is then killed, as a crashed
/// writer would be: the superblock keeps its status flags.
void write_as_crashed_swmr_writer(const std::string& path) {
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
    const hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (f < 0 || H5Fstart_swmr_write(f) < 0 || H5Fflush(f, H5F_SCOPE_GLOBAL) < 0) ::_exit(3);
    ::raise(SIGKILL);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "the writer failed";
}

void expect_in_use_message(const std::string& message, const std::string& path) {
  EXPECT_NE(message.find(path + ": the file is marked open for writing (superblock status "
                                "flags 0x05: open for write, open for SWMR write)"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("h5clear -s --increment " + path), std::string::npos) << message;
  EXPECT_EQ(message.find("truncated or damaged"), std::string::npos) << message;
}

TEST(FileInUse, OpenReadThrowsFileInUseError) {
  const std::string path = testing::temp_path("crashed_swmr.h5");
  write_as_crashed_swmr_writer(path);
  try {
    (void)h5::File::open_read(path);
    FAIL() << "opened a file marked open for writing";
  } catch (const FileInUseError& e) {
    EXPECT_EQ(e.file(), path);
    expect_in_use_message(e.what(), path);
  }
}

TEST(FileInUse, IndexAndValidationSayItIsHeldNotDamaged) {
  const std::string path = testing::temp_path("crashed_swmr_index.h5");
  write_as_crashed_swmr_writer(path);
  try {
    (void)read_trace_index(path);
    FAIL() << "read the index of a file marked open for writing";
  } catch (const InputError& e) {
    expect_in_use_message(e.what(), path);
  }
  const auto problems = validate_trace_file(path);
  ASSERT_EQ(problems.size(), 1u);
  expect_in_use_message(problems[0], path);
  try {
    (void)probe_contents(path);
    FAIL() << "probed a file marked open for writing";
  } catch (const InputError& e) {
    expect_in_use_message(e.what(), path);
  }
}

TEST(FileInUse, ADamagedFileIsStillCalledDamaged) {
  const std::string path = testing::temp_path("half_file.h5");
  testing::write_sample(path);
  std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
  try {
    (void)h5::File::open_read(path);
    FAIL() << "opened half a file";
  } catch (const FileInUseError& e) {
    FAIL() << "a truncated file called in use: " << e.what();
  } catch (const HdfError&) {
  }
}

}  // namespace
}  // namespace wafermill::format
