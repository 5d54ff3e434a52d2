// KL divergence: the analysis's worked example, smoothing, infinity and errors.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "wafermill/metrics/metrics.hpp"

namespace wm = wafermill::metrics;

TEST(KlDivergence, WorkedExampleOfTheAnalysis) {
  // P = (0.8, 0.2) against Q1 = (0.7, 0.3) and Q2 = (0.85, 0.15):
  // 0.8 ln(0.8/0.7) + 0.2 ln(0.2/0.3) = 0.02573 nats; 0.8 ln(0.8/0.85) + 0.2 ln(0.2/0.15) = 0.009037 ≈ 0.00904 nats (4 significant digits).
  const std::vector<double> p{0.8, 0.2};
  const double d1 = wm::kl_divergence(p, std::vector<double>{0.7, 0.3});
  const double d2 = wm::kl_divergence(p, std::vector<double>{0.85, 0.15});
  EXPECT_NEAR(d1, 0.02573, 0.000005);
  EXPECT_NEAR(d2, 0.00904, 0.000005);
  EXPECT_NEAR(d1 / d2, 2.85, 0.005);
  // Counts instead of probabilities: normalised first, same answer.
  EXPECT_NEAR(wm::kl_divergence(std::vector<double>{80, 20}, std::vector<double>{7, 3}), d1, 1e-15);
  EXPECT_EQ(wm::kl_divergence(p, p), 0.0);
  EXPECT_GT(wm::kl_divergence(std::vector<double>{0.7, 0.3}, p), 0.0);  // not symmetric, still positive
}

TEST(KlDivergence, ZeroBinsAndInfinity) {
  // p_i = 0 contributes nothing: P = (0.5, 0.5, 0), Q = (0.25, 0.25, 0.5) -> ln 2.
  EXPECT_NEAR(wm::kl_divergence(std::vector<double>{0.5, 0.5, 0.0}, std::vector<double>{0.25, 0.25, 0.5}),
              std::log(2.0), 1e-15);
  // q_i = 0 < p_i without smoothing: +inf.
  EXPECT_EQ(wm::kl_divergence(std::vector<double>{0.5, 0.5}, std::vector<double>{1.0, 0.0}),
            std::numeric_limits<double>::infinity());
}

TEST(KlDivergence, SmoothingAddsAlphaToEveryBinOfBoth) {
  // alpha = 1 on counts (3, 1, 0) and (1, 1, 2): P' = (4, 2, 1)/7, Q' = (2, 2, 3)/7.
  const double expected = 4.0 / 7 * std::log(4.0 / 2) + 2.0 / 7 * std::log(2.0 / 2) + 1.0 / 7 * std::log(1.0 / 3);
  EXPECT_NEAR(wm::kl_divergence(std::vector<double>{3, 1, 0}, std::vector<double>{1, 1, 2}, 1.0), expected, 1e-15);
  // Smoothing makes the infinite case finite.
  const double smoothed = wm::kl_divergence(std::vector<double>{5, 5}, std::vector<double>{10, 0}, 0.5);
  EXPECT_TRUE(std::isfinite(smoothed));
  EXPECT_NEAR(smoothed, 0.5 * std::log(0.5 / (10.5 / 11)) + 0.5 * std::log(0.5 / (0.5 / 11)), 1e-14);
  // All-zero counts are uniform once smoothed.
  EXPECT_NEAR(wm::kl_divergence(std::vector<double>{0, 0}, std::vector<double>{1, 1}, 1.0), 0.0, 1e-16);
}

TEST(KlDivergence, Errors) {
  const std::vector<double> two{0.5, 0.5};
  EXPECT_THROW(wm::kl_divergence(two, std::vector<double>{1.0, 0.0, 0.0}), std::invalid_argument);
  EXPECT_THROW(wm::kl_divergence(two, std::vector<double>{1.5, -0.5}), std::invalid_argument);
  EXPECT_THROW(wm::kl_divergence(std::vector<double>{0.0, 0.0}, two), std::invalid_argument);
  EXPECT_THROW(wm::kl_divergence(two, std::vector<double>{NAN, 1.0}), std::invalid_argument);
  EXPECT_THROW(wm::kl_divergence(two, two, -1.0), std::invalid_argument);
  EXPECT_THROW(wm::kl_divergence({}, {}), std::invalid_argument);
}

TEST(Distribution, SharesOfEachBinAndZerosForAnEmptyHistogram) {
  const std::vector<double> counts = {1, 3, 0, 4};
  EXPECT_EQ(wafermill::metrics::distribution(counts), (std::vector<double>{0.125, 0.375, 0.0, 0.5}));
  const std::vector<double> empty = {0, 0};
  EXPECT_EQ(wafermill::metrics::distribution(empty), (std::vector<double>{0.0, 0.0}));
}
