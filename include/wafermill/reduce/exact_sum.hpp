/// @file exact_sum.hpp
/// @brief An exact, order-independent sum of doubles (a superaccumulator), so that a sum over
/// rows spread across any number of ranks, in any order, is the same bits everywhere
/// (FIELD_NOTES "Reproducible reductions": plain sums gave 9 results over 9 orders, this one).
///
/// The value is held in fixed point: 68 limbs of 32 bits, each in an int64 with room for
/// carries, limb i worth 2^(32 i - 1088). Every finite double (2^-1074 … 2^1024) lands on
/// whole limbs, so an add is exact: its 53-bit mantissa is split over at most three limbs.
/// Carries are propagated every 2^30 adds and before merging or reading. Merging adds limbs.
/// Over MPI the state travels as 68 int64 (a contiguous type) under a commutative user op.
///
/// The span adds (add(span), add_products) are the fast path for many values of one column:
/// a value whose bits lie within 120 bits above a base (the first value's lowest bit less 38)
/// is split exactly into three 40-bit integers, summed in double (exact below 2^53), four
/// values at a time with AVX2, and added to the limbs every 4,096 values; any other value
/// (too small, too large, not finite) goes to the limbs as add() does. The exact sum is the
/// same, so are value(), value_pair(), zero() and what travels over MPI (normalised limbs).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include <mpi.h>

namespace wafermill::reduce {

/// @brief The exact sum of the finite doubles added to it.
class ExactSum {
 public:
  static constexpr int kLimbs = 68;
  static constexpr int kBias = 1088;  ///< limb i is worth 2^(32 i - kBias)

  /// @brief Adds x exactly. Non-finite x are the caller's to count: they are ignored here.
  void add(double x) {
    if (pending_ >= kNormaliseEvery) normalise();
    add_unchecked(x);
  }
  /// @brief Adds a·b exactly (the product and its rounding error, by fused multiply-add).
  void add_product(double a, double b);
  /// @brief Adds every x[i] exactly: the same sum as add(x[i]) for each, faster.
  void add(std::span<const double> x);
  /// @brief Adds every a[i]·b[i] exactly: the same sum as add_product(a[i], b[i]) for each,
  /// faster. a and b have the same size.
  void add_products(std::span<const double> a, std::span<const double> b);
  /// @brief Adds another sum exactly.
  void merge(const ExactSum& other);
  /// @brief The sum rounded to double (nearest; the same bits for the same exact value).
  double value() const;
  /// @brief The sum as an unevaluated pair hi + lo (hi = value(), lo = the rest, rounded):
  /// about 106 bits, enough for differences of large, nearly equal sums.
  void value_pair(double& hi, double& lo) const;
  /// @brief True when the sum is exactly zero.
  bool zero() const;

  /// @brief The MPI datatype of one ExactSum (committed once, freed at MPI_Finalize).
  static MPI_Datatype mpi_type();
  /// @brief The commutative MPI op that merges ExactSums (created once).
  static MPI_Op mpi_sum();

 private:
  friend void allreduce_exact(ExactSum* sums, std::size_t count, MPI_Comm comm);
  static constexpr int kNormaliseEvery = 1 << 30;
  void add_unchecked(double x);
  /// Adds ±v·2^(position - kBias) (0 <= position, position + 64 <= 32 kLimbs).
  void add_bits(std::uint64_t v, int position, bool negative);
  /// Adds v·2^(position - kBias) for an integer-valued double |v| < 2^53.
  void add_integer(double v, int position);
  struct Window;  // the span adds' window: its anchor (exact_sum.cpp)
  /// Adds x[0 .. n) through the window w (anchored at the first nonzero finite value).
  void add_all(Window& w, const double* x, std::size_t n);
  void normalise();
  std::array<std::int64_t, kLimbs> limb_{};
  std::int64_t pending_ = 0;  // adds since the last normalise (each limb moved by < 2^32)
};

/// @brief Sums `count` ExactSums element-wise over `comm` (every rank gets the result);
/// does nothing on MPI_COMM_NULL.
void allreduce_exact(ExactSum* sums, std::size_t count, MPI_Comm comm);

}  // namespace wafermill::reduce
