/// @file fleet_calibration.hpp
/// @brief The calibrated limit of a run without a model (docs/MONITORING.md "Without a model",
/// "Calibrated limit"): the wafer-level score's empirical (1 − A) quantile over the refit's
/// reference wafers (their own leave-one-out scores), with the finite-sample rank ⌈(n+1)(1−A)⌉
/// of split conformal prediction, found by an exact distributed selection: integer histograms
/// of the scores' order-preserving bit patterns, summed over the ranks, so that the limit is the
/// same bits for any number of ranks and any split of the wafers.
#pragma once

#include <cstdint>
#include <span>

#include <mpi.h>

namespace wafermill::model {

/// @brief ⌈(n + 1)(1 − a)⌉ = n + 1 − ⌊(n + 1) a⌋: the rank (1-based, among n reference scores) of
/// the split-conformal quantile. Above n when the reference is too small for the level
/// (n + 1 < 1/a): no finite limit is then calibrated.
/// @throws std::invalid_argument when a is not in (0, 1).
std::uint64_t conformal_rank(std::uint64_t n, double a);

/// @brief The fewest reference scores whose conformal_rank is within them (n + 1 ≥ 1/a): below
/// it no limit can be calibrated at a. @throws std::invalid_argument when a is not in (0, 1).
std::uint64_t smallest_calibration_set(double a);

/// @brief A key whose unsigned order is the order of the doubles (−0 and +0 the same key; NaN
/// above +∞).
std::uint64_t order_key(double x);

/// @brief The k-th smallest (1-based) of every rank's `local` values over comm (MPI_COMM_NULL:
/// this process alone), exactly: four passes of 16-bit digits of order_key, each an
/// MPI_Allreduce of a 65,536-bin integer histogram (512 KiB, whatever the number of values), and
/// the value back from the selected key. Collective; every rank gets the same
/// bits. @throws std::invalid_argument when k is 0 or above the number of values.
double exact_order_statistic(std::span<const double> local, std::uint64_t k, MPI_Comm comm);

/// @brief What the calibration found (FleetFitSummary fields of the same names).
struct FleetCalibration {
  std::uint64_t reference = 0;  ///< wafers whose scores were ranked (n)
  std::uint64_t rank = 0;       ///< conformal_rank(n, a); above n: no calibrated limit
  double quantile = 0.0;        ///< the rank-th smallest ranked score (NaN when rank > n)
  double factor = 1.0;          ///< max(1, quantile) when applied: what the scores are divided by
  std::uint64_t flagged_parametric = 0;  ///< wafers (all ranks) the parametric limits flag
};

/// @brief Calibrates and applies the limit: `scores` are this rank's wafers' scores against the
/// parametric limits (flag when > 1); the wafers with `ranked[i]` set are the calibration set
/// (the refit's reference, whose scores are leave-one-out ones, or every wafer). The limit
/// becomes max(1, quantile): when the quantile is above 1 every score is divided by it and every
/// flag set again (flag = score > 1); otherwise nothing changes (the same bits as the parametric
/// verdict). `apply` false: the rank and quantile are found and reported, the verdict stays
/// parametric. Collective.
/// @throws std::invalid_argument when the spans differ in size or a is not in (0, 1).
FleetCalibration calibrate_fleet_scores(std::span<double> scores, std::span<std::uint8_t> flags,
                                        std::span<const std::uint8_t> ranked, double a, bool apply,
                                        MPI_Comm comm);

}  // namespace wafermill::model
