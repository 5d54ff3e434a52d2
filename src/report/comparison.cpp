/// @file comparison.cpp
/// @brief The comparison and accuracy arithmetic of the run report (comparison.hpp).
#include "wafermill/report/comparison.hpp"

#include <algorithm>
#include <vector>

#include "wafermill/metrics/metrics.hpp"

namespace wafermill::report {
namespace {

std::vector<double> two_bins(std::uint64_t bad, std::uint64_t total) {
  return {static_cast<double>(total - bad), static_cast<double>(bad)};
}

}  // namespace

void add_histogram_kl(Accuracy& a, std::span<const std::uint64_t> ref,
                      std::span<const std::uint64_t> got, std::size_t bins) {
  double kl_max = 0.0, kl_sum = 0.0;
  std::size_t columns = 0;
  for (std::size_t off = 0; bins > 0 && off + bins <= ref.size() && off + bins <= got.size();
       off += bins) {
    std::vector<double> pv(ref.begin() + off, ref.begin() + off + bins);
    std::vector<double> qv(got.begin() + off, got.begin() + off + bins);
    double sp = 0, sq = 0;
    for (std::size_t i = 0; i < bins; ++i) {
      sp += pv[i];
      sq += qv[i];
    }
    if (sp == 0 && sq == 0) continue;  // a feature that is never finite
    const double kl = metrics::kl_divergence(pv, qv, a.smoothing_alpha);
    kl_max = std::max(kl_max, kl);
    kl_sum += kl;
    ++columns;
  }
  if (columns > 0) {
    a.kl_histograms_max = kl_max;
    a.kl_histograms_mean = kl_sum / static_cast<double>(columns);
  }
}

void add_label_accuracy(Accuracy& a, std::uint64_t tp, std::uint64_t fp, std::uint64_t tn,
                        std::uint64_t fn, std::uint64_t parallel_flagged,
                        std::optional<std::uint64_t> sequential_flagged) {
  const std::uint64_t bad = tp + fn;
  const std::uint64_t n = tp + fp + tn + fn;
  const auto truth = two_bins(bad, n);
  const auto par = two_bins(parallel_flagged, n);
  a.label_distribution = metrics::distribution(truth);
  a.parallel_flag_distribution = metrics::distribution(par);
  a.kl_labels_parallel = metrics::kl_divergence(truth, par, a.smoothing_alpha);
  if (sequential_flagged) {
    const auto seq = two_bins(*sequential_flagged, n);
    a.sequential_flag_distribution = metrics::distribution(seq);
    a.kl_labels_sequential = metrics::kl_divergence(truth, seq, a.smoothing_alpha);
    if (*a.kl_labels_parallel > 0)
      a.accuracy_ratio = *a.kl_labels_sequential / *a.kl_labels_parallel;
  }
  a.tp = tp;
  a.fp = fp;
  a.tn = tn;
  a.fn = fn;
}

void add_combined_score(RunReport& r, const ScoreWeighting& w) {
  auto& c = r.comparison;
  const auto& a = r.accuracy;
  std::optional<double> inv_kl;
  if (a.kl_labels_parallel && *a.kl_labels_parallel > 0) inv_kl = 1.0 / *a.kl_labels_parallel;
  std::optional<double> gpu;
  if (r.parallel.gpu_utilisation) gpu = *r.parallel.gpu_utilisation / 100.0;
  c.score_terms = {
      {"inverse_time",
       {w.time, r.parallel.wall_s > 0 ? std::optional(1.0 / r.parallel.wall_s) : std::nullopt}},
      {"inverse_kl", {w.kl, inv_kl}},
      {"memory_efficiency", {w.memory, c.memory_efficiency}},
      {"gpu_efficiency", {w.gpu, gpu}}};
  std::vector<metrics::ScoreTerm> terms;
  for (const auto& [name, t] : c.score_terms) terms.push_back(t);
  c.score = metrics::combined_score(terms);
}

}  // namespace wafermill::report
