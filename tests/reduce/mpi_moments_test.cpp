// The MPI datatype and merge op of Moments, in a real multi-rank run (and as a singleton).
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <span>
#include <vector>

#include "wafermill/reduce/exact_sum.hpp"
#include "wafermill/reduce/fleet.hpp"
#include "wafermill/reduce/mpi_moments.hpp"

namespace wr = wafermill::reduce;

namespace {

// The same data on every rank; rank r owns a contiguous slice of uneven length.
std::vector<double> shared_sample() {
  std::mt19937_64 rng(99);
  std::lognormal_distribution<double> value(2.0, 0.5);
  std::vector<double> x(997);
  for (double& v : x) v = value(rng);
  return x;
}

wr::Moments fold(const std::vector<double>& x, std::size_t first, std::size_t end) {
  wr::Moments m;
  for (std::size_t i = first; i < end; ++i) m = wr::merge(m, wr::single(x[i]));
  return m;
}

}  // namespace

TEST(MomentsMpi, ReduceLocalMergesInThenInout) {
  const wr::MomentsMpi mpi;
  int size = 0;
  MPI_Type_size(mpi.datatype(), &size);
  EXPECT_EQ(size, 7 * static_cast<int>(sizeof(double)));
  const std::vector<wr::Moments> in{wr::single(1.0), wr::Moments{}};
  std::vector<wr::Moments> inout{wr::merge(wr::single(2.0), wr::single(6.0)), wr::single(4.0)};
  MPI_Reduce_local(in.data(), inout.data(), 2, mpi.datatype(), mpi.merge_op());
  EXPECT_EQ(inout[0].n, 3.0);
  EXPECT_EQ(inout[0].mean, 3.0);
  EXPECT_DOUBLE_EQ(inout[0].m2, 14.0);  // deviations -2, -1, 3
  EXPECT_EQ(inout[0].min, 1.0);
  EXPECT_EQ(inout[1].n, 1.0);  // the empty summary is the identity
  EXPECT_EQ(inout[1].mean, 4.0);
}

TEST(MomentsMpi, AllreduceMatchesTheWholeSample) {
  const wr::MomentsMpi mpi;
  int rank = 0, n_ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &n_ranks);
  const std::vector<double> x = shared_sample();
  // Uneven slices: rank r gets [r^2 N / P^2, (r+1)^2 N / P^2).
  const auto cut = [&](int r) { return x.size() * r * r / (n_ranks * n_ranks); };
  wr::Moments mine[2] = {fold(x, cut(rank), cut(rank + 1)), wr::single(static_cast<double>(rank))};
  wr::Moments all[2];
  ASSERT_EQ(MPI_Allreduce(mine, all, 2, mpi.datatype(), mpi.merge_op(), MPI_COMM_WORLD),
            MPI_SUCCESS);
  const wr::Moments whole = fold(x, 0, x.size());
  EXPECT_EQ(all[0].n, whole.n);
  EXPECT_NEAR(all[0].mean, whole.mean, 1e-13 * whole.mean);
  EXPECT_NEAR(all[0].m2, whole.m2, 1e-12 * whole.m2);
  EXPECT_NEAR(all[0].m3, whole.m3, 1e-11 * std::abs(whole.m3));
  EXPECT_NEAR(all[0].m4, whole.m4, 1e-11 * whole.m4);
  EXPECT_EQ(all[0].min, whole.min);
  EXPECT_EQ(all[0].max, whole.max);
  EXPECT_EQ(all[1].n, n_ranks);
  EXPECT_DOUBLE_EQ(all[1].mean, (n_ranks - 1) / 2.0);
  EXPECT_EQ(all[1].max, n_ranks - 1.0);
}

// Fleet reductions over ranks: each rank holds a share of the wafers (uneven, interleaved, in
// groups of any size); the result must be the same bits as one process holding them all
// (exact sums).
TEST(FleetMomentsMpi, BitwiseSameAsOneProcess) {
  int rank = 0, n_ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &n_ranks);
  const std::vector<double> x = shared_sample();
  const std::vector<double> shift = {x[0], x[0] * 1e6};
  wr::FleetMoments mine(shift), all(shift);
  for (std::size_t first = 0, b = 0; first < x.size(); first += 13, ++b) {
    const std::size_t end = std::min(x.size(), first + 13);
    const wr::Moments wafer[2] = {fold(x, first, end), wr::single(x[first] * 1e6)};
    all.add(wafer);
    if (static_cast<int>((b * b) % n_ranks) == rank) mine.add(wafer);
  }
  const auto spread = mine.result(MPI_COMM_WORLD);
  const auto alone = all.result(MPI_COMM_NULL);
  ASSERT_EQ(spread.size(), 2u);
  EXPECT_EQ(std::memcmp(spread.data(), alone.data(), 2 * sizeof(wr::Moments)), 0);

  wr::FeatureColumnStats cols_mine(1, 8), cols_all(1, 8);
  for (std::size_t i = 0; i < x.size(); ++i) {
    cols_all.add(std::span(&x[i], 1), 1);
    if (static_cast<int>(i % n_ranks) == rank) cols_mine.add(std::span(&x[i], 1), 1);
  }
  cols_mine.start_histograms(MPI_COMM_WORLD);
  cols_all.start_histograms(MPI_COMM_NULL);
  EXPECT_EQ(std::memcmp(&cols_mine.moments()[0], &cols_all.moments()[0], sizeof(wr::Moments)), 0);
  for (std::size_t i = 0; i < x.size(); ++i) {
    cols_all.add_to_histograms(std::span(&x[i], 1), 1);
    if (static_cast<int>(i % n_ranks) == rank) cols_mine.add_to_histograms(std::span(&x[i], 1), 1);
  }
  cols_mine.reduce_histograms(MPI_COMM_WORLD);
  EXPECT_EQ(cols_mine.histogram(0).counts, cols_all.histogram(0).counts);
}

TEST(ExactSumMpi, AllreduceIsTheExactSum) {
  int rank = 0, n_ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &n_ranks);
  // 1e300, 1, -1e300 and 1e-300 spread over the ranks: the exact sum is 1 + 1e-300 -> 1.
  const double terms[4] = {1e300, 1.0, -1e300, 3e-300};
  wr::ExactSum s[2];
  for (int t = 0; t < 4; ++t)
    if (t % n_ranks == rank) s[0].add(terms[t]);
  s[1].add(static_cast<double>(rank) + 0.5);
  wr::allreduce_exact(s, 2, MPI_COMM_WORLD);
  EXPECT_EQ(s[0].value(), 1.0);
  double hi = 0, lo = 0;
  s[0].value_pair(hi, lo);
  EXPECT_EQ(hi, 1.0);
  EXPECT_EQ(lo, 3e-300);
  EXPECT_EQ(s[1].value(), n_ranks * (n_ranks - 1) / 2.0 + 0.5 * n_ranks);
}

TEST(ExactSumMpi, SpanAddsTravelAsThePlainAdds) {
  // Each rank sums its share through the window (span adds), the whole through the plain adds:
  // after allreduce_exact every rank holds the plain sum's bits.
  int rank = 0, n_ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &n_ranks);
  std::mt19937_64 rng(41);
  std::uniform_real_distribution<double> mant(-2.0, 2.0);
  std::uniform_int_distribution<int> expo(-80, 60);
  std::vector<double> x(6000);
  for (double& v : x) v = std::ldexp(mant(rng), expo(rng));
  x[7] = 1e-320;
  x[8] = -1e300;
  x[9] = 1e300;
  std::vector<double> mine;
  for (std::size_t i = 0; i < x.size(); ++i)
    if (static_cast<int>(i % n_ranks) == rank) mine.push_back(x[i]);
  wr::ExactSum s[2], plain[2];
  s[0].add(mine);
  s[1].add_products(mine, mine);
  for (double v : x) {
    plain[0].add(v);
    plain[1].add_product(v, v);
  }
  wr::allreduce_exact(s, 2, MPI_COMM_WORLD);
  for (int k = 0; k < 2; ++k) {
    double h = 0, l = 0, ph = 0, pl = 0;
    s[k].value_pair(h, l);
    plain[k].value_pair(ph, pl);
    EXPECT_EQ(h, ph) << k;
    EXPECT_EQ(l, pl) << k;
  }
}

// MPI is started once around all tests; ranks above 0 print nothing unless a test fails.
int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  testing::InitGoogleTest(&argc, argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != 0) {
    auto& listeners = testing::UnitTest::GetInstance()->listeners();
    // Released, then owned (and dropped) here: gtest hands ownership back to the caller.
    std::unique_ptr<testing::TestEventListener>(
        listeners.Release(listeners.default_result_printer()));
  }
  const int failed = RUN_ALL_TESTS();
  // Every rank must agree on failure, or ctest would see rank 0's verdict only.
  int any_failed = 0;
  MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return any_failed;
}
