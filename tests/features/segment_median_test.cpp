/// @file segment_median_test.cpp
/// @brief The backend's median selection (private: src/features/segment_median.hpp) against
/// a full sort, on distributions that stress the bucket search: skewed, clustered, tied,
/// extreme ranges, and even counts whose middle pair straddles two buckets.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "segment_median.hpp"

namespace wafermill::features::detail {
namespace {

double sorted_median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const std::size_t h = v.size() / 2;
  return v.size() % 2 == 1 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

void expect_median(MedianSelector& selector, const std::vector<double>& v,
                   const std::string& what) {
  const double want = sorted_median(v);
  std::vector<double> a = v, b = v;
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  const double got =
      selector.median(a.data(), a.size(), v.empty() ? NAN : *lo, v.empty() ? NAN : *hi);
  const double plain = median_in_place(b.data(), b.size());
  if (std::isnan(want)) {
    EXPECT_TRUE(std::isnan(got)) << what;
    EXPECT_TRUE(std::isnan(plain)) << what;
  } else {
    EXPECT_EQ(got, want) << what << " n=" << v.size();
    EXPECT_EQ(plain, want) << what << " n=" << v.size();
  }
}

TEST(SegmentMedian, MatchesSortOnManyDistributions) {
  std::mt19937_64 rng(21);
  MedianSelector selector;
  std::normal_distribution<double> normal(0.0, 1.0);
  std::exponential_distribution<double> expo(1.0);
  std::uniform_int_distribution<int> small_int(0, 3);
  for (std::size_t n : {0, 1, 2, 3, 63, 64, 65, 100, 101, 1000, 1001, 4096}) {
    std::vector<double> v(n);
    for (auto& x : v) x = normal(rng);
    expect_median(selector, v, "normal");
    for (auto& x : v) x = std::pow(expo(rng), 6.0);  // very skewed: most in the first bucket
    expect_median(selector, v, "skewed");
    for (auto& x : v) x = small_int(rng);  // many ties
    expect_median(selector, v, "ties");
    for (std::size_t i = 0; i < n; ++i) v[i] = i < n / 2 ? -1e300 : 1e300;  // range overflows
    expect_median(selector, v, "extremes");
    for (std::size_t i = 0; i < n; ++i) v[i] = i < n / 2 ? normal(rng) : 1e6 + normal(rng);
    expect_median(selector, v, "two clusters");  // the middle pair straddles empty buckets
    for (auto& x : v) x = 7.25;
    expect_median(selector, v, "constant");
    if (n > 0) {
      for (auto& x : v) x = normal(rng);
      v[0] = 1e12;  // one outlier stretches [min, max]
      expect_median(selector, v, "outlier");
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// ColumnMedians and StridedMedians (issue 18) against a plain reference: each segment's finite
// samples widened to double and median_in_place (std::nth_element), with a segment whose min
// equals its max giving that min as add_sample keeps it (the first sign of zero seen).

namespace {

bool same_bits(double a, double b) {
  if (std::isnan(a) && std::isnan(b)) return true;
  return std::memcmp(&a, &b, sizeof a) == 0;
}

struct Segment {
  std::vector<double> finite;
  SegmentRange range{0, HUGE_VAL, -HUGE_VAL};
  bool negative_zero = false;
  bool positive_zero = false;
};

template <class T>
std::vector<Segment> segments_of(const std::vector<T>& x, const std::vector<std::int32_t>& steps,
                                 std::size_t n_steps) {
  std::vector<Segment> segs(1 + n_steps);
  const auto add = [](Segment& s, double v) {
    s.finite.push_back(v);
    ++s.range.count;
    s.range.min = v < s.range.min ? v : s.range.min;  // add_sample's order of comparison
    s.range.max = v > s.range.max ? v : s.range.max;
    if (v == 0.0) (std::signbit(v) ? s.negative_zero : s.positive_zero) = true;
  };
  for (std::size_t r = 0; r < x.size(); ++r) {
    const double v = static_cast<double>(x[r]);
    if (!std::isfinite(v)) continue;
    add(segs[0], v);
    if (n_steps > 0) add(segs[1 + static_cast<std::size_t>(steps[r])], v);
  }
  return segs;
}

double reference_median(const Segment& s) {
  if (s.range.count == 0) return NAN;
  if (!(s.range.max > s.range.min))
    return s.range.count % 2 == 1 ? s.range.min : median_midpoint(s.range.min, s.range.max);
  std::vector<double> v = s.finite;
  return median_in_place(v.data(), v.size());
}

// A zero median among zeros of both signs and other values: the sign is the reference's
// permutation's choice. It matters only when every middle value is a zero (a middle pair of
// a zero and a non-zero, or of -x and x, has one midpoint); when every sample is a zero,
// min = max and the first sign wins.
bool sign_is_open(const Segment& s, double /*want*/) {
  if (!(s.negative_zero && s.positive_zero && s.range.max > s.range.min)) return false;
  std::vector<double> v = s.finite;
  std::sort(v.begin(), v.end());
  const std::size_t h = v.size() / 2;
  return v[h] == 0.0 && (v.size() % 2 == 1 || v[h - 1] == 0.0);
}

template <class T>
void check_column(ColumnMedians& column, StridedMedians& strided, const std::vector<T>& x,
                  const std::vector<std::int32_t>& steps, std::size_t n_steps,
                  const std::string& what) {
  const std::vector<Segment> segs = segments_of(x, steps, n_steps);
  std::vector<SegmentRange> ranges;
  for (const Segment& s : segs) ranges.push_back(s.range);
  const std::int32_t* st = n_steps > 0 ? steps.data() : nullptr;
  const std::string where = what + " n=" + std::to_string(x.size()) +
                            " steps=" + std::to_string(n_steps) +
                            (sizeof(T) == 4 ? " float32" : " float64");

  std::vector<double> got(segs.size(), -1.0);
  std::vector<StepRun> runs;
  if (n_steps > 0) find_step_runs(steps.data(), steps.size(), runs);
  const bool decided = column.medians(x.data(), x.size(), runs, n_steps, ranges.data(), got.data());
  bool any_open = false;
  for (std::size_t s = 0; s < segs.size(); ++s) {
    const double want = reference_median(segs[s]);
    const bool open = sign_is_open(segs[s], want);
    any_open = any_open || open;
    if (decided) {
      ASSERT_FALSE(open) << where << " segment " << s << ": a zero among both signs was decided";
      EXPECT_TRUE(same_bits(got[s], want))
          << where << " segment " << s << ": got " << got[s] << " want " << want;
    }
  }
  EXPECT_EQ(decided, !any_open) << where;

  // The same column embedded at stride 3 in rows of garbage, read in place.
  std::vector<T> rows(3 * x.size(), T(-12345));
  for (std::size_t r = 0; r < x.size(); ++r) rows[3 * r + 1] = x[r];
  std::vector<double> in_place(segs.size(), -1.0);
  strided.medians(rows.data() + 1, 3, x.size(), st, n_steps, ranges.data(), in_place.data());
  for (std::size_t s = 0; s < segs.size(); ++s) {
    const double want = reference_median(segs[s]);
    if (sign_is_open(segs[s], want)) {
      EXPECT_EQ(in_place[s], 0.0) << where << " strided segment " << s;
    } else {
      EXPECT_TRUE(same_bits(in_place[s], want))
          << where << " strided segment " << s << ": got " << in_place[s] << " want " << want;
    }
  }
}

// A column without steps selected again with guesses (ColumnMedians::medians' `guess`) that
// hold its middle ranks tightly, loosely (more than rank_select takes: the narrower window
// inside, or the bucket selection among the window's samples), everything, or miss them
// (below, above, between an even count's middle pair), and with bounds that are infinite,
// NaN, inverted or outside the column's range: the same bits and the same answer as without
// a guess every time. Returns how many guesses held (ColumnMedians::guess_held()).
template <class T>
std::size_t check_guesses(ColumnMedians& column, const std::vector<T>& x, const std::string& what) {
  const std::vector<Segment> segs = segments_of(x, {}, 0);
  const SegmentRange range = segs[0].range;
  const std::string where =
      what + " n=" + std::to_string(x.size()) + (sizeof(T) == 4 ? " float32" : " float64");
  std::vector<StepRun> runs;
  double plain = -1.0;
  const bool plain_decided = column.medians(x.data(), x.size(), runs, 0, &range, &plain);
  EXPECT_FALSE(column.guess_held()) << where;
  std::vector<std::pair<double, double>> guesses = {
      {-HUGE_VAL, HUGE_VAL}, {NAN, 1.0}, {1.0, NAN}, {5.0, 1.0}, {-1e300, 1e300}, {0.0, 0.0}};
  std::vector<double> v = segs[0].finite;
  std::sort(v.begin(), v.end());
  if (!v.empty()) {
    const std::size_t n = v.size();
    const std::size_t half = n / 2;
    const std::size_t low = n % 2 == 0 ? half - 1 : half;
    const auto at = [&](std::ptrdiff_t i) {
      return v[static_cast<std::size_t>(std::clamp<std::ptrdiff_t>(i, 0, std::ptrdiff_t(n) - 1))];
    };
    const auto above = [](double y) {  // the next value of T above y
      return static_cast<double>(std::nextafter(static_cast<T>(y), std::numeric_limits<T>::max()));
    };
    const auto lo = static_cast<std::ptrdiff_t>(low);
    const auto hi = static_cast<std::ptrdiff_t>(half);
    for (const std::ptrdiff_t d : {0, 3, 20, 100, 400})
      guesses.emplace_back(at(lo - d), above(at(hi + d)));  // hold the middle
    guesses.emplace_back(v.front(), above(v.back()));
    guesses.emplace_back(v.front(), at(lo));          // up to the lower middle, excluded
    guesses.emplace_back(above(at(hi)), v.back());    // from above the upper middle
    guesses.emplace_back(at(hi), above(at(hi + 5)));  // the upper middle, not the lower
    guesses.emplace_back(at(lo - 5), at(lo));         // below the lower middle
  }
  std::size_t held = 0;
  for (const auto& [a, b] : guesses) {
    const double guess[2] = {a, b};
    double got = -1.0;
    const bool decided = column.medians(x.data(), x.size(), runs, 0, &range, &got, guess);
    const std::string with =
        where + " guess [" + std::to_string(a) + ", " + std::to_string(b) + ")";
    EXPECT_EQ(decided, plain_decided) << with;
    if (decided && plain_decided) {
      EXPECT_TRUE(same_bits(got, plain)) << with << ": got " << got << " want " << plain;
    }
    held += column.guess_held() ? 1 : 0;
  }
  return held;
}

TEST(ColumnMedians, GuessesFloat32AndFloat64) {
  std::mt19937_64 rng(4242);
  ColumnMedians column;
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::uniform_int_distribution<int> small_int(-2, 2);
  const double inf = HUGE_VAL;
  using Fill = std::function<double(std::size_t)>;
  const std::vector<std::pair<std::string, Fill>> fills = {
      {"normal", [&](std::size_t) { return normal(rng); }},
      {"normal+nan+inf",
       [&](std::size_t) {
         const double u = unit(rng);
         return u < 0.05 ? NAN : u < 0.08 ? inf : u < 0.1 ? -inf : normal(rng);
       }},
      {"lognormal", [&](std::size_t) { return std::exp(2.0 * normal(rng)); }},
      {"ties", [&](std::size_t) { return double(small_int(rng)); }},
      {"zeros of both signs",
       [&](std::size_t) {
         const double u = unit(rng);
         return u < 0.2 ? -0.0 : u < 0.4 ? 0.0 : normal(rng);
       }},
      {"two clusters", [&](std::size_t i) { return i % 2 == 0 ? normal(rng) : 1e6 + normal(rng); }},
      {"huge", [&](std::size_t) { return normal(rng) * 1e300; }},
  };
  std::size_t held_float = 0;
  std::size_t held_double = 0;
  std::size_t normal_guesses = 0;
  for (const std::size_t n : {2, 3, 17, 33, 64, 65, 127, 128, 500, 501, 2048, 2049}) {
    for (const auto& [name, fill] : fills) {
      std::vector<double> d(n);
      for (std::size_t i = 0; i < n; ++i) d[i] = fill(i);
      const std::vector<float> f(d.begin(), d.end());
      const std::size_t hf = check_guesses(column, f, name);
      const std::size_t hd = check_guesses(column, d, name);
      if (name == "normal") {
        // The five guesses that hold the middle, and the whole range, are taken.
        EXPECT_GE(hf, 6U) << name << " n=" << n;
        EXPECT_GE(hd, 6U) << name << " n=" << n;
        normal_guesses += 6;
      }
      held_float += hf;
      held_double += hd;
    }
  }
  EXPECT_GE(held_float, normal_guesses);
  EXPECT_GE(held_double, normal_guesses);
}

// Columns with recipe steps (contiguous runs and random ones, a step absent, constant, all
// NaN or ±Inf) selected with a guess per segment: tight and loose around each segment's
// middle ranks, one segment's guess missing (NaN) or missing its middle: the same bits and
// the same answer as without guesses, and the guesses hold when every one holds its middle.
TEST(ColumnMedians, GuessesWithSteps) {
  std::mt19937_64 rng(99);
  ColumnMedians column;
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::size_t held = 0;
  std::size_t should_hold = 0;
  for (const std::size_t n : {7, 64, 129, 500, 2048}) {
    for (const std::size_t n_steps : {1, 3, 5}) {
      for (int layout = 0; layout < 3; ++layout) {
        std::vector<std::int32_t> steps(n);
        for (std::size_t r = 0; r < n; ++r)
          steps[r] = static_cast<std::int32_t>(
              layout == 0   ? r * n_steps / n
              : layout == 1 ? std::min<std::size_t>(r * (n_steps - 1) / n, n_steps - 1)  // last absent
                            : (r / 9) % n_steps);                                         // recurring runs
        for (int fill = 0; fill < 4; ++fill) {
          std::vector<double> d(n);
          for (std::size_t r = 0; r < n; ++r) {
            const auto k = static_cast<std::size_t>(steps[r]);
            const double u = unit(rng);
            d[r] = fill == 0   ? 10.0 * double(k) + normal(rng)
                   : fill == 1 ? (u < 0.05 ? NAN : u < 0.07 ? HUGE_VAL : normal(rng))
                   : fill == 2 ? (k == 1 ? 2.5 : normal(rng))  // a constant step
                               : (k == 0 ? NAN : std::exp(normal(rng)));  // an all-NaN step
          }
          const std::vector<float> f(d.begin(), d.end());
          std::vector<StepRun> runs;
          find_step_runs(steps.data(), n, runs);
          const auto check = [&](const auto& x) {
            using T = typename std::decay_t<decltype(x)>::value_type;
            const std::vector<Segment> segs = segments_of(x, steps, n_steps);
            std::vector<SegmentRange> ranges;
            for (const Segment& sg : segs) ranges.push_back(sg.range);
            std::vector<double> plain(segs.size(), -1.0);
            const bool plain_decided =
                column.medians(x.data(), n, runs, n_steps, ranges.data(), plain.data());
            const std::string where = "n=" + std::to_string(n) + " steps=" +
                                      std::to_string(n_steps) + " layout " +
                                      std::to_string(layout) + " fill " + std::to_string(fill) +
                                      (sizeof(T) == 4 ? " float32" : " float64");
            // Kinds: 0 tight, 1 loose, 2 one segment without a guess, 3 one segment missed.
            for (int kind = 0; kind < 4; ++kind) {
              std::vector<double> guess(2 * segs.size(), NAN);
              bool all_hold = true;
              for (std::size_t sg = 0; sg < segs.size(); ++sg) {
                std::vector<double> v = segs[sg].finite;
                if (v.empty()) continue;
                std::sort(v.begin(), v.end());
                const std::size_t m = v.size(), half = m / 2, low = m % 2 == 0 ? half - 1 : half;
                const std::size_t d0 = kind == 1 ? 30 : 1;
                const double a = v[low >= d0 ? low - d0 : 0];
                const double b = static_cast<double>(std::nextafter(
                    static_cast<T>(v[std::min(m - 1, half + d0)]), std::numeric_limits<T>::max()));
                guess[2 * sg] = a;
                guess[2 * sg + 1] = b;
                if (sg == segs.size() - 1 && kind == 2) guess[2 * sg] = guess[2 * sg + 1] = NAN;
                if (sg == segs.size() - 1 && kind == 3) guess[2 * sg + 1] = v[low];  // excluded
                all_hold = all_hold && kind < 2;
              }
              std::vector<double> got(segs.size(), -1.0);
              const bool decided =
                  column.medians(x.data(), n, runs, n_steps, ranges.data(), got.data(), guess.data());
              EXPECT_EQ(decided, plain_decided) << where << " kind " << kind;
              for (std::size_t sg = 0; decided && plain_decided && sg < segs.size(); ++sg)
                EXPECT_TRUE(same_bits(got[sg], plain[sg]))
                    << where << " kind " << kind << " segment " << sg << ": got " << got[sg]
                    << " want " << plain[sg];
              if (all_hold && kind < 2) ++should_hold;
              if (all_hold && kind < 2 && column.guess_held()) ++held;
              if (kind >= 2) {
                EXPECT_FALSE(column.guess_held() && segs.back().range.count > 1 &&
                             segs.back().range.max > segs.back().range.min)
                    << where << " kind " << kind;
              }
            }
          };
          check(d);
          check(f);
        }
      }
    }
  }
  // Guesses that hold every segment's middle are taken (all but the segments too wide for a
  // grid, none here).
  EXPECT_EQ(held, should_hold);
  EXPECT_GT(held, 100U);
}

// MedianGuesses: no guess before a sensor's first median or for a spread of zero; after one,
// a window of ±kWidth·kFirstError standard deviations around the last place, narrowing as the
// places repeat, and none while the places jump by more than the widest window allows.
TEST(MedianGuesses, LearnsWhereTheMedianLies) {
  MedianGuesses g;
  g.resize(2);
  double w[2];
  EXPECT_FALSE(g.guess(0, 10.0, 2.0, w));
  g.learn(0, 10.0, 2.0, 11.0);  // place +0.5
  ASSERT_TRUE(g.guess(0, 20.0, 4.0, w));
  EXPECT_DOUBLE_EQ(w[0], 20.0 + 4.0 * (0.5 - MedianGuesses::kWidth * MedianGuesses::kFirstError));
  EXPECT_DOUBLE_EQ(w[1], 20.0 + 4.0 * (0.5 + MedianGuesses::kWidth * MedianGuesses::kFirstError));
  EXPECT_FALSE(g.guess(0, 20.0, 0.0, w));
  EXPECT_FALSE(g.guess(0, NAN, 1.0, w));
  EXPECT_FALSE(g.guess(1, 10.0, 2.0, w));  // another sensor
  for (int i = 0; i < 40; ++i) g.learn(0, 10.0, 2.0, 11.0);
  ASSERT_TRUE(g.guess(0, 10.0, 2.0, w));
  EXPECT_LT(w[1] - w[0], 0.1);  // the same place every time: a narrow window
  EXPECT_LE(w[0], 11.0);
  EXPECT_GT(w[1], 11.0);
  for (int i = 0; i < 40; ++i) g.learn(0, 10.0, 2.0, i % 2 == 0 ? 6.0 : 14.0);  // ±2 std
  EXPECT_FALSE(g.guess(0, 10.0, 2.0, w));
}

// Steps in runs of random length (a step may recur, some may never occur).
std::vector<std::int32_t> random_steps(std::mt19937_64& rng, std::size_t n, std::size_t n_steps) {
  std::vector<std::int32_t> steps(n);
  std::uniform_int_distribution<std::size_t> run_len(1, 40);
  std::uniform_int_distribution<std::int32_t> pick(0, static_cast<std::int32_t>(n_steps) - 1);
  for (std::size_t r = 0; r < n;) {
    const std::size_t end = std::min(n, r + run_len(rng));
    const std::int32_t k = pick(rng);
    for (; r < end; ++r) steps[r] = k;
  }
  return steps;
}

template <class T>
void check_many(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  ColumnMedians column;
  StridedMedians strided;
  std::normal_distribution<double> normal(0.0, 1.0);
  std::exponential_distribution<double> expo(1.0);
  std::uniform_int_distribution<int> small_int(-2, 2);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const T inf = std::numeric_limits<T>::infinity();
  const T big = std::numeric_limits<T>::max();
  const T tiny = std::numeric_limits<T>::denorm_min();
  std::vector<std::size_t> lengths;
  for (std::size_t n = 1; n <= 130; ++n) lengths.push_back(n);
  for (std::size_t n : {255, 256, 257, 1000, 1001, 4096, 4097}) lengths.push_back(n);

  using Fill = std::function<T(std::size_t, std::size_t)>;
  const std::vector<std::pair<std::string, Fill>> fills = {
      {"normal", [&](std::size_t, std::size_t) { return T(normal(rng)); }},
      {"normal+nan+inf",
       [&](std::size_t, std::size_t) {
         const double u = unit(rng);
         return u < 0.05 ? T(NAN) : u < 0.08 ? inf : u < 0.1 ? -inf : T(normal(rng));
       }},
      {"all nan", [&](std::size_t, std::size_t) { return T(NAN); }},
      {"skewed", [&](std::size_t, std::size_t) { return T(std::pow(expo(rng), 6.0)); }},
      {"ties", [&](std::size_t, std::size_t) { return T(small_int(rng)); }},
      // A tie at the middle (+0 only): its bucket holds about 6 % of the column, fewer candidates
      // than the rank count takes (32) for the shorter columns, more for the longer ones.
      {"middle ties",
       [&](std::size_t, std::size_t) { return unit(rng) < 0.06 ? T(0) : T(normal(rng)); }},
      {"constant", [&](std::size_t, std::size_t) { return T(7.25); }},
      {"two values", [&](std::size_t, std::size_t) { return unit(rng) < 0.7 ? T(-3) : T(8); }},
      {"signed zeros",
       [&](std::size_t, std::size_t) { return unit(rng) < 0.5 ? T(-0.0) : T(0.0); }},
      {"zeros and ones",
       [&](std::size_t, std::size_t) {
         const double u = unit(rng);
         return u < 0.3 ? T(-0.0) : u < 0.6 ? T(0.0) : u < 0.8 ? T(-1) : T(1);
       }},
      {"denormals",
       [&](std::size_t, std::size_t) {
         return T(tiny * T(small_int(rng) + 3)) * T(unit(rng) < 0.5 ? -1 : 1);
       }},
      {"huge range", [&](std::size_t i, std::size_t n) { return i < n / 2 ? -big : big; }},
      // [0, max]: the grid's scale n_buckets / max is a denormal for few buckets.
      {"zero to max",
       [&](std::size_t i, std::size_t) { return i % 3 == 0 ? big : T(unit(rng) * 1e-30); }},
      {"huge and normal",
       [&](std::size_t, std::size_t) {
         const double u = unit(rng);
         return u < 0.1 ? -big : u < 0.2 ? big : T(normal(rng));
       }},
      {"two clusters",
       [&](std::size_t i, std::size_t n) {
         return T(i < n / 2 ? normal(rng) : 1e6 + normal(rng));
       }},
      {"outlier", [&](std::size_t i, std::size_t) { return i == 0 ? T(1e30) : T(normal(rng)); }},
      {"sorted", [&](std::size_t i, std::size_t) { return T(double(i) * 0.5); }},
  };
  for (const std::size_t n : lengths) {
    for (const auto& [name, fill] : fills) {
      std::vector<T> x(n);
      for (std::size_t i = 0; i < n; ++i) x[i] = fill(i, n);
      check_column(column, strided, x, {}, 0, name);
      for (const std::size_t k : {1, 3}) {
        const std::vector<std::int32_t> steps = random_steps(rng, n, k);
        check_column(column, strided, x, steps, k, name);
      }
    }
  }
}

TEST(ColumnMedians, MatchReferenceFloat32) { check_many<float>(18); }
TEST(ColumnMedians, MatchReferenceFloat64) { check_many<double>(1818); }

// Recipe steps as contiguous runs (as in fab data): steps of length 1, steps at the wafer's
// level (counted on the wafer's grid), steps far from it or much narrower than the wafer
// (counted on their own grid), both in one column, and middle buckets full of ties (more
// candidates than rows: selected segment by segment). Float and double, even and odd lengths.
template <class T>
void check_contiguous(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  ColumnMedians column;
  StridedMedians strided;
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::uniform_int_distribution<int> small_int(-2, 2);
  using Fill = std::function<T(std::size_t)>;  // given the row's step
  const std::vector<std::pair<std::string, Fill>> fills = {
      {"same level", [&](std::size_t) { return T(normal(rng)); }},
      {"far levels", [&](std::size_t k) { return T(1e6 * double(k % 2) + normal(rng)); }},
      {"narrow step",
       [&](std::size_t k) { return T(k == 1 ? 0.5 + 1e-4 * normal(rng) : 100.0 * normal(rng)); }},
      {"ties", [&](std::size_t) { return T(small_int(rng)); }},
      {"two values", [&](std::size_t) { return unit(rng) < 0.7 ? T(3) : T(5); }},
      {"two values, nan",
       [&](std::size_t) {
         const double u = unit(rng);
         return u < 0.1 ? T(NAN) : u < 0.6 ? T(-1.5) : T(2.5);
       }},
      {"zeros and ones",
       [&](std::size_t) {
         const double u = unit(rng);
         return u < 0.3 ? T(-0.0) : u < 0.6 ? T(0.0) : u < 0.8 ? T(-1) : T(1);
       }},
      {"constant steps", [&](std::size_t k) { return T(double(k) * 0.25); }},
      {"nan steps",
       [&](std::size_t k) {
         return k == 2 ? T(NAN) : k == 0 ? std::numeric_limits<T>::infinity() : T(normal(rng));
       }},
  };
  std::vector<std::size_t> lengths;
  for (std::size_t n = 1; n <= 70; ++n) lengths.push_back(n);
  for (std::size_t n : {127, 128, 129, 500, 501, 2047, 2048, 4097}) lengths.push_back(n);
  for (const std::size_t n : lengths) {
    for (const std::size_t n_steps : {2, 4, 7}) {
      // Run lengths: equal, or steps of length 1 between long ones; a step may be absent.
      for (int layout = 0; layout < 3; ++layout) {
        std::vector<std::int32_t> steps(n);
        for (std::size_t r = 0; r < n; ++r) {
          std::size_t k = r * n_steps / n;
          if (layout == 1) k = r == 0 ? 0 : r == n / 2 ? 1 : r == n - 1 ? n_steps - 1 : 2;
          if (layout == 2) k = std::min<std::size_t>(r % 3 == 0 ? r / 3 : n_steps - 1, n_steps - 1);
          steps[r] = static_cast<std::int32_t>(std::min(k, n_steps - 1));
        }
        std::sort(steps.begin(), steps.end());  // contiguous runs
        for (const auto& [name, fill] : fills) {
          std::vector<T> x(n);
          for (std::size_t r = 0; r < n; ++r) x[r] = fill(static_cast<std::size_t>(steps[r]));
          check_column(column, strided, x, steps, n_steps,
                       name + " layout " + std::to_string(layout));
        }
      }
    }
  }
}

TEST(ColumnMedians, ContiguousStepsFloat32) { check_contiguous<float>(180); }
TEST(ColumnMedians, ContiguousStepsFloat64) { check_contiguous<double>(1800); }

// A bucket the grid leaves wide (most samples in one bucket of a few-bucket grid), and the
// upper middle value as the first sample of its bucket with the lower one several buckets
// below: both paths of the even case.
TEST(ColumnMedians, EvenCountAcrossEmptyBuckets) {
  ColumnMedians column;
  StridedMedians strided;
  for (std::size_t n = 2; n <= 64; n += 2) {
    std::vector<double> x(n);
    for (std::size_t i = 0; i < n; ++i) x[i] = i < n / 2 ? double(i) * 1e-9 : 1e3 + double(i);
    check_column(column, strided, x, {}, 0, "gap");
    std::vector<float> f(x.begin(), x.end());
    check_column(column, strided, f, {}, 0, "gap");
  }
}

// Long columns without steps (ColumnMedians::window_median): the window placed by a sample
// of every 7th row on a coarse grid (normal, lognormal, a trend, NaN and ±Inf, zeros around
// the median), by the sample's order statistics where that grid would put most samples in
// the window (a heavy tail, quantized values, one value holding most, denormals inside a wide
// range, so that the window's own grid overflows), and missed by it (patterns of period 7, the
// sample's stride: the sample sees one phase only) so that the full count decides. Lengths
// around the shortest column the window takes, odd and even.
template <class T>
void check_window(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  ColumnMedians column;
  StridedMedians strided;
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::uniform_int_distribution<int> small_int(-3, 3);
  const T inf = std::numeric_limits<T>::infinity();
  const T tiny = std::numeric_limits<T>::denorm_min();
  using Fill = std::function<T(std::size_t, std::size_t)>;
  const std::vector<std::pair<std::string, Fill>> fills = {
      {"normal", [&](std::size_t, std::size_t) { return T(normal(rng)); }},
      {"lognormal", [&](std::size_t, std::size_t) { return T(std::exp(2.0 * normal(rng))); }},
      {"trend",
       [&](std::size_t i, std::size_t) { return T(100.0 + 1e-3 * double(i) + normal(rng)); }},
      {"normal+nan+inf",
       [&](std::size_t, std::size_t) {
         const double u = unit(rng);
         return u < 0.05 ? T(NAN) : u < 0.07 ? inf : u < 0.09 ? -inf : T(normal(rng));
       }},
      {"zeros of both signs at the median",
       [&](std::size_t, std::size_t) {
         const double u = unit(rng);
         return u < 0.1 ? T(-0.0) : u < 0.2 ? T(0.0) : T(normal(rng));
       }},
      {"positive zeros at the median",
       [&](std::size_t, std::size_t) { return unit(rng) < 0.2 ? T(0.0) : T(normal(rng)); }},
      {"negative zeros at the median",
       [&](std::size_t, std::size_t) { return unit(rng) < 0.2 ? T(-0.0) : T(normal(rng)); }},
      {"heavy tail",
       [&](std::size_t, std::size_t) {
         return T(normal(rng) / std::max(1e-6, std::abs(normal(rng))));
       }},
      {"quantized", [&](std::size_t, std::size_t) { return T(0.5 * small_int(rng) + 0.0); }},
      {"one value holds most",
       [&](std::size_t, std::size_t) { return unit(rng) < 0.8 ? T(3) : T(100.0 * normal(rng)); }},
      {"denormals in a wide range",
       [&](std::size_t, std::size_t) {
         return unit(rng) < 0.9 ? T(tiny * T(small_int(rng) + 4)) : T(normal(rng));
       }},
      {"two clusters",
       [&](std::size_t i, std::size_t n) {
         return T(i < n / 2 ? normal(rng) : 1e6 + normal(rng));
       }},
      {"two values", [&](std::size_t, std::size_t) { return unit(rng) < 0.5 ? T(-3) : T(8); }},
      {"period 7, far",
       [&](std::size_t i, std::size_t) { return T(i % 7 == 0 ? 1e3 + normal(rng) : normal(rng)); }},
      {"period 7, ramp",
       [&](std::size_t i, std::size_t) { return T(double(i % 7) + 0.01 * normal(rng)); }},
  };
  for (const std::size_t n : {511, 512, 513, 514, 700, 701, 2047, 2048, 5001, 40000}) {
    for (const auto& [name, fill] : fills) {
      std::vector<T> x(n);
      for (std::size_t i = 0; i < n; ++i) x[i] = fill(i, n);
      check_column(column, strided, x, {}, 0, name);
    }
  }
}

TEST(ColumnMedians, WindowFloat32) { check_window<float>(7); }
TEST(ColumnMedians, WindowFloat64) { check_window<double>(77); }

}  // namespace

}  // namespace wafermill::features::detail

namespace wafermill::features::detail {
namespace {

// The column copy of a block of a wafer's columns against a plain loop: widths and row counts
// on both sides of the 8×8 (float) and 4×4 (double) register tiles, blocks starting past
// column 0, and the samples between the columns in the buffer left as they were.
template <class T>
void check_transpose() {
  for (const std::size_t n_columns : {1, 3, 4, 7, 8, 9, 16, 19, 33}) {
    for (const std::size_t n_rows : {0, 1, 3, 4, 7, 8, 9, 15, 16, 17, 64, 67}) {
      std::vector<T> rows(n_rows * n_columns);
      for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = T(double(i) + 0.5);
      for (std::size_t c0 = 0; c0 < n_columns; c0 += 5) {
        for (const std::size_t width : {std::size_t{1}, n_columns - c0}) {
          const std::size_t ld = n_rows + 5;
          std::vector<T> got(width * ld, T(-1));
          transpose_columns(rows.data(), n_columns, n_rows, c0, width, got.data(), ld);
          std::vector<T> want(width * ld, T(-1));
          for (std::size_t j = 0; j < width; ++j)
            for (std::size_t r = 0; r < n_rows; ++r)
              want[j * ld + r] = rows[r * n_columns + c0 + j];
          EXPECT_EQ(got, want) << "columns " << n_columns << " rows " << n_rows << " c0 " << c0
                               << " width " << width;
        }
      }
    }
  }
}

TEST(TransposeColumns, MatchesPlainCopyFloat32) { check_transpose<float>(); }
TEST(TransposeColumns, MatchesPlainCopyFloat64) { check_transpose<double>(); }

}  // namespace
}  // namespace wafermill::features::detail
