#include "scoring.hpp"

#include <algorithm>
#include <cmath>

#include "wafermill/format/datasets.hpp"

namespace wafermill::job {

ScoringPass::ScoringPass(const format::TraceIndex& index, const JobConfig& config, Collector& local,
                         format::FeatureFileWriter& writer, MPI_Comm comm)
    : index_(index), config_(config), local_(local), writer_(writer), comm_(comm) {}

ScoringResult ScoringPass::run() {
  // O(sensors) and O(columns) reductions: every rank gets the fleet's figures.
  fleet_ = local_.fleet().result(comm_);
  reduce::FeatureColumnStats& stats = local_.columns();
  stats.start_histograms(comm_);

  const std::size_t columns = index_.n_sensors * config_.features.size();
  // This rank's rows, in chunks of at most ~1/8 of the budget.
  const std::uint64_t chunk = std::max<std::uint64_t>(
      1, config_.memory_budget_bytes / 8 / std::max<std::uint64_t>(1, columns * 8));
  std::vector<double> rows, scores;
  std::vector<std::uint8_t> flags;
  ScoringResult result;
  LabelCounts counts;
  // Whether the input has labels: the same answer on every rank (nothing is read).
  const bool have_labels = format::read_wafer_labels(index_, 0, 0).has_value();
  for (const auto& [first, end] : local_.wafer_ranges()) {
    for (std::uint64_t w = first; w < end; w += chunk) {
      const std::uint64_t m = std::min(chunk, end - w);
      rows.resize(m * columns);
      writer_.read_features(w, m, rows);
      stats.add_to_histograms(rows, m);
      scores.resize(m);
      flags.resize(m);
      for (std::uint64_t i = 0; i < m; ++i) {
        scores[i] = reduce::anomaly_score(std::span<const double>(rows).subspan(i * columns, columns), stats);
        flags[i] = scores[i] > config_.threshold ? 1 : 0;
        result.flagged += flags[i];
      }
      writer_.write_scores(w, scores, flags);
      if (have_labels) {
        const auto labels = format::read_wafer_labels(index_, w, m);
        for (std::uint64_t i = 0; i < m; ++i) {
          const bool bad = (*labels)[i] != 0, flagged = flags[i] != 0;
          counts.tp += bad && flagged;
          counts.fp += !bad && flagged;
          counts.tn += !bad && !flagged;
          counts.fn += bad && !flagged;
        }
      }
    }
  }
  stats.reduce_histograms(comm_);
  std::uint64_t tally[5] = {result.flagged, counts.tp, counts.fp, counts.tn, counts.fn};
  if (comm_ != MPI_COMM_NULL) MPI_Allreduce(MPI_IN_PLACE, tally, 5, MPI_UINT64_T, MPI_SUM, comm_);
  result.flagged = tally[0];
  if (have_labels) result.labels = LabelCounts{tally[1], tally[2], tally[3], tally[4]};
  return result;
}

void ScoringPass::write_summary(format::FeatureFileWriter& writer) const {
  const std::size_t s = index_.n_sensors;
  const std::size_t f = config_.features.size();
  const std::size_t columns = s * f;
  {
    std::vector<double> count(s), mean(s), m2(s), m3(s), m4(s), mn(s), mx(s), sd(s);
    for (std::size_t i = 0; i < s; ++i) {
      const reduce::Moments& m = fleet_[i];
      count[i] = m.n;
      mean[i] = m.n > 0 ? m.mean : NAN;
      m2[i] = m.m2;
      m3[i] = m.m3;
      m4[i] = m.m4;
      mn[i] = m.n > 0 ? m.min : NAN;
      mx[i] = m.n > 0 ? m.max : NAN;
      sd[i] = std::sqrt(reduce::sample_variance(m));
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
  const reduce::FeatureColumnStats& stats = local_.columns();
  std::vector<double> mean(columns), sd(columns), mn(columns), mx(columns), cnt(columns);
  std::vector<double> lo(columns), hi(columns);
  std::vector<std::uint64_t> hist(columns * config_.histogram_bins);
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
    std::copy(h.counts.begin(), h.counts.end(), hist.begin() + c * config_.histogram_bins);
  }
  const std::vector<std::uint64_t> dims{s, f};
  writer.write_summary("feature_count", cnt, dims);
  writer.write_summary("feature_mean", mean, dims);
  writer.write_summary("feature_std", sd, dims);
  writer.write_summary("feature_min", mn, dims);
  writer.write_summary("feature_max", mx, dims);
  writer.write_summary("feature_hist_lo", lo, dims);
  writer.write_summary("feature_hist_hi", hi, dims);
  writer.write_summary_u64("feature_hist", hist, {s, f, config_.histogram_bins});
}

}  // namespace wafermill::job
