// Speedup, efficiency, Karp–Flatt, load balance and the combined score.
#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

#include "wafermill/metrics/metrics.hpp"

namespace wm = wafermill::metrics;

TEST(Scaling, SpeedupEfficiencyKarpFlatt) {
  const wm::Scaling s = wm::scaling(32.0, 10.0, 4);
  EXPECT_DOUBLE_EQ(s.speedup, 3.2);
  EXPECT_DOUBLE_EQ(s.efficiency, 0.8);
  ASSERT_TRUE(s.karp_flatt.has_value());
  EXPECT_DOUBLE_EQ(*s.karp_flatt, (1 / 3.2 - 1 / 4.0) / (1 - 1 / 4.0));  // = 1/12
  EXPECT_NEAR(*s.karp_flatt, 1.0 / 12.0, 1e-15);
  // Perfect scaling: serial fraction 0. Superlinear: negative.
  EXPECT_NEAR(*wm::scaling(8.0, 1.0, 8).karp_flatt, 0.0, 1e-16);
  EXPECT_LT(*wm::scaling(10.0, 1.0, 8).karp_flatt, 0.0);
  const wm::Scaling one = wm::scaling(5.0, 4.0, 1);
  EXPECT_DOUBLE_EQ(one.speedup, 1.25);
  EXPECT_DOUBLE_EQ(one.efficiency, 1.25);
  EXPECT_FALSE(one.karp_flatt.has_value());
}

TEST(Scaling, Errors) {
  EXPECT_THROW(wm::scaling(0.0, 1.0, 2), std::invalid_argument);
  EXPECT_THROW(wm::scaling(1.0, -1.0, 2), std::invalid_argument);
  EXPECT_THROW(wm::scaling(1.0, 1.0, 0), std::invalid_argument);
}

TEST(LoadBalance, ImbalanceAndModelSpeedup) {
  const wm::LoadBalance lb = wm::load_balance(std::vector<double>{2.0, 4.0, 3.0, 3.0});
  EXPECT_DOUBLE_EQ(lb.sum, 12.0);
  EXPECT_DOUBLE_EQ(lb.max, 4.0);
  EXPECT_DOUBLE_EQ(lb.mean, 3.0);
  EXPECT_DOUBLE_EQ(lb.imbalance, 4.0 / 3.0);
  EXPECT_DOUBLE_EQ(lb.model_speedup, 3.0);
  const wm::LoadBalance even = wm::load_balance(std::vector<double>{1.5, 1.5, 1.5});
  EXPECT_DOUBLE_EQ(even.imbalance, 1.0);
  EXPECT_DOUBLE_EQ(even.model_speedup, 3.0);
  const wm::LoadBalance idle = wm::load_balance(std::vector<double>{0.0, 0.0});
  EXPECT_EQ(idle.imbalance, 1.0);
  EXPECT_EQ(idle.model_speedup, 1.0);
  EXPECT_THROW(wm::load_balance({}), std::invalid_argument);
  EXPECT_THROW(wm::load_balance(std::vector<double>{1.0, -2.0}), std::invalid_argument);
}

TEST(CombinedScore, RenormalisesOverMeasuredTerms) {
  const std::vector<wm::ScoreTerm> all{{0.5, 0.8}, {0.3, 0.6}, {0.2, 1.0}};
  EXPECT_NEAR(*wm::combined_score(all), 0.5 * 0.8 + 0.3 * 0.6 + 0.2 * 1.0, 1e-15);
  // The third term is not measured: (0.5 * 0.8 + 0.3 * 0.6) / 0.8.
  const std::vector<wm::ScoreTerm> missing{{0.5, 0.8}, {0.3, 0.6}, {0.2, std::nullopt}};
  EXPECT_NEAR(*wm::combined_score(missing), (0.4 + 0.18) / 0.8, 1e-15);
  EXPECT_FALSE(wm::combined_score(std::vector<wm::ScoreTerm>{{0.5, std::nullopt}}).has_value());
  EXPECT_FALSE(wm::combined_score(std::vector<wm::ScoreTerm>{{0.0, 1.0}}).has_value());
  EXPECT_FALSE(wm::combined_score({}).has_value());
  EXPECT_THROW(wm::combined_score(std::vector<wm::ScoreTerm>{{-0.1, 1.0}}), std::invalid_argument);
}
