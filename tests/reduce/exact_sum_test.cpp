// The superaccumulator: exact whatever the order, the magnitudes or the signs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "wafermill/reduce/exact_sum.hpp"

namespace wr = wafermill::reduce;

TEST(ExactSum, CancellationAcrossMagnitudesIsExact) {
  wr::ExactSum s;
  for (double x : {1e308, 1.0, -1e308, 1e-320, -1.0, 2.5}) s.add(x);
  EXPECT_EQ(s.value(), 2.5);  // 1e-320 is below half an ulp of 2.5
  double hi = 0, lo = 0;
  s.value_pair(hi, lo);
  EXPECT_EQ(hi, 2.5);
  EXPECT_EQ(lo, 1e-320);
  wr::ExactSum z;
  z.add(0.1);
  z.add(-0.1);
  EXPECT_TRUE(z.zero());
  EXPECT_EQ(z.value(), 0.0);
  z.add(std::numeric_limits<double>::quiet_NaN());  // ignored
  z.add(std::numeric_limits<double>::infinity());
  EXPECT_TRUE(z.zero());
}

TEST(ExactSum, EveryOrderGivesTheSameBitsAndTheCorrectlyRoundedSum) {
  std::mt19937_64 rng(17);
  std::uniform_real_distribution<double> mant(-1.0, 1.0);
  std::uniform_int_distribution<int> expo(-40, 40);
  std::vector<double> x(20000);
  for (double& v : x) v = std::ldexp(mant(rng), expo(rng));
  wr::ExactSum ref;
  for (double v : x) ref.add(v);
  // A reference from long double pairs would not be exact; instead: the sum of the exact
  // halves equals the whole (merge), and shuffles give the same bits.
  for (int trial = 0; trial < 5; ++trial) {
    std::shuffle(x.begin(), x.end(), rng);
    wr::ExactSum a, b;
    for (std::size_t i = 0; i < x.size(); ++i) (i % 3 == 0 ? a : b).add(x[i]);
    a.merge(b);
    EXPECT_EQ(a.value(), ref.value()) << trial;
  }
  // value() is the sum rounded: adding -value() leaves less than half an ulp of it.
  const double v = ref.value();
  wr::ExactSum rest = ref;
  rest.add(-v);
  EXPECT_LE(std::abs(rest.value()), 0.5 * (std::nextafter(std::abs(v), HUGE_VAL) - std::abs(v)));
}

TEST(ExactSum, ProductsAreExact) {
  wr::ExactSum s;
  const double a = 1.0 + std::ldexp(1.0, -30);
  s.add_product(a, a);       // 1 + 2^-29 + 2^-60: not representable in one double
  s.add(-1.0);
  s.add(-std::ldexp(1.0, -29));
  EXPECT_EQ(s.value(), std::ldexp(1.0, -60));
}
