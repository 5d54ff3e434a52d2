// exchange_file_blobs (src/job/drive/team.hpp): per-file byte strings held by their ranks,
// brought together by file number on rank 0 or on every rank, or on none when over the limit.
// Run as 3 ranks (and each case once more without MPI, as the sequential baseline runs it).
#include <gtest/gtest.h>
#include <mpi.h>

#include <string>
#include <vector>

#include "drive/team.hpp"

namespace wafermill::job {
namespace {

constexpr std::size_t kFiles = 8;

// File k's blob, held by rank k mod P; file 5 by no rank. Lengths differ, and bytes 0 and 1
// (read_indexes_spread's marks) travel as any other.
std::string blob_of(std::size_t k) {
  if (k == 5) return "";
  std::string b(1, static_cast<char>(k % 2));
  b += "file " + std::to_string(k) + std::string(k * 1000, static_cast<char>('a' + k));
  b += '\0';
  return b;
}

std::vector<std::string> held_by(const Team& team) {
  std::vector<std::string> mine(kFiles);
  for (std::size_t k = static_cast<std::size_t>(team.rank); k < kFiles;
       k += static_cast<std::size_t>(team.size))
    mine[k] = blob_of(k);
  return mine;
}

std::uint64_t bytes_in_all() {  // what the blobs take framed: number, length, bytes
  std::uint64_t n = 0;
  for (std::size_t k = 0; k < kFiles; ++k)
    if (!blob_of(k).empty()) n += 16 + blob_of(k).size();
  return n;
}

std::vector<Team> teams() { return {Team(MPI_COMM_WORLD), Team()}; }

TEST(FileBlobs, EveryRankGetsEachFilesBlobByItsNumber) {
  for (const Team& team : teams()) {
    if (!team.mpi() && Team(MPI_COMM_WORLD).rank != 0) continue;
    const auto all =
        exchange_file_blobs(team, held_by(team), kFiles, BlobsTo::every_rank, UINT64_MAX);
    ASSERT_TRUE(all.has_value());
    ASSERT_EQ(all->size(), kFiles);
    for (std::size_t k = 0; k < kFiles; ++k) EXPECT_EQ((*all)[k], blob_of(k)) << k;
  }
}

TEST(FileBlobs, RootAloneGetsThem) {
  for (const Team& team : teams()) {
    if (!team.mpi() && Team(MPI_COMM_WORLD).rank != 0) continue;
    const auto got = exchange_file_blobs(team, held_by(team), kFiles, BlobsTo::root, UINT64_MAX);
    ASSERT_TRUE(got.has_value());
    if (!team.root()) {
      EXPECT_TRUE(got->empty());
      continue;
    }
    ASSERT_EQ(got->size(), kFiles);
    for (std::size_t k = 0; k < kFiles; ++k) EXPECT_EQ((*got)[k], blob_of(k)) << k;
  }
}

TEST(FileBlobs, OverTheLimitNoneTravelsOnEveryRankAlike) {
  for (const Team& team : teams()) {
    if (!team.mpi() && Team(MPI_COMM_WORLD).rank != 0) continue;
    for (const BlobsTo to : {BlobsTo::root, BlobsTo::every_rank}) {
      // The limit counts every rank's blobs: ranks that hold few must refuse too.
      EXPECT_FALSE(exchange_file_blobs(team, held_by(team), kFiles, to, bytes_in_all() - 1));
      EXPECT_TRUE(exchange_file_blobs(team, held_by(team), kFiles, to, bytes_in_all()));
    }
  }
}

TEST(FileBlobs, OnlyTheFirstNFilesAndNoneHeldAreEmpty) {
  for (const Team& team : teams()) {
    if (!team.mpi() && Team(MPI_COMM_WORLD).rank != 0) continue;
    std::vector<std::string> mine = held_by(team);
    mine.resize(kFiles + 3, "past the files: never sent");
    const auto three = exchange_file_blobs(team, mine, 3, BlobsTo::every_rank, UINT64_MAX);
    ASSERT_TRUE(three.has_value());
    ASSERT_EQ(three->size(), 3u);
    for (std::size_t k = 0; k < 3; ++k) EXPECT_EQ((*three)[k], blob_of(k)) << k;
    const auto none = exchange_file_blobs(team, {}, kFiles, BlobsTo::every_rank, 0);
    ASSERT_TRUE(none.has_value());
    EXPECT_EQ(*none, std::vector<std::string>(kFiles));
  }
}

}  // namespace
}  // namespace wafermill::job
