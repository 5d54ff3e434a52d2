/// @file feature_set_test.cpp
/// @brief FeatureSet parsing, naming, column lookup, and FeatureBlock indexing.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "wafermill/error.hpp"
#include "wafermill/features/backend.hpp"
#include "wafermill/features/feature_set.hpp"

namespace wafermill::features {
namespace {

TEST(FeatureSet, AllHasEveryFeatureInEnumOrder) {
  const FeatureSet all = FeatureSet::all();
  EXPECT_EQ(all.size(), kFeatureCount);
  EXPECT_EQ(all.to_string(), "all");
  const auto names = all.names();
  ASSERT_EQ(names.size(), kFeatureCount);
  for (std::size_t i = 0; i < kFeatureCount; ++i) {
    EXPECT_EQ(names[i], kFeatureNames[i]);
    EXPECT_EQ(all.column(static_cast<Feature>(i)), static_cast<int>(i));
  }
  EXPECT_EQ(FeatureSet::parse("all").mask(), all.mask());
  EXPECT_EQ(FeatureSet::parse(" all ").mask(), all.mask());
}

TEST(FeatureSet, ParsesAListIntoEnumOrder) {
  const FeatureSet set = FeatureSet::parse("median, mean,std ,mean");
  EXPECT_EQ(set.size(), 3U);
  EXPECT_EQ(set.to_string(), "mean,std,median");
  EXPECT_EQ(set.list(), (std::vector<Feature>{Feature::mean, Feature::std, Feature::median}));
  EXPECT_EQ(set.column(Feature::mean), 0);
  EXPECT_EQ(set.column(Feature::std), 1);
  EXPECT_EQ(set.column(Feature::median), 2);
  EXPECT_EQ(set.column(Feature::count), -1);
  EXPECT_TRUE(set.contains(Feature::median));
  EXPECT_FALSE(set.contains(Feature::slope));
  EXPECT_EQ(FeatureSet::parse(set.to_string()).mask(), set.mask());
  EXPECT_EQ(FeatureSet::from_mask(set.mask()).names(), set.names());
}

TEST(FeatureSet, UnknownNameIsAUsageErrorNamingItAndTheValidOnes) {
  try {
    FeatureSet::parse("mean,variance");
    FAIL() << "no exception";
  } catch (const UsageError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("'variance'"), std::string::npos) << what;
    EXPECT_NE(what.find("kurtosis"), std::string::npos) << what;
    EXPECT_NE(what.find("all"), std::string::npos) << what;
  }
  EXPECT_THROW(FeatureSet::parse(""), UsageError);
  EXPECT_THROW(FeatureSet::parse("mean,,std"), UsageError);
  EXPECT_THROW(FeatureSet::parse("Mean"), UsageError);
  EXPECT_THROW(FeatureSet::from_mask(1U << kFeatureCount), UsageError);
}

TEST(FeatureBlock, IndexesRowMajorArraysByGlobalWafer) {
  FeatureLayout layout;
  layout.n_sensors = 3;
  layout.n_steps = 2;
  layout.features = FeatureSet::parse("mean,std");
  FeatureBlock block;
  block.reset(10, 4, layout);
  EXPECT_EQ(block.values.size(), 4U * 3 * 2);
  EXPECT_EQ(block.by_step.size(), 4U * 2 * 3 * 2);
  EXPECT_EQ(block.moments.size(), 4U * 3);
  EXPECT_EQ(block.compute_seconds.size(), 4U);
  EXPECT_TRUE(std::isnan(block.values[5]));
  EXPECT_EQ(block.compute_seconds[3], 0.0);
  EXPECT_EQ(block.at(10, 0), block.values.data());
  EXPECT_EQ(block.at(12, 1), block.values.data() + (2 * 3 + 1) * 2);
  EXPECT_EQ(block.at_step(11, 1, 2), block.by_step.data() + ((1 * 2 + 1) * 3 + 2) * 2);
  block.reset(0, 1, FeatureLayout{});
  EXPECT_TRUE(block.values.empty());
  EXPECT_TRUE(block.by_step.empty());
}

}  // namespace
}  // namespace wafermill::features
