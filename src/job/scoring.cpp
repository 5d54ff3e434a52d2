#include "scoring.hpp"

#include <algorithm>
#include <cmath>

#include "wafermill/error.hpp"
#include "wafermill/format/datasets.hpp"

namespace wafermill::job {

BoundModel bind_model(const std::string& path, const std::vector<std::string>& sensor_names,
                      const std::vector<std::string>& feature_names) {
  return bind_model(path, model::read_model(path), sensor_names, feature_names);
}

BoundModel bind_model(const std::string& path, model::PcaModel model, const std::vector<std::string>& sensor_names,
                      const std::vector<std::string>& feature_names) {
  BoundModel b;
  b.path = path;
  b.model = std::move(model);
  const std::size_t F = feature_names.size();
  for (std::size_t j = 0; j < b.model.n_columns(); ++j) {
    const auto s = std::find(sensor_names.begin(), sensor_names.end(), b.model.column_sensor[j]);
    const auto f = std::find(feature_names.begin(), feature_names.end(), b.model.column_feature[j]);
    if (s == sensor_names.end() || f == feature_names.end())
      throw InputError(path + ": /column_sensor index " + std::to_string(j) + ": the model needs sensor \"" +
                       b.model.column_sensor[j] + "\" feature \"" + b.model.column_feature[j] +
                       "\", which this run does not compute (check the input's sensors and --features)");
    b.columns.push_back(static_cast<std::size_t>(s - sensor_names.begin()) * F +
                        static_cast<std::size_t>(f - feature_names.begin()));
  }
  return b;
}

ScoringPass::ScoringPass(const format::TraceIndex& index, const JobConfig& config, Collector& local,
                         format::FeatureFileWriter& writer, MPI_Comm comm, const BoundModel* model)
    : index_(index), config_(config), local_(local), writer_(writer), comm_(comm), model_(model) {
  if (model_ && model_->model.has_histograms()) drift_.emplace(model_->model);
}

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
      if (model_) {
        score_with_model(rows, m, columns, scores, flags, result);
        writer_.write_scores(w, scores, flags);
        writer_.write_verdicts(w, {t2_, spe_, reason_, contrib_column_, contrib_share_});
      } else {
        for (std::uint64_t i = 0; i < m; ++i) {
          scores[i] = reduce::anomaly_score(std::span<const double>(rows).subspan(i * columns, columns), stats);
          flags[i] = scores[i] > config_.threshold ? 1 : 0;
          result.flagged += flags[i];
        }
        writer_.write_scores(w, scores, flags);
      }
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
  if (drift_) {
    // Integer counts: the same report for any number of ranks.
    auto& bins = drift_->counts();
    if (comm_ != MPI_COMM_NULL) {
      MPI_Allreduce(MPI_IN_PLACE, bins.data(), static_cast<int>(bins.size()), MPI_UINT64_T, MPI_SUM, comm_);
      MPI_Allreduce(MPI_IN_PLACE, &drift_->wafers(), 1, MPI_UINT64_T, MPI_SUM, comm_);
    }
    result.drift = model::assess_drift(model_->model, bins, drift_->wafers(), config_.drift_threshold);
  }
  std::uint64_t tally[7] = {result.flagged, counts.tp, counts.fp, counts.tn, counts.fn,
                            result.flagged_t2, result.flagged_spe};
  if (comm_ != MPI_COMM_NULL) MPI_Allreduce(MPI_IN_PLACE, tally, 7, MPI_UINT64_T, MPI_SUM, comm_);
  result.flagged = tally[0];
  result.flagged_t2 = tally[5];
  result.flagged_spe = tally[6];
  if (have_labels) result.labels = LabelCounts{tally[1], tally[2], tally[3], tally[4]};
  return result;
}

// A model's verdicts: score = max(T²/limit, SPE/limit), flag when > 1, and for a flagged wafer
// the columns that contribute most to the statistic further above its limit, as shares of it.
void ScoringPass::score_with_model(std::span<const double> rows, std::uint64_t m, std::size_t columns,
                                   std::vector<double>& scores, std::vector<std::uint8_t>& flags,
                                   ScoringResult& result) {
  const model::PcaModel& pm = model_->model;
  const std::size_t J = pm.n_columns();
  const std::size_t N = config_.contributions;
  t2_.resize(m);
  spe_.resize(m);
  reason_.resize(m);
  contrib_column_.assign(m * N, -1);
  contrib_share_.assign(m * N, 0.0);
  std::vector<double> x(J);
  for (std::uint64_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < J; ++j) x[j] = rows[i * columns + model_->columns[j]];
    const model::ExplainedVerdict e = model::explain_wafer(pm, x, N);
    const model::WaferVerdict& v = e.verdict;
    if (drift_) drift_->add(x);
    t2_[i] = v.t2;
    spe_[i] = v.spe;
    reason_[i] = v.reason;
    scores[i] = v.score;
    flags[i] = v.reason != model::kReasonNone ? 1 : 0;
    result.flagged += flags[i];
    result.flagged_t2 += (v.reason & model::kReasonT2) != 0;
    result.flagged_spe += (v.reason & model::kReasonSpe) != 0;
    for (std::size_t k = 0; k < e.top_columns.size(); ++k) {
      contrib_column_[i * N + k] = static_cast<std::int32_t>(model_->columns[e.top_columns[k]]);
      contrib_share_[i * N + k] = e.top_shares[k];
    }
  }
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
