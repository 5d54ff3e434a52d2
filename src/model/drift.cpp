#include "wafermill/model/drift.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>

#include <boost/math/distributions/chi_squared.hpp>

#include "wafermill/error.hpp"
#include "wafermill/metrics/metrics.hpp"

namespace wafermill::model {
namespace {

double median(std::vector<double> x) {
  const std::size_t h = x.size() / 2;
  std::nth_element(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(h), x.end());
  const double hi = x[h];
  if (x.size() % 2 == 1) return hi;
  return 0.5 * (*std::max_element(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(h)) + hi);
}

}  // namespace

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

namespace {

// log C(L, m).
double log_choose(double L, double m) {
  return std::lgamma(L + 1.0) - std::lgamma(m + 1.0) - std::lgamma(L - m + 1.0);
}

// The lot rule (assess_drift): each column's scale s_j and the max-T quantile q from the
// reference's lots.
void judge_by_lots(const PcaModel& m, DriftReport& r) {
  const std::size_t J = m.n_columns(), B = kReferenceBins, L = m.lot_names.size();
  const std::size_t JB = J * B;
  std::vector<std::uint64_t> total(JB, 0);
  for (std::size_t l = 0; l < L; ++l)
    for (std::size_t q = 0; q < JB; ++q) total[q] += m.lot_counts[l * JB + q];
  std::mt19937_64 rng(0x5eed0000ULL + r.lots);  // fixed: the same draws every time
  // Every draw's PSI per column is kept (the columns' medians need them all), in float, within
  // kLotPsiBytes: fewer draws for very many columns (kLotResamples up to 8,000 columns).
  const std::size_t D = std::clamp<std::size_t>(
      kLotPsiBytes / (sizeof(float) * std::max<std::size_t>(1, J)), kMinLotResamples,
      kLotResamples);
  r.lot_resamples = D;
  std::vector<std::size_t> order(L);
  std::vector<std::uint64_t> drawn(JB);
  std::vector<float> psi(D * J);
  std::vector<double> p(B), q(B);
  for (std::size_t d = 0; d < D; ++d) {
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::fill(drawn.begin(), drawn.end(), 0);
    for (std::size_t i = 0; i < r.lots; ++i) {  // partial Fisher-Yates
      std::swap(order[i], order[i + rng() % (L - i)]);  // the same draws with any library
      const std::uint64_t* c = m.lot_counts.data() + order[i] * JB;
      for (std::size_t k = 0; k < JB; ++k) drawn[k] += c[k];
    }
    for (std::size_t j = 0; j < J; ++j) {
      for (std::size_t b = 0; b < B; ++b) {
        p[b] = static_cast<double>(drawn[j * B + b]);
        q[b] = static_cast<double>(total[j * B + b] - drawn[j * B + b]);
      }
      psi[d * J + j] =
          static_cast<float>(metrics::population_stability_index(p, q, kDriftSmoothing));
    }
  }
  std::vector<double> scale(J), column(D), t(D, 0.0);
  for (std::size_t j = 0; j < J; ++j) {
    for (std::size_t d = 0; d < D; ++d) column[d] = psi[d * J + j];
    scale[j] = std::max(median(column), 1e-12);
    for (std::size_t d = 0; d < D; ++d) t[d] = std::max(t[d], psi[d * J + j] / scale[j]);
  }
  // The (1 − α) quantile: the ⌈(1 − α)(D + 1)⌉-th smallest of the D draws.
  const auto at = std::min<std::size_t>(
      D - 1, static_cast<std::size_t>(std::ceil((1.0 - r.false_alarm_rate) * (D + 1.0))) - 1);
  std::nth_element(t.begin(), t.begin() + static_cast<std::ptrdiff_t>(at), t.end());
  r.lot_quantile = t[at];
  r.statistical_threshold = 0.0;
  for (auto& c : r.columns) {
    const double s = r.lot_quantile * scale[c.column];
    r.statistical_threshold = std::max(r.statistical_threshold, s);
    c.threshold = std::max(r.threshold, s);
    c.drifted = c.psi > c.threshold;
  }
  r.applied_threshold = std::max(r.threshold, r.statistical_threshold);
}

}  // namespace

DriftReport assess_drift(const PcaModel& m, std::span<const std::uint64_t> counts,
                         std::uint64_t wafers, double threshold, std::uint64_t lots) {
  DriftReport r;
  r.wafers = wafers;
  r.threshold = threshold;
  r.lots = lots;
  r.reference_lots = m.lot_names.size();
  const double B = static_cast<double>(kReferenceBins);
  const double n = static_cast<double>(std::max<std::uint64_t>(1, wafers));
  const double N = static_cast<double>(std::max<std::uint64_t>(1, m.sum_n));
  const double scale = 1.0 / n + 1.0 / N;  // PSI / scale ~ χ²_{B−1} when nothing moved
  const boost::math::chi_squared chi2(B - 1.0);
  const double J = static_cast<double>(std::max<std::size_t>(1, m.n_columns()));
  r.assessed = wafers >= kMinDriftWafers;
  r.noise_floor = (B - 1.0) * scale;
  r.chi2_quantile = boost::math::quantile(boost::math::complement(chi2, r.false_alarm_rate / J));
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
    r.columns.push_back(c);
  }
  // Inflation (genomic control): the median X over the columns, in units of χ²'s median, at
  // least 1; per feature when kMinInflationColumns sensors share the feature (lot and tool
  // offsets inflate location features far more than spread or shape features), else over all
  // columns when there are kMinInflationColumns, else 1.
  const double chi2_median = boost::math::median(chi2);
  auto inflation_of = [&](auto&& in_group) {
    std::vector<double> x;
    for (const auto& c : r.columns)
      if (in_group(c.column)) x.push_back(c.psi / scale);
    return x.size() >= kMinInflationColumns ? std::max(1.0, median(x) / chi2_median) : 0.0;
  };
  r.inflation = std::max(1.0, inflation_of([](std::size_t) { return true; }));
  r.column_inflation.assign(m.n_columns(), r.inflation);
  // The sensors' columns of one feature over one span (the whole wafer or one recipe step).
  std::map<std::pair<std::string, std::int32_t>, double> by_feature;
  for (std::size_t j = 0; j < m.n_columns(); ++j) {
    const auto key = std::make_pair(m.column_feature[j], m.step_of(j));
    if (!by_feature.count(key))
      by_feature[key] = inflation_of([&](std::size_t k) {
        return m.column_feature[k] == key.first && m.step_of(k) == key.second;
      });
    if (by_feature[key] > 0.0) r.column_inflation[j] = by_feature[key];
  }
  double largest = 0.0;
  for (double l : r.column_inflation) largest = std::max(largest, l);
  r.statistical_threshold = largest * scale * r.chi2_quantile;
  r.applied_threshold = std::max(threshold, r.statistical_threshold);
  for (auto& c : r.columns) {
    c.threshold = std::max(threshold, r.column_inflation[c.column] * scale * r.chi2_quantile);
    c.drifted = r.assessed && c.psi > c.threshold;
  }
  if (r.assessed) {
    r.rule = "chi2";
  } else if (lots > 0 && m.has_lot_histograms() && lots < r.reference_lots &&
             log_choose(static_cast<double>(r.reference_lots), static_cast<double>(lots)) >=
                 std::log(kMinLotSets)) {
    r.rule = "lots";
    r.assessed = true;
    judge_by_lots(m, r);
  }
  return r;
}

nlohmann::json drift_json(const PcaModel& m, const DriftReport& r) {
  nlohmann::json cols = nlohmann::json::array(), named = nlohmann::json::array();
  for (const auto& c : r.columns)
    cols.push_back({{"column", column_name(m, c.column)},
                    {"kl", c.kl},
                    {"psi", c.psi},
                    {"inflation", r.column_inflation[c.column]},
                    {"psi_threshold", c.threshold},
                    {"drifted", c.drifted}});
  for (const auto& c : r.drifted())
    named.push_back({{"column", column_name(m, c.column)},
                     {"psi", c.psi},
                     {"kl", c.kl},
                     {"psi_threshold", c.threshold}});
  return {{"wafers", r.wafers},
          {"reference_wafers", m.sum_n},
          {"bins", kReferenceBins},
          {"assessed", r.assessed},
          {"min_wafers", kMinDriftWafers},
          {"false_alarm_rate", r.false_alarm_rate},
          {"noise_floor_psi", r.noise_floor},
          {"chi2_quantile", r.chi2_quantile},
          {"inflation", r.inflation},
          {"statistical_psi_threshold", r.statistical_threshold},
          {"psi_threshold", r.threshold},
          {"applied_psi_threshold", r.applied_threshold},
          {"rule", r.rule},
          {"lots", r.lots},
          {"lot_by", m.lot_by},
          {"reference_lots", r.reference_lots},
          {"lot_resamples", r.lot_resamples},
          {"lot_max_t_quantile", r.lot_quantile},
          {"columns", cols},
          {"drifted", named}};
}

std::string column_name(const PcaModel& m, std::size_t j) {
  const std::int32_t k = m.step_of(j);
  return m.column_sensor[j] + "/" + m.column_feature[j] +
         (k >= 0 ? " (step " + std::to_string(k) + ")" : std::string());
}

}  // namespace wafermill::model
