// Die-map geometry (edge distance in pitches, fixed-width zones, cluster shape) and the
// shipped classifier on hand-made maps of a small and a large wafer.
#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

#include "text_map.hpp"
#include "wafermill/pictures/die_map.hpp"
#include "wafermill/pictures/map_geometry.hpp"

namespace wafermill::pictures {
namespace {

MapFeatures features_of(const TextMap& m) {
  std::vector<std::uint32_t> scratch;
  return map_features(m.view(), scratch);
}

TEST(MapGeometry, EdgeDistanceInPitches) {
  const TextMap m({"ooooo", "ooooo", "ooooo", "ooooo", "oooo."});
  const auto d = edge_distance(m.view());
  EXPECT_EQ(d, (std::vector<std::uint32_t>{1, 1, 1, 1, 1,  //
                                           1, 2, 2, 2, 1,  //
                                           1, 2, 2, 2, 1,  // the centre touches (3, 3) diagonally
                                           1, 2, 2, 1, 1,  // next to the missing corner die
                                           1, 1, 1, 1, 0}));
  EXPECT_EQ(features_of(m).geometry.wafer_pitches, 2.0);
  const TextMap full({"ooooo", "ooooo", "ooooo", "ooooo", "ooooo"});
  EXPECT_EQ(edge_distance(full.view())[12], 3u);
}

// Small (31 rows) and large (151 rows, a WM-811K map's upper range) wafers.
class BothSizes : public ::testing::TestWithParam<int> {
 protected:
  int n() const { return GetParam(); }
  double radius() const { return 0.5 * n() - 0.9; }
};

TEST_P(BothSizes, ThinEdgeRingIsOneRingWhateverTheSize) {
  // The two outermost dies of every radius fail: a ring 2 dies wide on any wafer. On the
  // large wafer it is a few per cent of the ρ > 0.75 zone (the old rule's fail_edge).
  const TextMap probe = disc(n(), radius(), [](int, int, double) { return false; });
  const auto edge = edge_distance(probe.view());
  TextMap m = probe;
  for (std::size_t i = 0; i < m.cells.size(); ++i)
    if (m.cells[i] != 0 && edge[i] <= 2) m.cells[i] = 2;
  const MapFeatures f = features_of(m);
  const MapGeometry& g = f.geometry;
  EXPECT_EQ(g.ring_fail, 1.0);
  EXPECT_EQ(g.band_fail, 0.0);
  EXPECT_EQ(g.inner_fail, 0.0);
  EXPECT_EQ(g.ring_sector_min, 1.0);
  EXPECT_EQ(g.ring_coverage, 1.0);
  EXPECT_EQ(g.cluster_share, 1.0);
  EXPECT_EQ(g.cluster_coverage, 1.0);
  EXPECT_LT(g.cluster_centroid_rho, 0.05);  // the hole: a ring's centroid is the centre
  EXPECT_GT(g.cluster_rho_mean, 0.85);
  EXPECT_LE(g.cluster_edge, 2.0);
  EXPECT_EQ(classify_pattern(f), MapPattern::edge_ring);
}

TEST_P(BothSizes, CentreBlobAndEdgeBlob) {
  const MapFeatures centre = features_of(disc(n(), radius(), [](int, int, double rho) { return rho < 0.3; }));
  EXPECT_EQ(centre.geometry.cluster_coverage, 0.0);  // no die beyond ρ 0.5
  EXPECT_LT(centre.geometry.cluster_centroid_rho, 0.05);
  EXPECT_EQ(centre.geometry.isolated_share, 0.0);
  EXPECT_EQ(classify_pattern(centre), MapPattern::centre);
  // A blob on the rim, a quarter of the radius across, at angle 0.
  const double c = 0.5 * (n() - 1), r = radius();
  const auto rim = [&](int i, int j, double) { return std::hypot(i - c, j - (c + 0.9 * r)) < 0.25 * r; };
  const MapFeatures blob = features_of(disc(n(), r, rim));
  EXPECT_LE(blob.geometry.cluster_coverage, 3.0 / kAngularSectors);
  EXPECT_GT(blob.geometry.cluster_centroid_rho, 0.75);
  EXPECT_EQ(classify_pattern(blob), MapPattern::edge_local);
}

TEST_P(BothSizes, ScratchIsAThinLongCluster) {
  // A diagonal line one die wide across two thirds of the wafer, off the centre.
  const double c = 0.5 * (n() - 1), r = radius();
  const auto line = [&](int i, int j, double) {
    return i - j == int(0.2 * r) && std::hypot(i - c, j - c) < 0.65 * r;
  };
  const MapFeatures f = features_of(disc(n(), r, line));
  EXPECT_LT(f.geometry.cluster_thickness, 2.0);
  EXPECT_GT(f.geometry.cluster_elongation, 8.0);
  EXPECT_GT(f.geometry.line_peak, 0.5);
  EXPECT_EQ(classify_pattern(f), MapPattern::scratch);
}

TEST_P(BothSizes, DefectFreeAndSparseMapsAreNone) {
  const MapFeatures clean = features_of(disc(n(), radius(), [](int, int, double) { return false; }));
  EXPECT_EQ(clean.geometry.cluster_share, 0.0);
  EXPECT_EQ(classify_pattern(clean), MapPattern::none);
  // Isolated failures (no two neighbours fail): nothing survives the denoising.
  const MapFeatures sparse =
      features_of(disc(n(), radius(), [](int i, int j, double) { return i % 7 == 3 && j % 7 == 3; }));
  EXPECT_EQ(sparse.geometry.isolated_share, 1.0);
  EXPECT_EQ(sparse.geometry.cluster_area, 0.0);
  EXPECT_EQ(classify_pattern(sparse), MapPattern::none);
}

INSTANTIATE_TEST_SUITE_P(Sizes, BothSizes, ::testing::Values(31, 151));

TEST(MapClassifier, ModelTakesTheFeaturesTheJobWrites) {
  EXPECT_EQ(model_feature_names(), map_feature_names());
  const auto names = map_feature_names();
  ASSERT_GT(names.size(), 12u);
  EXPECT_EQ(names[0], "die_count");  // the first 12 columns keep their names and order
  EXPECT_EQ(names[11], "edge_sectors_failing");
  EXPECT_EQ(to_values(MapFeatures{}).size(), names.size());
  EXPECT_THROW(pattern_scores(std::vector<double>(12, 0.0)), std::invalid_argument);
  EXPECT_EQ(classify_pattern(MapFeatures{}), MapPattern::none);  // no dies
}

}  // namespace
}  // namespace wafermill::pictures
