/// @file comparison.hpp
/// @brief The arithmetic of the report's comparison and accuracy sections (docs/METRICS.md):
/// plain numbers in, report fields out; the job gathers the numbers.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "wafermill/report/run_report.hpp"

namespace wafermill::report {

/// @brief The histogram check: D_KL(reference ‖ parallel) of each (sensor, feature) histogram of
/// `bins` counts, `ref` and `got` laid out alike; columns empty in both are skipped. Sets
/// kl_histograms_max and _mean (left absent when no column has counts).
void add_histogram_kl(Accuracy& a, std::span<const std::uint64_t> ref,
                      std::span<const std::uint64_t> got, std::size_t bins);

/// @brief Flags against labels: the confusion counts of the parallel run's flags, the share
/// each run flagged, D_KL(labels ‖ flags) for the parallel run and (with `sequential_flagged`)
/// the baseline, and their ratio R.
void add_label_accuracy(Accuracy& a, std::uint64_t tp, std::uint64_t fp, std::uint64_t tn,
                        std::uint64_t fn, std::uint64_t parallel_flagged,
                        std::optional<std::uint64_t> sequential_flagged);

/// @brief The weights of the combined score's terms (docs/METRICS.md "Combined score").
struct ScoreWeighting {
  double time = 1, kl = 1, memory = 1, gpu = 1;
};

/// @brief The combined score's terms (1/T, 1/D_KL, E_memory, E_GPU; absent ones dropped and the
/// weights renormalised) and the score, from the report's figures.
void add_combined_score(RunReport& r, const ScoreWeighting& w);

}  // namespace wafermill::report
