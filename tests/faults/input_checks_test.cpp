/// @file input_checks_test.cpp
/// @brief Many inputs checked in few child processes (job/input_sandbox.hpp): each file gets
/// its own verdict in order, a file on which HDF5 crashes or loops is named as bad wherever it
/// stands among good ones, and judge_inputs turns the verdicts into the run's inputs or exit 2.
#include <gtest/gtest.h>

#include <unistd.h>

#include <csignal>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "wafermill/error.hpp"
#include "wafermill/job/input_sandbox.hpp"

namespace wafermill::job {
namespace {

namespace fs = std::filesystem;
using Outcome = InputCheck::Outcome;

const std::string kGood = std::string(WAFERMILL_SOURCE_DIR) + "/data_samples/demo.h5";
std::string finding(const std::string& name) {
  return std::string(WAFERMILL_SOURCE_DIR) + "/tests/faults/inputs/" + name + ".h5";
}

#define EXPECT_HAS(text, part) EXPECT_NE((text).find(part), std::string::npos) << (text)

TEST(InputChecks, GoodFilesAreGoodInOneGo) {
  const auto checks = check_inputs_isolated({kGood, kGood, kGood}, 60.0);
  ASSERT_EQ(checks.size(), 3u);
  for (const auto& c : checks) {
    EXPECT_EQ(c.outcome, Outcome::good) << c.message;
    EXPECT_EQ(c.message, "");
  }
  EXPECT_TRUE(check_inputs_isolated({}, 60.0).empty());
}

TEST(InputChecks, CrashesAmongGoodFilesNameTheirFile) {
  const std::string segv = finding("hdf5_local_heap_segv"), accum = finding("hdf5_accum_read_segv");
  const std::vector<std::string> paths = {kGood, segv, kGood, kGood, accum, kGood};
  const auto checks = check_inputs_isolated(paths, 60.0);
  ASSERT_EQ(checks.size(), paths.size());
  for (std::size_t i : {0u, 2u, 3u, 5u})
    EXPECT_EQ(checks[i].outcome, Outcome::good) << i << checks[i].message;
  for (std::size_t i : {1u, 4u}) {
    EXPECT_EQ(checks[i].outcome, Outcome::bad) << i;
    EXPECT_HAS(checks[i].message,
               paths[i] + ": HDF5 crashed (Segmentation fault) reading the file's metadata");
  }
  // A crash on the last file, and on the first.
  const auto last = check_inputs_isolated({kGood, segv}, 60.0);
  EXPECT_EQ(last[0].outcome, Outcome::good);
  EXPECT_EQ(last[1].outcome, Outcome::bad);
  const auto first = check_inputs_isolated({accum, kGood}, 60.0);
  EXPECT_EQ(first[0].outcome, Outcome::bad);
  EXPECT_EQ(first[1].outcome, Outcome::good);
}

TEST(InputChecks, LoopIsBadAfterTheTimeoutAndTheRestGoesOn) {
  const std::string loop = finding("hdf5_global_heap_loop");
  const auto checks = check_inputs_isolated({kGood, loop, kGood}, 1.0);
  ASSERT_EQ(checks.size(), 3u);
  EXPECT_EQ(checks[0].outcome, Outcome::good);
  EXPECT_EQ(checks[1].outcome, Outcome::bad);
  EXPECT_HAS(checks[1].message, loop + ": reading the file's metadata made no progress for 1 s");
  EXPECT_EQ(checks[2].outcome, Outcome::good);
}

TEST(InputChecks, BadInputKeepsItsOwnMessage) {
  const fs::path text =
      fs::temp_directory_path() / ("wm_checks_" + std::to_string(::getpid()) + ".h5");
  std::ofstream(text) << "wafer,sensor,value\n1,2,3\n";
  const std::string overread = finding("hdf5_attribute_overread");
  const auto checks = check_inputs_isolated({text.string(), kGood, overread}, 60.0);
  fs::remove(text);
  EXPECT_EQ(checks[0].outcome, Outcome::bad);
  EXPECT_HAS(checks[0].message, text.string() + " is not an HDF5 file");
  EXPECT_EQ(checks[1].outcome, Outcome::good);
  EXPECT_EQ(checks[2].outcome, Outcome::bad);
  EXPECT_HAS(checks[2].message, overread + ": /traces/values attribute sensor_names: has 3 names");
}

TEST(InputChecks, WithoutRanksOneProcessChecksAll) {
  std::vector<std::string> paths = {kGood, finding("hdf5_local_heap_segv")};
  const auto checks = check_inputs_spread(paths, 60.0, MPI_COMM_NULL);
  ASSERT_EQ(checks.size(), 2u);
  EXPECT_EQ(checks[0].outcome, Outcome::good);
  EXPECT_EQ(checks[1].outcome, Outcome::bad);
}

// A check that crashes on "late.h5" only when "poison.h5" was checked before it in the same
// process, as a file that leaves HDF5's heap damaged would; "crash.h5" crashes always.
FileCheck poisoned_check() {
  return [poisoned = false](const std::string& path) mutable {
    if (path == "poison.h5") poisoned = true;
    if (path == "crash.h5" || (path == "late.h5" && poisoned)) std::raise(SIGSEGV);
    if (path == "bad.h5") throw InputError("bad.h5: /traces: missing");
    return std::string();
  };
}

TEST(InputChecks, CrashOnlyAfterAnotherFileIsNamedWithIt) {
  const std::vector<std::string> paths = {"a.h5", "poison.h5", "b.h5", "late.h5", "c.h5"};
  const auto checks = check_files_isolated(paths, 60.0, poisoned_check());
  ASSERT_EQ(checks.size(), paths.size());
  // late.h5 reads alone, but the job would read it after poison.h5 in one process as the
  // check did: it is the file the job cannot get past.
  for (std::size_t i : {0u, 1u, 2u, 4u})
    EXPECT_EQ(checks[i].outcome, Outcome::good) << paths[i] << ": " << checks[i].message;
  EXPECT_EQ(checks[3].outcome, Outcome::bad);
  EXPECT_HAS(checks[3].message,
             "late.h5: HDF5 crashed (Segmentation fault) reading the file's "
             "metadata after 3 other files' in the same process (the last "
             "b.h5), though it reads alone");
  // Alone, or first in its child, it is good.
  EXPECT_EQ(check_files_isolated({"late.h5", "poison.h5"}, 60.0, poisoned_check())[0].outcome,
            Outcome::good);
}

TEST(InputChecks, CrashAloneAfterOthersIsThatFilesAndTheRestGoOn) {
  const std::vector<std::string> paths = {"a.h5", "bad.h5", "crash.h5", "b.h5", "crash.h5", "c.h5"};
  const auto checks = check_files_isolated(paths, 60.0, poisoned_check());
  const std::vector<Outcome> want = {Outcome::good, Outcome::bad, Outcome::bad,
                                     Outcome::good, Outcome::bad, Outcome::good};
  for (std::size_t i = 0; i < paths.size(); ++i) EXPECT_EQ(checks[i].outcome, want[i]) << i;
  EXPECT_EQ(checks[1].message, "bad.h5: /traces: missing");
  EXPECT_HAS(checks[2].message, "crash.h5: HDF5 crashed (Segmentation fault)");
}

InputCheck good(std::vector<std::string> warnings = {}) {
  InputCheck c;
  c.warnings = std::move(warnings);
  return c;
}
InputCheck bad(const std::string& message, Outcome o = Outcome::bad) {
  InputCheck c;
  c.outcome = o;
  c.message = message;
  return c;
}

std::string judge_error(const std::vector<std::string>& paths,
                        const std::vector<InputCheck>& checks, bool skip) {
  try {
    judge_inputs(paths, checks, skip);
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no InputError";
  return "";
}

TEST(JudgeInputs, AllGoodKeepsOrderAndWarnings) {
  const auto v = judge_inputs({"a.h5", "b.h5"}, {good({"a slow"}), good({"b slow"})}, false);
  EXPECT_EQ(v.files, (std::vector<std::string>{"a.h5", "b.h5"}));
  EXPECT_EQ(v.warnings, (std::vector<std::string>{"a slow", "b slow"}));
  EXPECT_TRUE(v.skipped.empty());
}

TEST(JudgeInputs, BadFileEndsTheRunNamingIt) {
  const std::string e = judge_error({"a.h5", "b.h5", "c.h5"},
                                    {good(), bad("b.h5: /traces/offsets: missing"), good()}, false);
  EXPECT_EQ(e.rfind("b.h5: /traces/offsets: missing\n", 0), 0u) << e;
  EXPECT_HAS(e, "--skip-bad-files");
  const std::string two = judge_error({"a.h5", "b.h5", "c.h5"},
                                      {bad("a.h5: damaged"), good(), bad("c.h5: damaged")}, false);
  EXPECT_EQ(two.rfind("a.h5: damaged\n(2 of the 3 input files are bad: a.h5 c.h5)", 0), 0u) << two;
  // One input: its message alone, as before several inputs existed, with or without skipping.
  EXPECT_EQ(judge_error({"a.h5"}, {bad("a.h5: damaged")}, false), "a.h5: damaged");
  EXPECT_EQ(judge_error({"a.h5"}, {bad("a.h5: damaged")}, true), "a.h5: damaged");
}

TEST(JudgeInputs, SkipBadFilesListsThem) {
  const auto v =
      judge_inputs({"a.h5", "b.h5", "c.h5", "d.h5"},
                   {bad("a.h5: damaged"), good({"b slow"}), bad("c.h5: crashed"), good()}, true);
  EXPECT_EQ(v.files, (std::vector<std::string>{"b.h5", "d.h5"}));
  ASSERT_EQ(v.skipped.size(), 2u);
  EXPECT_EQ(v.skipped[0].path, "a.h5");
  EXPECT_EQ(v.skipped[0].reason, "a.h5: damaged");
  EXPECT_EQ(v.skipped[1].path, "c.h5");
  EXPECT_EQ(v.warnings, (std::vector<std::string>{"b slow"}));
  // Nothing left: exit 2 all the same.
  EXPECT_HAS(judge_error({"a.h5", "b.h5"}, {bad("a.h5: damaged"), bad("b.h5: damaged")}, true),
             "every one of the 2 input files is bad");
}

TEST(JudgeInputs, FailedCheckIsARuntimeFailure) {
  EXPECT_THROW(judge_inputs({"a.h5", "b.h5"},
                            {good(), bad("rank 1: fork: no memory", Outcome::failed)}, true),
               std::runtime_error);
  try {
    judge_inputs({"a.h5", "b.h5"}, {good(), bad("rank 1: fork", Outcome::failed)}, true);
  } catch (const InputError&) {
    ADD_FAILURE() << "a failed check is not bad input";
  } catch (const std::runtime_error&) {
  }
}

}  // namespace
}  // namespace wafermill::job
