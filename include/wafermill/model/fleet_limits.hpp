/// @file fleet_limits.hpp
/// @brief The verdict of a run without a model (docs/MONITORING.md "Without a model"): each
/// scored column's studentised prediction residual against the fleet's other wafers, a
/// per-column limit from Student's t at the false-alarm rate A split over the columns
/// (Bonferroni), and a reference refitted once without the wafers the first fit flags.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include <mpi.h>
#include <nlohmann/json.hpp>

#include "wafermill/reduce/exact_sum.hpp"

namespace wafermill::model {

/// @brief The two-sided per-column limit on |t| for a wafer-level false-alarm rate `a` over
/// `columns` columns (Bonferroni: a / columns per column), with `dof` degrees of freedom:
/// Student's t quantile 1 − a / (2 columns). Infinity when dof is 0.
double prediction_limit(std::uint64_t dof, std::size_t columns, double a);

/// @brief The limit of an unbounded fleet: the normal quantile 1 − a / (2 columns).
double normal_limit(std::size_t columns, double a);

/// @brief The smallest fleet whose limit is within 1.5× the limit of an unbounded fleet (the
/// normal quantile): below it a run warns that its limit is too loose to flag anything but
/// gross faults. Always ≥ 3 (the fewest wafers whose leave-one-out t has a degree of freedom).
std::uint64_t smallest_fleet(std::size_t columns, double a);

/// @brief One column of the reference: n finite values, their mean, sum of squared deviations
/// m2 and excess kurtosis (n m4 / m2² − 3; 0 below 4 values or for a constant column).
struct ColumnFit {
  std::uint64_t n = 0;
  double mean = 0.0;
  double m2 = 0.0;
  double kurtosis = 0.0;
};

/// @brief The per-column limit on |t| (prediction_residual) with `dof` degrees of freedom,
/// widened for a heavy-tailed column: a column whose excess kurtosis κ > 0 is taken as
/// Student's t with ν = 4 + 6/κ degrees of freedom (the t of that kurtosis), scaled to unit
/// variance, when ν < dof: limit t_ν⁻¹(1 − a/(2 columns)) √((ν − 2)/ν). Otherwise
/// prediction_limit(dof, columns, a).
double column_limit(const ColumnFit& c, std::uint64_t dof, std::size_t columns, double a);

/// @brief The studentised prediction residual of `x` against the column's reference and its
/// degrees of freedom. A wafer inside the reference is left out of it (the mean and m2 without
/// it, exactly from the column's figures), so that |t| is not bounded by (n−1)/√n as a z of a
/// wafer against statistics that hold it is. Under normality t follows Student's t with the
/// returned dof. NaN (dof 0) when x is not finite or the reference is too small or constant.
struct Residual {
  double t = std::numeric_limits<double>::quiet_NaN();
  std::uint64_t dof = 0;
};
Residual prediction_residual(const ColumnFit& c, double x, bool in_reference);

/// @brief prediction_residual of one column for many values: its per-column constants computed
/// once. The same t and dof as prediction_residual, bit for bit (the same operations).
class ColumnResidual {
 public:
  explicit ColumnResidual(const ColumnFit& c);
  Residual operator()(double x, bool in_reference) const {
    Residual r;
    if (!std::isfinite(x)) return r;
    const double d = x - mean_;
    if (in_reference) {
      if (n_ < 3) return r;
      const double m2 = m2_ - d * d * n_d_ / n1_;
      if (!(m2 > 0.0)) return r;
      const double s = std::sqrt(m2 / n2_);
      r.t = d * n_d_ / n1_ / (s * root_in_);
      r.dof = n_ - 2;
    } else {
      if (!out_ok_) return r;
      r.t = d / scale_out_;
      r.dof = n_ - 1;
    }
    return r;
  }

  /// @brief For each i with a residual (dof > 0): score[i] = max(score[i], |t| / limit), t the
  /// residual of x[i], in the reference unless outside[i], limit lim_in or lim_out likewise.
  /// The same bits as operator() value by value (AVX2 where the CPU has it).
  void raise_scores(const double* x, const std::uint8_t* outside, std::size_t n, double lim_in,
                    double lim_out, double* score) const;

 private:
  std::uint64_t n_;
  double mean_, m2_, n_d_, n1_, n2_, root_in_, scale_out_ = 0.0;
  bool out_ok_;
};

/// @brief Exact sums of the reference's values per column, shifted by `origin` (the fleet's
/// column means), over ranks. A value that is not finite is skipped.
class ReferenceSums {
 public:
  /// @brief `kurtosis` false: only Σ d and Σ d² are kept (ColumnFit::kurtosis stays 0).
  explicit ReferenceSums(std::vector<double> origin, bool kurtosis = true);
  /// @brief Adds one wafer's values (in column order).
  void add(std::span<const double> x);
  /// @brief Adds column j's values of many wafers (the same sums as add() wafer by wafer).
  void add_column(std::size_t j, std::span<const double> x);
  /// @brief Sums over comm (MPI_COMM_NULL: this process alone) and returns each column's fit:
  /// the same bits on every rank for any number of ranks.
  std::vector<ColumnFit> reduce(MPI_Comm comm);
  /// @brief After reduce(): the sums Σ d and Σ d² (no kurtosis) of columns `columns` (in that
  /// order, the same origins), to be cut down by subtract_column() to a subset of the wafers
  /// and then reduce()d: `whole` (on exactly one rank) starts from the reduced sums, the other
  /// ranks from zero. Exact sums: the same bits as summing the subset's values directly.
  ReferenceSums remainder(const std::vector<std::size_t>& columns, bool whole) const;
  /// @brief Takes column j's values of many wafers out again (added before on some rank).
  void subtract_column(std::size_t j, std::span<const double> x);

 private:
  // Column j's finite values less its origin, compacted into d_ (the first k entries).
  std::span<const double> deviations(std::size_t j, std::span<const double> x);
  std::vector<double> origin_;
  std::vector<std::uint64_t> n_;  // wraps below zero on a rank that only subtracts
  std::size_t per_ = 4;           // sums per column: Σ d, Σ d² (, Σ d³, Σ d⁴)
  std::vector<reduce::ExactSum> sums_;
  std::vector<double> d_, d2_;  // add_column's scratch
};

/// @brief What the run's own fit did, for the report (`monitoring`, kind "fleet").
struct FleetFitSummary {
  double false_alarm_rate = 0.01;    ///< A
  std::size_t columns = 0;           ///< scored columns
  std::size_t columns_dropped = 0;   ///< count/invalid_count, undefined, constant or copies
  std::uint64_t wafers = 0;          ///< the fleet
  std::uint64_t reference = 0;       ///< wafers in the final fit (those the first did not flag)
  std::uint32_t rounds = 0;          ///< fits: 2 (fit, exclude, refit), 1 when nothing was flagged
  bool converged = true;             ///< the last fit flagged the wafers the one before did
  double limit = 0.0;                ///< |t| limit at the final reference's size
  double limit_unbounded = 0.0;      ///< |t| limit of an unbounded fleet (normal quantile)
  std::uint64_t smallest_fleet = 0;  ///< smallest_fleet(columns, A)
  std::string warning;               ///< too small a fleet, no column, not settled, or ""
  // The calibrated limit (fleet_calibration.hpp, docs/MONITORING.md "Calibrated limits").
  std::string limit_rule = "parametric";  ///< --fleet-limit: parametric, reference or fleet
  std::string limit_used = "parametric";  ///< "calibrated" when a quantile above 1 was applied
  double calibrated_limit =
      std::numeric_limits<double>::quiet_NaN();  ///< the quantile (score units)
  std::uint64_t calibration_reference = 0;       ///< wafers ranked (n): the reference or all
  std::uint64_t calibration_rank = 0;            ///< ⌈(n + 1)(1 − A)⌉
  std::uint64_t flagged_parametric = 0;          ///< wafers the Student t limits alone flag
  double limit_factor = 1.0;  ///< what the scores were divided by: max(1, calibrated_limit)
};

/// @brief The report's `monitoring` section of a run without a model.
nlohmann::json fleet_fit_json(const FleetFitSummary& s, bool old_rule);

}  // namespace wafermill::model
