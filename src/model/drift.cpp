#include "wafermill/model/drift.hpp"

#include <algorithm>

#include "wafermill/error.hpp"
#include "wafermill/metrics/metrics.hpp"

namespace wafermill::model {

std::vector<ColumnDrift> DriftReport::drifted() const {
  std::vector<ColumnDrift> out;
  for (const auto& c : columns)
    if (c.drifted) out.push_back(c);
  std::stable_sort(out.begin(), out.end(),
                   [](const ColumnDrift& a, const ColumnDrift& b) { return a.psi > b.psi; });
  return out;
}

DriftTally::DriftTally(const PcaModel& m) : model_(m) {
  if (!m.has_histograms())
    throw InputError(
        "the model has no reference histograms (format v1): refit it with `wafermill fit` for "
        "drift");
  counts_.assign(m.n_columns() * kReferenceBins, 0);
}

void DriftTally::add(std::span<const double> x) {
  for (std::size_t j = 0; j < model_.n_columns(); ++j) {
    const std::size_t b = reference_bin(model_, j, x[j]);
    if (b < kReferenceBins) ++counts_[j * kReferenceBins + b];
  }
  ++wafers_;
}

DriftReport assess_drift(const PcaModel& m, std::span<const std::uint64_t> counts,
                         std::uint64_t wafers, double threshold) {
  DriftReport r;
  r.wafers = wafers;
  r.threshold = threshold;
  const double B = static_cast<double>(kReferenceBins);
  const double n = static_cast<double>(std::max<std::uint64_t>(1, wafers));
  const double N = static_cast<double>(std::max<std::uint64_t>(1, m.sum_n));
  r.applied_threshold = std::max(threshold, 3.0 * (B - 1.0) * (1.0 / n + 1.0 / N));
  std::vector<double> p(kReferenceBins), q(kReferenceBins);
  for (std::size_t j = 0; j < m.n_columns(); ++j) {
    for (std::size_t b = 0; b < kReferenceBins; ++b) {
      p[b] = static_cast<double>(counts[j * kReferenceBins + b]);
      q[b] = static_cast<double>(m.hist_counts[j * kReferenceBins + b]);
    }
    ColumnDrift c;
    c.column = j;
    c.kl = metrics::kl_divergence(p, q, kDriftSmoothing);
    c.psi = metrics::population_stability_index(p, q, kDriftSmoothing);
    c.drifted = wafers > 0 && c.psi > r.applied_threshold;
    r.columns.push_back(c);
  }
  return r;
}

nlohmann::json drift_json(const PcaModel& m, const DriftReport& r) {
  nlohmann::json cols = nlohmann::json::array(), named = nlohmann::json::array();
  for (const auto& c : r.columns)
    cols.push_back({{"column", column_name(m, c.column)},
                    {"kl", c.kl},
                    {"psi", c.psi},
                    {"drifted", c.drifted}});
  for (const auto& c : r.drifted())
    named.push_back({{"column", column_name(m, c.column)}, {"psi", c.psi}, {"kl", c.kl}});
  return {{"wafers", r.wafers},
          {"reference_wafers", m.sum_n},
          {"bins", kReferenceBins},
          {"psi_threshold", r.threshold},
          {"applied_psi_threshold", r.applied_threshold},
          {"columns", cols},
          {"drifted", named}};
}

std::string column_name(const PcaModel& m, std::size_t j) {
  return m.column_sensor[j] + "/" + m.column_feature[j];
}

}  // namespace wafermill::model
