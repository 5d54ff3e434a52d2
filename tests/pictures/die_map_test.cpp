// Die-map features on hand-made maps whose counts are known by construction.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "wafermill/pictures/components.hpp"
#include "wafermill/pictures/die_map.hpp"
#include "text_map.hpp"

namespace wafermill::pictures {
namespace {


TEST(DieMap, CountsOfASmallHandMadeMap) {
  const TextMap m({".oo.",
                   "oxxo",
                   "oxoo",
                   ".o.x"});
  std::vector<std::uint32_t> scratch;
  const MapFeatures f = map_features(m.view(), scratch);
  EXPECT_EQ(f.die_count, 12u);
  EXPECT_EQ(f.fail_count, 4u);
  EXPECT_DOUBLE_EQ(f.yield, 8.0 / 12.0);
  EXPECT_EQ(f.n_clusters, 2u);  // the three in the middle, the lone corner die
  EXPECT_EQ(f.largest_cluster, 3u);
}

TEST(DieMap, DiagonalNeighboursAreSeparateClusters) {
  const TextMap m({"xo",
                   "ox"});
  std::vector<std::uint32_t> scratch;
  const MapFeatures f = map_features(m.view(), scratch);
  EXPECT_EQ(f.n_clusters, 2u);
  EXPECT_EQ(f.largest_cluster, 1u);
}

TEST(DieMap, EmptyAndPassingMaps) {
  std::vector<std::uint32_t> scratch;
  const TextMap empty({"...", "..."});
  const MapFeatures e = map_features(empty.view(), scratch);
  EXPECT_EQ(e.die_count, 0u);
  EXPECT_EQ(e.yield, 0.0);
  EXPECT_EQ(classify_pattern(e), MapPattern::none);
  const TextMap pass({"ooo", "ooo"});
  const MapFeatures p = map_features(pass.view(), scratch);
  EXPECT_EQ(p.die_count, 6u);
  EXPECT_EQ(p.fail_count, 0u);
  EXPECT_EQ(p.yield, 1.0);
  EXPECT_EQ(p.n_clusters, 0u);
  EXPECT_EQ(classify_pattern(p), MapPattern::none);
}

TEST(DieMap, RingOfFailingEdgeDies) {
  // Every die beyond rho 0.85 fails: one closed ring, all in the edge zone.
  const TextMap m = disc(31, 14.6, [](int, int, double rho) { return rho > 0.85; });
  std::uint64_t dies = 0, fails = 0;
  for (auto v : m.cells) {
    dies += v != 0;
    fails += v == 2;
  }
  std::vector<std::uint32_t> scratch;
  const MapFeatures f = map_features(m.view(), scratch);
  EXPECT_EQ(f.die_count, dies);
  EXPECT_EQ(f.fail_count, fails);
  EXPECT_EQ(f.n_clusters, 1u);
  EXPECT_EQ(f.largest_cluster, fails);
  EXPECT_DOUBLE_EQ(f.edge_ring_ratio, 1.0);
  EXPECT_EQ(f.zone_fail[0], 0.0);
  EXPECT_EQ(f.zone_fail[1], 0.0);
  EXPECT_EQ(f.edge_sectors_failing, static_cast<std::uint32_t>(kEdgeSectors));
  EXPECT_LT(f.largest_rho, 0.1);  // a ring's centroid is the centre
  EXPECT_EQ(classify_pattern(f), MapPattern::edge_ring);
}

TEST(DieMap, ScratchIsOneThinElongatedCluster) {
  // A 4-connected staircase from (5, 6) going down-right: 12 steps, 23 dies.
  TextMap m = disc(31, 14.6, [](int, int, double) { return false; });
  std::uint64_t planted = 0;
  int r = 5, c = 6;
  const auto fail = [&](int rr, int cc) {
    auto& v = m.cells[rr * 31 + cc];
    planted += v != 2;
    v = 2;
  };
  fail(r, c);
  for (int k = 0; k < 11; ++k) {
    fail(r, ++c);
    fail(++r, c);
  }
  std::vector<std::uint32_t> scratch;
  const MapFeatures f = map_features(m.view(), scratch);
  EXPECT_EQ(f.fail_count, planted);
  EXPECT_EQ(planted, 23u);
  EXPECT_EQ(f.n_clusters, 1u);
  EXPECT_EQ(f.largest_cluster, 23u);
  EXPECT_GT(f.largest_elongation, 8.0);
  EXPECT_EQ(classify_pattern(f), MapPattern::scratch);
}

TEST(DieMap, CentreDonutAndNearFull) {
  std::vector<std::uint32_t> scratch;
  const auto classify = [&](const TextMap& m) { return classify_pattern(map_features(m.view(), scratch)); };
  EXPECT_EQ(classify(disc(31, 14.6, [](int, int, double rho) { return rho < 0.3; })), MapPattern::centre);
  EXPECT_EQ(classify(disc(31, 14.6, [](int, int, double rho) { return rho > 0.45 && rho < 0.68; })),
            MapPattern::donut);
  EXPECT_EQ(classify(disc(31, 14.6, [](int i, int, double) { return i % 8 != 0; })), MapPattern::near_full);
  EXPECT_EQ(classify(disc(31, 14.6, [](int i, int j, double) { return (i * 7 + j * 3) % 10 < 3; })),
            MapPattern::random);
}

TEST(DieMap, RejectsBadCells) {
  std::vector<std::uint8_t> cells = {1, 3};
  std::vector<std::uint32_t> scratch;
  EXPECT_THROW(map_features({cells, 1, 2}, scratch), std::invalid_argument);
  EXPECT_THROW(map_features({cells, 2, 2}, scratch), std::invalid_argument);
}

TEST(FailCountMap, SumsFailsPerCell) {
  const TextMap a({"xo", "ox"}), b({"xx", "o."});
  FailCountMap fc;
  fc.rows = 2;
  fc.cols = 2;
  fc.add(a.view());
  fc.add(b.view());
  EXPECT_EQ(fc.wafers, 2u);
  EXPECT_EQ(fc.fails, (std::vector<std::uint64_t>{2, 1, 0, 1}));
  EXPECT_EQ(fc.probability(), (std::vector<double>{1.0, 0.5, 0.0, 0.5}));
  const TextMap other({"xoo"});
  EXPECT_THROW(fc.add(other.view()), std::invalid_argument);
}

TEST(Components, LargestShapeOfALine) {
  std::vector<std::uint8_t> mask(5 * 9, 0);
  for (int c = 0; c < 9; ++c) mask[2 * 9 + c] = 1;
  std::vector<std::uint32_t> scratch;
  const auto s = find_components(mask, 5, 9, scratch);
  EXPECT_EQ(s.count, 1u);
  EXPECT_EQ(s.largest.size, 9u);
  EXPECT_DOUBLE_EQ(s.largest.row_mean, 2.0);
  EXPECT_DOUBLE_EQ(s.largest.col_mean, 4.0);
  // variance along the line (81 - 1) / 12, across floored at 1/12: elongation sqrt(80).
  EXPECT_NEAR(s.largest.elongation(), std::sqrt(80.0), 1e-12);
}

}  // namespace
}  // namespace wafermill::pictures
