// The superaccumulator: exact whatever the order, the magnitudes or the signs.
#include <gtest/gtest.h>
#include <xmmintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>
#include <span>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "wafermill/cpu.hpp"
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
  s.add_product(a, a);  // 1 + 2^-29 + 2^-60: not representable in one double
  s.add(-1.0);
  s.add(-std::ldexp(1.0, -29));
  EXPECT_EQ(s.value(), std::ldexp(1.0, -60));
}

// The span adds (a 128-bit window, flushed into the limbs) against the plain adds, value by
// value: the same exact sum, so the same value() and value_pair() bits, and their difference
// is exactly zero.
namespace {

// Values around `first` for one window: mixed signs, exponents from 2^-70 to 2^+40 of it
// (across the window's edges at -38 and +26), some with trailing zeros, subnormals, huge
// values, ±0 and non-finite ones.
std::vector<double> window_values(std::mt19937_64& rng, double first, std::size_t n) {
  std::uniform_real_distribution<double> mant(1.0, 2.0);
  std::uniform_int_distribution<int> expo(-70, 40), pick(0, 19), zeros(1, 52);
  std::vector<double> x{first};
  int e0 = 0;
  std::frexp(first, &e0);
  while (x.size() < n) {
    double v = std::ldexp(mant(rng), e0 + expo(rng));
    switch (pick(rng)) {
      case 0:
        v = std::ldexp(std::trunc(std::ldexp(mant(rng), 52 - zeros(rng))), e0 - 60);
        break;
      case 1:
        v = std::ldexp(mant(rng), -1074 + zeros(rng));  // subnormal
        break;
      case 2:
        v = std::ldexp(mant(rng), 1000 + zeros(rng) % 23);
        break;  // huge
      case 3:
        v = 0.0;
        break;
      case 4:
        v = -0.0;
        break;
      case 5:
        v = pick(rng) < 10 ? std::numeric_limits<double>::quiet_NaN() : HUGE_VAL;
        break;
      default:
        break;
    }
    x.push_back(pick(rng) % 2 ? -v : v);
  }
  return x;
}

void expect_same(const wr::ExactSum& fast, const std::vector<double>& x, const char* what) {
  wr::ExactSum plain;
  for (double v : x) plain.add(v);
  EXPECT_EQ(std::signbit(fast.value()), std::signbit(plain.value())) << what;
  EXPECT_EQ(fast.value(), plain.value()) << what;
  double fh = 0, fl = 0, ph = 0, pl = 0;
  fast.value_pair(fh, fl);
  plain.value_pair(ph, pl);
  EXPECT_EQ(fh, ph) << what;
  EXPECT_EQ(fl, pl) << what;
  EXPECT_EQ(fast.zero(), plain.zero()) << what;
  wr::ExactSum diff = fast;
  for (double v : x) diff.add(-v);
  EXPECT_TRUE(diff.zero()) << what;
}

}  // namespace

TEST(ExactSumWindow, SpanAddsAreThePlainAddsBitForBit) {
  std::mt19937_64 rng(23);
  for (const double first : {1.0, -3.5e-7, 6.02e23, 1e-310, -1.7e308, 0.0, 5e-324}) {
    for (const std::size_t n : {1u, 5u, 1023u, 1024u, 1025u, 5000u}) {
      const auto x = window_values(rng, first, n);
      wr::ExactSum fast;
      fast.add(x);
      expect_same(fast, x, "span");
      // In pieces, and merged with a plainly added half.
      wr::ExactSum a, b;
      a.add(std::span<const double>(x).first(n / 2));
      for (std::size_t i = n / 2; i < n; ++i) b.add(x[i]);
      a.merge(b);
      expect_same(a, x, "merged");
    }
  }
}

TEST(ExactSumWindow, FullWindowsDoNotOverflow) {
  // Many values of one sign with every mantissa bit set, at the top of each of the window's
  // three 40-bit parts and across its top edge (first value 1: the window spans 2^-90 to 2^30):
  // a window that took too large a value or summed too many before adding them to the limbs
  // would round.
  std::vector<double> x{1.0};
  for (const int k : {-38, -10, 26, 27, 28, 29, 30, 31, 34})
    x.insert(x.end(), 20000, std::ldexp(2.0 - std::ldexp(1.0, -52), k));
  wr::ExactSum fast;
  fast.add(x);
  expect_same(fast, x, "top");
  for (double& v : x) v = -v;
  fast.add(x);
  EXPECT_TRUE(fast.zero());
}

TEST(ExactSumWindow, CancelsToExactlyZero) {
  std::mt19937_64 rng(5);
  auto x = window_values(rng, 12.25, 3000);
  std::vector<double> y = x;
  for (double v : x) y.push_back(-v);
  std::shuffle(y.begin() + 1, y.end(), rng);
  wr::ExactSum s;
  s.add(y);
  EXPECT_TRUE(s.zero());
  EXPECT_EQ(s.value(), 0.0);
  EXPECT_FALSE(std::signbit(s.value()));
  double hi = 1, lo = 1;
  s.value_pair(hi, lo);
  EXPECT_EQ(hi, 0.0);
  EXPECT_EQ(lo, 0.0);
}

TEST(ExactSumWindow, SpanProductsAreThePlainProductsBitForBit) {
  std::mt19937_64 rng(31);
  for (const double first : {1.0, -2.5e-100, 3e150, 1e-160}) {
    auto a = window_values(rng, first, 4000), b = window_values(rng, -first * 3, 4000);
    std::shuffle(b.begin(), b.end(), rng);
    wr::ExactSum fast, plain;
    fast.add_products(a, b);
    for (std::size_t i = 0; i < a.size(); ++i) plain.add_product(a[i], b[i]);
    EXPECT_EQ(fast.value(), plain.value()) << first;
    double fh = 0, fl = 0, ph = 0, pl = 0;
    fast.value_pair(fh, fl);
    plain.value_pair(ph, pl);
    EXPECT_EQ(fh, ph) << first;
    EXPECT_EQ(fl, pl) << first;
    // Squares: the form ReferenceSums uses.
    wr::ExactSum sq, sq_plain;
    sq.add_products(a, a);
    for (double v : a) sq_plain.add_product(v, v);
    EXPECT_EQ(sq.value(), sq_plain.value()) << first;
    fast.merge(sq);
    plain.merge(sq_plain);
    EXPECT_EQ(fast.value(), plain.value()) << first;
  }
  EXPECT_THROW(wr::ExactSum().add_products(std::vector<double>(2), std::vector<double>(3)),
               std::invalid_argument);
}

TEST(ExactSumWindow, SubnormalsCountUnderDenormalsAreZero) {
  // With the CPU's denormals-are-zero mode on (set by some libraries), a subnormal value still
  // adds its exact bits: the window tells ±0 by its bits, not by a floating-point compare.
  const unsigned csr = _mm_getcsr();
  _mm_setcsr(csr | 0x0040u);  // DAZ
  std::vector<double> x{1e-300};
  for (int i = 0; i < 64; ++i) x.push_back(std::ldexp(1.0 + i, -1074));
  wr::ExactSum fast;
  fast.add(x);
  _mm_setcsr(csr);
  expect_same(fast, x, "daz");
}

// WAFERMILL_NO_AVX2 (set by the reduce_fleet_test.no_avx2 ctest entry) turns the AVX2 paths
// off; without it they follow the CPU.
TEST(Cpu, NoAvx2VariableTurnsTheVectorPathsOff) {
  const char* v = std::getenv("WAFERMILL_NO_AVX2");
  if (v != nullptr && std::string_view(v) == "1") {
    EXPECT_FALSE(wafermill::avx2_allowed());
  } else if (v == nullptr) {
    EXPECT_EQ(wafermill::avx2_allowed(), static_cast<bool>(__builtin_cpu_supports("avx2")));
  }
}
