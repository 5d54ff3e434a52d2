#include "scoring.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <limits>
#include <map>

#include "wafermill/error.hpp"
#include "wafermill/format/datasets.hpp"
#include "wafermill/huge_pages.hpp"
#include "wafermill/model/fleet_calibration.hpp"

namespace wafermill::job {

std::vector<std::string> read_group_keys(const format::TraceIndex& index, const std::string& name,
                                         std::uint64_t first, std::uint64_t n) {
  if (index.sources.empty())
    return model::read_group_keys(index.path, name, index.n_wafers, first, n);
  std::vector<std::string> keys;
  keys.reserve(n);
  for (std::uint64_t w = first; w < first + n;) {
    const format::TraceSource& s = index.sources[index.source_of_wafer(w)];
    const std::uint64_t m = std::min(first + n, s.first_wafer + s.n_wafers) - w;
    auto part = model::read_group_keys(s.path, name, s.n_wafers, w - s.first_wafer, m);
    std::move(part.begin(), part.end(), std::back_inserter(keys));
    w += m;
  }
  return keys;
}

BoundModel bind_model(const std::string& path, const std::vector<std::string>& sensor_names,
                      const std::vector<std::string>& feature_names, std::uint32_t n_steps,
                      std::uint32_t time_windows) {
  return bind_model(path, model::read_model(path), sensor_names, feature_names, n_steps,
                    time_windows);
}

BoundModel bind_model(const std::string& path, model::PcaModel model,
                      const std::vector<std::string>& sensor_names,
                      const std::vector<std::string>& feature_names, std::uint32_t n_steps,
                      std::uint32_t time_windows) {
  BoundModel b;
  b.path = path;
  b.model = std::move(model);
  // By-step columns mean what their steps meant at fit time: recipe steps, or N windows.
  if (b.model.has_step_columns() && b.model.time_windows != time_windows) {
    const std::uint32_t want = b.model.time_windows;
    throw InputError(
        path + ": the model's by-step columns are " +
        (want > 0 ? std::to_string(want) + " time windows of each wafer (fit --time-windows " +
                        std::to_string(want) + ")"
                  : std::string("the input's recipe steps")) +
        ", and this run's steps are " +
        (time_windows > 0 ? std::to_string(time_windows) + " time windows"
         : n_steps > 0    ? std::string("its input's recipe steps")
                          : std::string("none (its input records no steps)")) +
        (want > 0 ? ": run with --time-windows " + std::to_string(want)
                  : ": leave out --time-windows"));
  }
  const std::size_t S = sensor_names.size(), F = feature_names.size();
  for (std::size_t j = 0; j < b.model.n_columns(); ++j) {
    const auto s = std::find(sensor_names.begin(), sensor_names.end(), b.model.column_sensor[j]);
    const auto f = std::find(feature_names.begin(), feature_names.end(), b.model.column_feature[j]);
    if (s == sensor_names.end() || f == feature_names.end())
      throw InputError(
          path + ": /column_sensor index " + std::to_string(j) + ": the model needs sensor \"" +
          b.model.column_sensor[j] + "\" feature \"" + b.model.column_feature[j] +
          "\", which this run does not compute (check the input's sensors and --features)");
    const std::size_t at = static_cast<std::size_t>(s - sensor_names.begin()) * F +
                           static_cast<std::size_t>(f - feature_names.begin());
    const std::int32_t k = b.model.step_of(j);
    if (k >= 0 && static_cast<std::uint32_t>(k) >= n_steps)
      throw InputError(path + ": /column_step index " + std::to_string(j) +
                       ": the model needs recipe step " + std::to_string(k) + " of sensor \"" +
                       b.model.column_sensor[j] + "\" feature \"" + b.model.column_feature[j] +
                       "\", and the input has " + std::to_string(n_steps) +
                       " steps (refit with --by-step none for an input without them)");
    b.columns.push_back(k < 0 ? at : S * F + static_cast<std::size_t>(k) * S * F + at);
    b.by_step = b.by_step || k >= 0;
  }
  return b;
}

ScoringPass::ScoringPass(const format::TraceIndex& index, const JobConfig& config, Collector& local,
                         format::FeatureFileWriter& writer, MPI_Comm comm, const BoundModel* model)
    : index_(index), config_(config), local_(local), writer_(writer), comm_(comm), model_(model) {
  if (model_ && model_->model.has_histograms()) drift_.emplace(model_->model);
}

template <class F>
void ScoringPass::for_each_chunk(F&& f, std::vector<double>* steps) {
  const std::size_t columns = index_.n_sensors * config_.features.size();
  // Rows the collector kept in memory (KeptRows: the leading rows, within what the budget
  // leaves beside the worker's buffers) are not read back; only the by-step rows a model needs
  // are. The rest are read from the file, in the same order (wafer_ranges()).
  const KeptRows& kept = local_.kept_rows();
  for (const KeptRows::Run& r : kept.runs()) {
    if (steps) {
      steps->resize(r.n * columns * index_.n_steps);
      writer_.read_step_features(r.first_wafer, r.n, *steps);
    }
    f(r.first_wafer, r.n, std::span<const double>(r.values));
  }
  const std::size_t wide = steps ? columns * (1 + index_.n_steps) : columns;
  // In chunks of at most scoring_chunk_bytes; one buffer for every pass (the fit reads the rows
  // three times), so its pages are faulted in once.
  const std::uint64_t chunk = std::max<std::uint64_t>(
      1, scoring_chunk_bytes(config_.memory_budget_bytes) / std::max<std::uint64_t>(1, wide * 8));
  std::vector<double>& rows = read_buffer_;
  std::uint64_t skip = kept.wafers();
  for (auto [first, end] : local_.wafer_ranges()) {
    if (skip >= end - first) {
      skip -= end - first;
      continue;
    }
    first += skip;
    skip = 0;
    for (std::uint64_t w = first; w < end; w += chunk) {
      const std::uint64_t m = std::min(chunk, end - w);
      reserve_huge(rows, m * columns, Populate::yes);
      rows.resize(m * columns);
      writer_.read_features(w, m, rows);
      if (steps) {
        steps->resize(m * columns * index_.n_steps);
        writer_.read_step_features(w, m, *steps);
      }
      f(w, m, std::span<const double>(rows));
    }
  }
}

ScoringResult ScoringPass::run() {
  // O(sensors) and O(columns) reductions: every rank gets the fleet's figures.
  fleet_ = local_.fleet().result(comm_);
  reduce::FeatureColumnStats& stats = local_.columns();
  stats.start_histograms(comm_);

  const std::size_t columns = index_.n_sensors * config_.features.size();
  ScoringResult result;
  LabelCounts counts;
  // Whether the input has labels: the same answer on every rank (nothing is read).
  const bool have_labels = format::read_wafer_labels(index_, 0, 0).has_value();
  auto count_labels = [&](std::uint64_t w, std::uint64_t m, const std::uint8_t* flags) {
    if (!have_labels) return;
    const auto labels = format::read_wafer_labels(index_, w, m);
    for (std::uint64_t i = 0; i < m; ++i) {
      const bool bad = (*labels)[i] != 0, flagged = flags[i] != 0;
      counts.tp += bad && flagged;
      counts.fp += !bad && flagged;
      counts.tn += !bad && !flagged;
      counts.fn += bad && !flagged;
    }
  };
  if (model_) {
    std::vector<double> scores, steps;
    std::vector<std::uint8_t> flags;
    for_each_chunk(
        [&](std::uint64_t w, std::uint64_t m, std::span<const double> rows) {
          stats.add_to_histograms(rows, m);
          scores.resize(m);
          flags.resize(m);
          score_with_model(w, rows, steps, m, columns, scores, flags, result);
          writer_.write_scores(w, scores, flags);
          writer_.write_verdicts(w, {t2_, spe_, reason_, contrib_column_, contrib_share_});
          count_labels(w, m, flags.data());
        },
        model_->by_step ? &steps : nullptr);
  } else {
    // The fit reads the rows (histograms in its first read); the verdicts are written after it.
    std::vector<double> scores;
    std::vector<std::uint8_t> flags;
    result.fleet = config_.threshold > 0.0 ? max_z(scores, flags) : fit_fleet(scores, flags);
    std::uint64_t at = 0;
    for (const auto& [first, end] : local_.wafer_ranges()) {
      const std::uint64_t m = end - first;
      writer_.write_scores(first, std::span<const double>(scores).subspan(at, m),
                           std::span<const std::uint8_t>(flags).subspan(at, m));
      count_labels(first, m, flags.data() + at);
      for (std::uint64_t i = 0; i < m; ++i) result.flagged += flags[at + i];
      at += m;
    }
  }
  stats.reduce_histograms(comm_);
  if (drift_) {
    // Integer counts: the same report for any number of ranks.
    auto& bins = drift_->counts();
    if (comm_ != MPI_COMM_NULL) {
      MPI_Allreduce(MPI_IN_PLACE, bins.data(), static_cast<int>(bins.size()), MPI_UINT64_T, MPI_SUM,
                    comm_);
      MPI_Allreduce(MPI_IN_PLACE, &drift_->wafers(), 1, MPI_UINT64_T, MPI_SUM, comm_);
    }
    result.drift =
        model::assess_drift(model_->model, bins, drift_->wafers(), config_.drift_threshold);
  }
  std::uint64_t tally[9] = {result.flagged,
                            counts.tp,
                            counts.fp,
                            counts.tn,
                            counts.fn,
                            result.flagged_t2,
                            result.flagged_spe,
                            result.unknown_group,
                            result.flagged_univariate};
  if (comm_ != MPI_COMM_NULL) MPI_Allreduce(MPI_IN_PLACE, tally, 9, MPI_UINT64_T, MPI_SUM, comm_);
  result.flagged = tally[0];
  result.unknown_group = tally[7];
  result.flagged_univariate = tally[8];
  if (result.unknown_group > 0) {
    int rank = 0;
    if (comm_ != MPI_COMM_NULL) MPI_Comm_rank(comm_, &rank);
    if (rank == 0)
      std::fprintf(stderr,
                   "wafermill: warning: %llu wafers of a group (/wafers/%s) the model does not "
                   "know: scaled by "
                   "the reference's fleet-wide statistics\n",
                   static_cast<unsigned long long>(result.unknown_group),
                   model_->model.group_by.c_str());
  }
  result.flagged_t2 = tally[5];
  result.flagged_spe = tally[6];
  if (have_labels) result.labels = LabelCounts{tally[1], tally[2], tally[3], tally[4]};
  return result;
}

namespace {

std::uint64_t sum_u64(std::uint64_t v, MPI_Comm comm) {
  if (comm != MPI_COMM_NULL) MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_UINT64_T, MPI_SUM, comm);
  return v;
}

// Fit on the whole fleet, exclude what it flags, refit, score: two rounds. Iterating to a fixed
// point runs away on heavy-tailed columns (each cut shrinks the scale, which flags more: on
// SECOM and UCR Wafer 10 rounds flagged 14-15 % of the good wafers at A = 0.05).
constexpr std::uint32_t kRounds = 2;
// Rows per block of the fit's column-by-column passes: the block's columns stay in cache.
constexpr std::size_t kBlock = 1024;
// A column's place in the transposed block: padded by a cache line, so that the columns do
// not all fall in the same cache sets (a stride of 8 KiB would).
constexpr std::size_t kStride = kBlock + 8;

// dst[k kStride + i] = rows[i columns + cols[k]] for i < n (n <= kBlock), row by row: the rows
// are read in address order, which the hardware prefetcher streams from memory (tiles of 8 rows
// read 8 rows at once a cache line at a time, and waited on memory: 2-3 ns a value), while the
// block's columns take the writes in cache.
void transpose(const double* rows, std::size_t columns, std::size_t n,
               const std::vector<std::size_t>& cols, double* dst) {
  const std::size_t J = cols.size();
  const std::size_t* c = cols.data();
  for (std::size_t i = 0; i < n; ++i) {
    const double* row = rows + i * columns;
    for (std::size_t k = 0; k < J; ++k) dst[k * kStride + i] = row[c[k]];
  }
}

}  // namespace

model::FleetFitSummary ScoringPass::max_z(std::vector<double>& scores,
                                          std::vector<std::uint8_t>& flags) {
  reduce::FeatureColumnStats& stats = local_.columns();
  const std::size_t columns = index_.n_sensors * config_.features.size();
  scores.clear();
  flags.clear();
  for_each_chunk([&](std::uint64_t, std::uint64_t m, std::span<const double> rows) {
    stats.add_to_histograms(rows, m);
    for (std::uint64_t i = 0; i < m; ++i) {
      scores.push_back(reduce::anomaly_score(rows.subspan(i * columns, columns), stats));
      flags.push_back(scores.back() > config_.threshold ? 1 : 0);
    }
  });
  model::FleetFitSummary s;
  s.columns = columns;
  s.wafers = index_.n_wafers;
  s.rounds = 1;
  s.limit = s.limit_unbounded = config_.threshold;
  // A wafer's |z| among n, with a std that holds it, is at most (n − 1)/√n.
  s.smallest_fleet = 2;
  while ((static_cast<double>(s.smallest_fleet) - 1.0) /
             std::sqrt(static_cast<double>(s.smallest_fleet)) <=
         config_.threshold)
    ++s.smallest_fleet;
  s.reference = s.wafers;
  if (s.wafers < s.smallest_fleet)
    s.warning = "--threshold " + std::to_string(config_.threshold) +
                " cannot flag any wafer of a fleet of " + std::to_string(s.wafers) +
                " (max |z| among n wafers is at most (n - 1)/sqrt(n); it needs " +
                std::to_string(s.smallest_fleet) + "): use the default (--threshold 0) or a model";
  return s;
}

model::FleetFitSummary ScoringPass::fit_fleet(std::vector<double>& scores,
                                              std::vector<std::uint8_t>& flags) {
  reduce::FeatureColumnStats& stats = local_.columns();
  const std::size_t S = index_.n_sensors, F = config_.features.size(), columns = S * F;
  const std::vector<std::string> names = config_.features.names();
  const std::uint64_t W = index_.n_wafers;
  // Candidates: not a trace-length feature; finite on at least half the fleet (3 at least); not
  // constant. A later feature of a sensor that is a bitwise copy of an earlier one on every
  // wafer (one sample per wafer: mean = min = max = median) is dropped in the first read.
  std::vector<char> candidate(columns, 0);
  for (std::size_t c = 0; c < columns; ++c) {
    const auto& mo = stats.moments()[c];
    const std::string& f = names[c % F];
    candidate[c] =
        f != "count" && f != "invalid_count" && mo.n >= 3 && 2 * mo.n >= W && mo.min < mo.max;
  }
  std::vector<std::pair<std::size_t, std::size_t>> pairs;  // (earlier, later) of one sensor
  for (std::size_t s = 0; s < S; ++s)
    for (std::size_t b = 0; b < F; ++b)
      for (std::size_t a = 0; a < b; ++a)
        if (candidate[s * F + a] && candidate[s * F + b]) pairs.emplace_back(s * F + a, s * F + b);
  std::vector<int> differ(pairs.size(), 0);
  // The first fit's sums over the candidates only (slot[c] is column c's place among them).
  std::vector<double> origin(columns, 0.0), candidate_origin;
  std::vector<std::size_t> slot(columns, 0), candidates;
  for (std::size_t c = 0; c < columns; ++c)
    if (candidate[c]) {
      origin[c] = stats.moments()[c].mean;
      slot[c] = candidates.size();
      candidates.push_back(c);
      candidate_origin.push_back(origin[c]);
    }
  model::ReferenceSums all(candidate_origin);
  // The sums column by column over blocks of rows (transposed once): each column's values in
  // one tight loop over its accumulators.
  std::vector<double> picked(candidates.size() * kStride);
  for_each_chunk([&](std::uint64_t, std::uint64_t m, std::span<const double> rows) {
    stats.add_to_histograms(rows, m);
    // A pair that differs on one wafer differs: only the pairs still equal are compared, up to
    // their first difference.
    for (std::size_t q = 0; q < pairs.size(); ++q)
      for (std::uint64_t i = 0; i < m && !differ[q]; ++i) {
        const double* x = rows.data() + i * columns;
        differ[q] = std::memcmp(&x[pairs[q].first], &x[pairs[q].second], sizeof(double)) != 0;
      }
    for (std::uint64_t b = 0; b < m; b += kBlock) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kBlock, m - b));
      transpose(rows.data() + b * columns, columns, n, candidates, picked.data());
      for (std::size_t k = 0; k < candidates.size(); ++k)
        all.add_column(k, std::span<const double>(picked).subspan(k * kStride, n));
    }
  });
  if (comm_ != MPI_COMM_NULL && !differ.empty())
    MPI_Allreduce(MPI_IN_PLACE, differ.data(), static_cast<int>(differ.size()), MPI_INT, MPI_MAX,
                  comm_);
  for (std::size_t q = 0; q < pairs.size(); ++q)
    if (!differ[q] && candidate[pairs[q].first]) candidate[pairs[q].second] = 0;
  std::vector<std::size_t> cols;
  for (std::size_t c = 0; c < columns; ++c)
    if (candidate[c]) cols.push_back(c);
  const std::size_t J = cols.size();
  const double A = config_.false_alarm_rate;

  model::FleetFitSummary s;
  s.false_alarm_rate = A;
  s.columns = J;
  s.columns_dropped = columns - J;
  s.wafers = W;
  s.smallest_fleet = model::smallest_fleet(std::max<std::size_t>(1, J), A);
  s.limit_unbounded = model::normal_limit(std::max<std::size_t>(1, J), A);
  const std::vector<model::ColumnFit> fits_all = all.reduce(comm_);
  std::vector<model::ColumnFit> fit(J);
  for (std::size_t k = 0; k < J; ++k) fit[k] = fits_all[slot[cols[k]]];

  std::uint64_t local_rows = 0;
  for (const auto& [first, end] : local_.wafer_ranges()) local_rows += end - first;
  scores.assign(local_rows, 0.0);
  flags.assign(local_rows, 0);
  std::vector<std::uint8_t> previous(local_rows, 0);  // the wafers left out of the reference
  std::vector<double> lim_in(J), lim_out(J);
  std::map<std::uint64_t, double> limit_of;  // by degrees of freedom
  auto limit = [&](std::uint64_t dof) {
    const auto it = limit_of.find(dof);
    if (it != limit_of.end()) return it->second;
    return limit_of[dof] = model::prediction_limit(dof, J, A);
  };
  std::vector<std::size_t> picked_slots(J);  // the scored columns' places in `all`
  for (std::size_t k = 0; k < J; ++k) picked_slots[k] = slot[cols[k]];
  int rank = 0;
  if (comm_ != MPI_COMM_NULL) MPI_Comm_rank(comm_, &rank);
  std::vector<double> x(J * kStride), drop(kBlock);
  std::vector<std::size_t> flagged(kBlock);
  std::uint64_t reference = W;
  std::vector<std::uint8_t> left_out;  // the last round's: its reference wafers are scored LOO
  while (J > 0 && s.rounds < kRounds) {
    ++s.rounds;
    left_out = previous;
    {
      std::uint64_t out = 0;
      for (auto p : previous) out += p;
      reference = W - sum_u64(out, comm_);
    }
    for (std::size_t k = 0; k < J; ++k) {
      // Heavy-tailed columns (kurtosis) get their own limit; the others share one per dof.
      const bool heavy =
          fit[k].kurtosis > 0.0 && 4.0 + 6.0 / fit[k].kurtosis < static_cast<double>(fit[k].n - 2);
      lim_in[k] = fit[k].n < 3 ? 0.0
                  : heavy      ? model::column_limit(fit[k], fit[k].n - 2, J, A)
                               : limit(fit[k].n - 2);
      lim_out[k] = fit[k].n < 2 ? 0.0
                   : heavy      ? model::column_limit(fit[k], fit[k].n - 1, J, A)
                                : limit(fit[k].n - 1);
    }
    // The refit's sums: its kurtosis is the whole fleet's, and the last round's are not used.
    // They are the first fit's (reduced) less this round's flagged wafers: exact sums, so the
    // same bits as summing the wafers kept, from the flagged wafers alone (one rank starts from
    // the reduced sums, the others from zero).
    model::ReferenceSums next = all.remainder(picked_slots, rank == 0);
    const bool last = s.rounds == kRounds;
    std::vector<model::ColumnResidual> residual(fit.begin(), fit.end());
    std::uint64_t at = 0;
    // Column by column over blocks of rows (a max and exact sums: the order does not matter).
    for_each_chunk([&](std::uint64_t, std::uint64_t m, std::span<const double> rows) {
      for (std::uint64_t b = 0; b < m; b += kBlock) {
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kBlock, m - b));
        transpose(rows.data() + b * columns, columns, n, cols, x.data());
        double* score = scores.data() + at;
        std::fill(score, score + n, 0.0);
        for (std::size_t k = 0; k < J; ++k)
          residual[k].raise_scores(x.data() + k * kStride, previous.data() + at, n, lim_in[k],
                                   lim_out[k], score);
        for (std::size_t i = 0; i < n; ++i) flags[at + i] = score[i] > 1.0 ? 1 : 0;
        std::size_t out = 0;  // this block's flagged rows, in `flagged`
        for (std::size_t i = 0; i < n && !last; ++i)
          if (flags[at + i]) flagged[out++] = i;
        for (std::size_t k = 0; k < J && out > 0; ++k) {
          const double* xk = x.data() + k * kStride;
          for (std::size_t q = 0; q < out; ++q) drop[q] = xk[flagged[q]];
          next.subtract_column(k, std::span<const double>(drop.data(), out));
        }
        at += n;
      }
    });
    std::uint64_t changed = 0;
    for (std::uint64_t i = 0; i < local_rows; ++i) changed += flags[i] != previous[i];
    changed = sum_u64(changed, comm_);
    previous = flags;
    if (changed == 0 || s.rounds == kRounds) {
      s.converged = changed == 0;
      break;
    }
    fit = next.reduce(comm_);
    // The tails are the whole fleet's: a reference cut by its own limits is lighter-tailed
    // than the good wafers, and its kurtosis would tighten the limits round after round.
    for (std::size_t k = 0; k < J; ++k) fit[k].kurtosis = fits_all[slot[cols[k]]].kurtosis;
  }
  if (J > 0) calibrate_limit(s, scores, flags, left_out);
  s.reference = reference;
  s.limit = s.reference >= 3
                ? model::prediction_limit(s.reference - 2, std::max<std::size_t>(1, J), A)
                : std::numeric_limits<double>::infinity();
  char text[400];
  if (J == 0) {
    s.warning =
        "no feature column can be scored (count and invalid_count are not; a column needs finite "
        "values on "
        "at least half the fleet, 3 at least, and must not be constant): nothing is flagged";
  } else if (s.reference < s.smallest_fleet) {
    std::snprintf(
        text, sizeof text,
        "the fleet's reference of %llu wafers (those its first fit did not flag) is smaller than "
        "%llu, the smallest fleet whose limit "
        "(|t| > %.3g at A = %g over %zu columns) is within 1.5x of a large fleet's (%.3g): only "
        "gross "
        "faults can be flagged; fit a model on more good wafers (wafermill fit)",
        static_cast<unsigned long long>(s.reference),
        static_cast<unsigned long long>(s.smallest_fleet), s.limit, A, J, s.limit_unbounded);
    s.warning = text;
  }
  return s;
}

// The calibrated limit (docs/MONITORING.md "Calibrated limits"): the calibration set's scores
// (the refit's reference wafers, scored leave-one-out, or every wafer) ranked exactly over the
// ranks; with --fleet-limit reference or fleet the scores are divided by max(1, quantile). With
// parametric the reference's quantile is found and reported only.
void ScoringPass::calibrate_limit(model::FleetFitSummary& s, std::vector<double>& scores,
                                  std::vector<std::uint8_t>& flags,
                                  const std::vector<std::uint8_t>& left_out) const {
  const double A = config_.false_alarm_rate;
  const bool fleet = config_.fleet_limit == "fleet";
  std::vector<std::uint8_t> ranked(left_out.size());
  for (std::size_t i = 0; i < left_out.size(); ++i) ranked[i] = fleet || left_out[i] == 0;
  const model::FleetCalibration c = model::calibrate_fleet_scores(
      scores, flags, ranked, A, config_.fleet_limit != "parametric", comm_);
  s.limit_rule = config_.fleet_limit;
  s.calibration_reference = c.reference;
  s.calibration_rank = c.rank;
  s.calibrated_limit = c.quantile;
  s.limit_factor = c.factor;
  s.flagged_parametric = c.flagged_parametric;
  s.limit_used = c.factor > 1.0 ? "calibrated" : "parametric";
  if (c.rank > c.reference && config_.fleet_limit != "parametric") {
    char text[400];
    std::snprintf(text, sizeof text,
                  "%llu wafers are too few to calibrate the limit at A = %g (the split-conformal "
                  "quantile's rank %llu is above them: it needs at least %llu): the Student t "
                  "limits alone are used, whose rate holds only for normal-tailed columns",
                  static_cast<unsigned long long>(c.reference), A,
                  static_cast<unsigned long long>(c.rank),
                  static_cast<unsigned long long>(model::smallest_calibration_set(A)));
    s.warning = text;
  }
}

// A model's verdicts: score = max(T²/limit, SPE/limit), flag when > 1, and for a flagged wafer
// the columns that contribute most to the statistic further above its limit, as shares of it.
void ScoringPass::score_with_model(std::uint64_t first, std::span<const double> rows,
                                   std::span<const double> steps, std::uint64_t m,
                                   std::size_t columns, std::vector<double>& scores,
                                   std::vector<std::uint8_t>& flags, ScoringResult& result) {
  const model::PcaModel& pm = model_->model;
  const std::size_t J = pm.n_columns();
  const std::size_t N = config_.contributions;
  t2_.resize(m);
  spe_.resize(m);
  reason_.resize(m);
  contrib_column_.assign(m * N, -1);
  contrib_share_.assign(m * N, 0.0);
  std::vector<double> x(J), xs;
  // A grouped model: each wafer scaled by its group's statistics (the fleet's for a group the
  // model does not know, counted), read from the input's /wafers/ dataset the model names.
  std::vector<std::string> keys;
  if (pm.grouped()) keys = read_group_keys(index_, pm.group_by, first, m);
  for (std::uint64_t i = 0; i < m; ++i) {
    // Whole-wafer columns from /features/values, by-step ones (position S*F + (k*S + s)*F + f)
    // from /features/by_step.
    const std::size_t K = index_.n_steps;
    for (std::size_t j = 0; j < J; ++j) {
      const std::size_t c = model_->columns[j];
      x[j] = c < columns ? rows[i * columns + c] : steps[i * K * columns + (c - columns)];
    }
    // The wafer of input index w is scored by fold model w mod k (docs/MONITORING.md "fit"), or
    // by the whole reference's model; drift bins it by the whole reference's scaling.
    const model::PcaModel& sm = pm.scorer(first + i);
    if (pm.grouped()) {
      const std::size_t g = pm.group_of(keys[i]);
      result.unknown_group += g == pm.group_names.size();
      if (pm.fold_scored()) {
        xs = x;
        sm.scale_to_group(g, xs);
      }
      pm.scale_to_group(g, x);
    }
    const model::ExplainedVerdict e =
        model::explain_wafer(sm, pm.grouped() && pm.fold_scored() ? xs : x, N);
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
    result.flagged_univariate += (v.reason & model::kReasonUnivariate) != 0;
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
