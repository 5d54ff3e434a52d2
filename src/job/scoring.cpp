#include "scoring.hpp"

#include <algorithm>
#include <cmath>

namespace wafermill::job {

ScoringResult score_and_summarise(format::FeatureFileWriter& writer,
                                  const format::TraceIndex& index, const JobConfig& config,
                                  const reduce::BlockReducer& reducer) {
  const std::uint64_t n = index.n_wafers;
  const std::size_t s = index.n_sensors;
  const std::size_t f = config.features.size();
  const std::size_t columns = s * f;

  // Per-sensor moments over all finite samples, blocks merged in block order.
  const std::vector<reduce::Moments> fleet = reducer.result();
  {
    std::vector<double> count(s), mean(s), m2(s), m3(s), m4(s), mn(s), mx(s), sd(s);
    for (std::size_t i = 0; i < s; ++i) {
      count[i] = fleet[i].n;
      mean[i] = fleet[i].n > 0 ? fleet[i].mean : NAN;
      m2[i] = fleet[i].m2;
      m3[i] = fleet[i].m3;
      m4[i] = fleet[i].m4;
      mn[i] = fleet[i].n > 0 ? fleet[i].min : NAN;
      mx[i] = fleet[i].n > 0 ? fleet[i].max : NAN;
      sd[i] = std::sqrt(reduce::sample_variance(fleet[i]));
    }
    const std::vector<std::uint64_t> dims{s};
    writer.write_summary("sensor_count", count, dims);
    writer.write_summary("sensor_mean", mean, dims);
    writer.write_summary("sensor_m2", m2, dims);
    writer.write_summary("sensor_m3", m3, dims);
    writer.write_summary("sensor_m4", m4, dims);
    writer.write_summary("sensor_min", mn, dims);
    writer.write_summary("sensor_max", mx, dims);
    writer.write_summary("sensor_std", sd, dims);
  }

  // Two passes over the features in wafer order, in chunks of at most ~1/8 of the budget.
  const std::uint64_t chunk = std::max<std::uint64_t>(
      1, config.memory_budget_bytes / 8 / std::max<std::uint64_t>(1, columns * 8));
  std::vector<double> rows;
  reduce::FeatureColumnStats stats(columns, config.histogram_bins);
  for (std::uint64_t w = 0; w < n; w += chunk) {
    const std::uint64_t m = std::min(chunk, n - w);
    rows.resize(m * columns);
    writer.read_features(w, m, rows);
    stats.add(rows, m);
  }
  stats.start_histograms();
  ScoringResult result;
  result.flags.assign(n, 0);
  std::vector<double> scores(n, 0.0);
  for (std::uint64_t w = 0; w < n; w += chunk) {
    const std::uint64_t m = std::min(chunk, n - w);
    rows.resize(m * columns);
    writer.read_features(w, m, rows);
    stats.add_to_histograms(rows, m);
    for (std::uint64_t i = 0; i < m; ++i) {
      const double score = reduce::anomaly_score(
          std::span<const double>(rows).subspan(i * columns, columns), stats);
      scores[w + i] = score;
      if (score > config.threshold) {
        result.flags[w + i] = 1;
        ++result.flagged;
      }
    }
  }
  writer.write_scores(scores, result.flags);

  std::vector<double> mean(columns), sd(columns), mn(columns), mx(columns), cnt(columns);
  std::vector<double> lo(columns), hi(columns);
  std::vector<std::uint64_t> hist(columns * config.histogram_bins);
  for (std::size_t c = 0; c < columns; ++c) {
    const auto& m = stats.moments()[c];
    cnt[c] = m.n;
    mean[c] = m.n > 0 ? m.mean : NAN;
    sd[c] = stats.stddev(c);
    mn[c] = m.n > 0 ? m.min : NAN;
    mx[c] = m.n > 0 ? m.max : NAN;
    const auto& h = stats.histogram(c);
    lo[c] = h.lo;
    hi[c] = h.hi;
    std::copy(h.counts.begin(), h.counts.end(), hist.begin() + c * config.histogram_bins);
  }
  const std::vector<std::uint64_t> dims{s, f};
  writer.write_summary("feature_count", cnt, dims);
  writer.write_summary("feature_mean", mean, dims);
  writer.write_summary("feature_std", sd, dims);
  writer.write_summary("feature_min", mn, dims);
  writer.write_summary("feature_max", mx, dims);
  writer.write_summary("feature_hist_lo", lo, dims);
  writer.write_summary("feature_hist_hi", hi, dims);
  writer.write_summary_u64("feature_hist", hist, {s, f, config.histogram_bins});
  return result;
}

}  // namespace wafermill::job
