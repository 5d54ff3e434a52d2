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
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include <mpi.h>

namespace wafermill::reduce {

/// @brief The exact sum of the finite doubles added to it.
class ExactSum {
 public:
  static constexpr int kLimbs = 68;
  static constexpr int kBias = 1088;  ///< limb i is worth 2^(32 i - kBias)

  /// @brief Adds x exactly. Non-finite x are the caller's to count: they are ignored here.
  void add(double x) {
    if (pending_ == kNormaliseEvery) normalise();
    add_unchecked(x);
  }
  /// @brief Adds a·b exactly (the product and its rounding error, by fused multiply-add).
  void add_product(double a, double b);
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
  void normalise();
  std::array<std::int64_t, kLimbs> limb_{};
  std::int64_t pending_ = 0;  // adds since the last normalise (each limb moved by < 2^32)
};

/// @brief Sums `count` ExactSums element-wise over `comm` (every rank gets the result);
/// does nothing on MPI_COMM_NULL.
void allreduce_exact(ExactSum* sums, std::size_t count, MPI_Comm comm);

}  // namespace wafermill::reduce
