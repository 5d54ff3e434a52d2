// The Pébay merge of random splits against a two-pass reference over the whole sample.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "wafermill/reduce/moments.hpp"

namespace wr = wafermill::reduce;

namespace {

// Reference: mean first, then M_k = Σ (x - mean)^k, all in long double.
struct Reference {
  long double n = 0, mean = 0, m2 = 0, m3 = 0, m4 = 0;
  double min = HUGE_VAL, max = -HUGE_VAL;
};

Reference two_pass(const std::vector<double>& x) {
  Reference r;
  r.n = static_cast<long double>(x.size());
  for (double v : x) r.mean += v;
  r.mean /= r.n;
  for (double v : x) {
    const long double d = v - r.mean;
    r.m2 += d * d;
    r.m3 += d * d * d;
    r.m4 += d * d * d * d;
    r.min = std::min(r.min, v);
    r.max = std::max(r.max, v);
  }
  return r;
}

wr::Moments fold(const std::vector<double>& x, std::size_t first, std::size_t end) {
  wr::Moments m;
  for (std::size_t i = first; i < end; ++i) m = wr::merge(m, wr::single(x[i]));
  return m;
}

enum class Shape { left, right, balanced, random };

// Merges adjacent parts until one remains, in the order the shape prescribes.
wr::Moments merge_parts(std::vector<wr::Moments> parts, Shape shape, std::mt19937_64& rng) {
  if (parts.empty()) return {};
  switch (shape) {
    case Shape::left: {
      wr::Moments acc = parts[0];
      for (std::size_t i = 1; i < parts.size(); ++i) acc = wr::merge(acc, parts[i]);
      return acc;
    }
    case Shape::right: {
      wr::Moments acc = parts.back();
      for (std::size_t i = parts.size() - 1; i-- > 0;) acc = wr::merge(parts[i], acc);
      return acc;
    }
    case Shape::balanced:
      while (parts.size() > 1) {
        std::vector<wr::Moments> next;
        for (std::size_t i = 0; i + 1 < parts.size(); i += 2) next.push_back(wr::merge(parts[i], parts[i + 1]));
        if (parts.size() % 2 == 1) next.push_back(parts.back());
        parts = std::move(next);
      }
      return parts[0];
    case Shape::random:
      while (parts.size() > 1) {
        std::uniform_int_distribution<std::size_t> pick(0, parts.size() - 2);
        const std::size_t i = pick(rng);
        parts[i] = wr::merge(parts[i], parts[i + 1]);
        parts.erase(parts.begin() + static_cast<std::ptrdiff_t>(i) + 1);
      }
      return parts[0];
  }
  return {};
}

// |got - ref| relative to the natural scale n σ^k of M_k (M3 of a near-symmetric sample is
// close to 0, so relative to |ref| alone would be meaningless).
void expect_close(const wr::Moments& got, const Reference& ref, double tol) {
  const long double sigma = std::sqrt(ref.m2 / ref.n);
  EXPECT_EQ(got.n, static_cast<double>(ref.n));
  EXPECT_LE(std::abs(got.mean - ref.mean), tol * (std::abs(ref.mean) + sigma));
  EXPECT_LE(std::abs(got.m2 - ref.m2), tol * ref.m2);
  EXPECT_LE(std::abs(got.m3 - ref.m3), tol * std::max<long double>(std::abs(ref.m3), ref.n * sigma * sigma * sigma));
  EXPECT_LE(std::abs(got.m4 - ref.m4), tol * ref.m4);
  EXPECT_EQ(got.min, ref.min);
  EXPECT_EQ(got.max, ref.max);
}

}  // namespace

TEST(Moments, RandomSplitsInEveryTreeShapeMatchTwoPassReference) {
  std::mt19937_64 rng(20240611);
  std::lognormal_distribution<double> skewed(1.0, 0.75);
  std::normal_distribution<double> gauss(1000.0, 3.0);  // large offset: tests cancellation
  for (int trial = 0; trial < 60; ++trial) {
    std::vector<double> x(1000 + static_cast<std::size_t>(trial) * 37);
    for (double& v : x) v = trial % 2 == 0 ? skewed(rng) : gauss(rng);
    const Reference ref = two_pass(x);

    std::uniform_int_distribution<std::size_t> n_parts_dist(2, 50);
    const std::size_t n_parts = n_parts_dist(rng);
    // Random cut points; parts may be empty, which the merge must ignore.
    std::uniform_int_distribution<std::size_t> cut(0, x.size());
    std::vector<std::size_t> cuts{0, x.size()};
    for (std::size_t i = 0; i + 1 < n_parts; ++i) cuts.push_back(cut(rng));
    std::sort(cuts.begin(), cuts.end());
    std::vector<wr::Moments> parts;
    for (std::size_t i = 0; i + 1 < cuts.size(); ++i) parts.push_back(fold(x, cuts[i], cuts[i + 1]));

    for (Shape shape : {Shape::left, Shape::right, Shape::balanced, Shape::random}) {
      SCOPED_TRACE(testing::Message() << "trial " << trial << " parts " << n_parts << " shape "
                                      << static_cast<int>(shape));
      expect_close(merge_parts(parts, shape, rng), ref, 1e-12);
    }
  }
}

TEST(Moments, EmptyIsTheIdentity) {
  const wr::Moments empty;
  wr::Moments a = wr::merge(wr::single(2.0), wr::single(5.0));
  const wr::Moments l = wr::merge(empty, a);
  const wr::Moments r = wr::merge(a, empty);
  for (const wr::Moments& m : {l, r}) {
    EXPECT_EQ(m.n, 2.0);
    EXPECT_EQ(m.mean, 3.5);
    EXPECT_EQ(m.m2, 4.5);
    EXPECT_EQ(m.min, 2.0);
    EXPECT_EQ(m.max, 5.0);
  }
  const wr::Moments both = wr::merge(empty, empty);
  EXPECT_EQ(both.n, 0.0);
  EXPECT_EQ(both.min, HUGE_VAL);
  EXPECT_EQ(both.max, -HUGE_VAL);
  EXPECT_TRUE(std::isnan(wr::sample_variance(both)));
  EXPECT_TRUE(std::isnan(wr::sample_variance(wr::single(1.0))));
}

TEST(Moments, SmallExactExample) {
  // x = 1, 2, 4, 9: mean 4, deviations -3 -2 0 5: M2 = 38, M3 = -27-8+125 = 90, M4 = 81+16+625 = 722.
  const wr::Moments a = wr::merge(wr::single(1.0), wr::single(2.0));
  const wr::Moments b = wr::merge(wr::single(4.0), wr::single(9.0));
  const wr::Moments m = wr::merge(a, b);
  EXPECT_DOUBLE_EQ(m.mean, 4.0);
  EXPECT_DOUBLE_EQ(m.m2, 38.0);
  EXPECT_DOUBLE_EQ(m.m3, 90.0);
  EXPECT_DOUBLE_EQ(m.m4, 722.0);
  EXPECT_DOUBLE_EQ(wr::sample_variance(m), 38.0 / 3.0);
}
