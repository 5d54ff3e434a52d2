/// @file random.hpp
/// @brief The generator's random numbers: splitmix64 to derive independent seeds from
/// (seed, stream, index), and a small xoshiro256++ engine per stream.
///
/// Every draw is specified here rather than taken from <random>'s distributions, whose
/// algorithms differ between standard libraries: the same seed must give the same file.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>

namespace wafermill::generate {

/// @brief One step of splitmix64 (Steele, Lea, Flood 2014): a bijective 64-bit mixer.
constexpr std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

/// @brief Independent random streams of one generated file; each draws from its own
/// engine so that, say, changing nan_fraction leaves every other sample unchanged.
enum class Stream : std::uint64_t {
  fleet = 1,    ///< sensor table, step levels, tool offsets (one per file)
  length = 2,   ///< wafer length and emptiness (one per wafer)
  plan = 3,     ///< step layout and planted anomaly (one per wafer)
  samples = 4,  ///< sample noise (one per wafer)
  invalid = 5,  ///< positions and kinds of NaN/±Inf (one per wafer)
  lot = 6,      ///< tool of a lot and its lot-to-lot offsets (one per lot)
};

/// @brief The 64-bit key of stream `s`, item `index` (a wafer, a lot, or 0) under `seed`.
constexpr std::uint64_t stream_key(std::uint64_t seed, Stream s, std::uint64_t index) {
  return splitmix64(splitmix64(splitmix64(seed) ^ static_cast<std::uint64_t>(s)) ^
                    splitmix64(index + 0x5851F42D4C957F2DULL));
}

/// @brief xoshiro256++ 1.0 (Blackman and Vigna 2019), seeded by a splitmix64 sequence,
/// with the few distributions the generator needs.
class Random {
 public:
  /// @brief An engine for stream `s`, item `index`, under `seed`.
  Random(std::uint64_t seed, Stream s, std::uint64_t index) {
    std::uint64_t x = stream_key(seed, s, index);
    for (auto& word : state_) {
      x += 0x9E3779B97F4A7C15ULL;
      word = splitmix64(x);
    }
  }

  /// @brief 64 random bits.
  std::uint64_t next() {
    const std::uint64_t result = rotl(state_[0] + state_[3], 23) + state_[0];
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  /// @brief Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  /// @brief Uniform in (0, 1]: safe to take the logarithm of.
  double uniform_open0() { return 1.0 - uniform(); }
  /// @brief Uniform in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// @brief Uniform integer in [0, n), 0 < n < 2^53: floor(U · n).
  std::uint64_t below(std::uint64_t n) {
    const auto k = static_cast<std::uint64_t>(uniform() * static_cast<double>(n));
    return k < n ? k : n - 1;
  }
  /// @brief -1 or +1 with equal probability.
  double sign() { return (next() >> 63) != 0 ? 1.0 : -1.0; }

  /// @brief Standard normal by the Box-Muller transform; the second value of each pair is
  /// kept for the next call.
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double radius = std::sqrt(-2.0 * std::log(uniform_open0()));
    const double angle = 2.0 * std::numbers::pi * uniform();
    spare_ = radius * std::sin(angle);
    has_spare_ = true;
    return radius * std::cos(angle);
  }

  /// @brief Failures before the first success of Bernoulli(p) trials, 0 < p < 1:
  /// floor(ln U / ln(1 - p)) (the inverse CDF of the geometric distribution).
  std::uint64_t geometric(double p) {
    const double g = std::floor(std::log(uniform_open0()) / std::log1p(-p));
    return g >= 1.8e19 ? UINT64_MAX : static_cast<std::uint64_t>(g);
  }

 private:
  static constexpr std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

  std::array<std::uint64_t, 4> state_{};
  double spare_ = 0.0;
  bool has_spare_ = false;
};

}  // namespace wafermill::generate
