// `wafermill score` (docs/MONITORING.md "score"): a class of named steps, each one timed apart
// so that the start-up (model, index, backend) is not charged to the first wafer.
#include "wafermill/job/online_score.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <span>

#include "scoring.hpp"
#include "wafermill/error.hpp"
#include "wafermill/features/backend.hpp"
#include "wafermill/format/atomic_output.hpp"
#include "wafermill/format/h5.hpp"
#include "wafermill/format/trace_index.hpp"
#include "wafermill/format/trace_reader.hpp"
#include "wafermill/job/fit.hpp"
#include "wafermill/metrics/metrics.hpp"
#include "wafermill/model/pca_fit.hpp"

namespace wafermill::job {
namespace h5 = format::h5;
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// The features the model needs (FeatureSet keeps them in enum order: the feature row layout).
features::FeatureSet features_of(const model::PcaModel& m, const std::string& path) {
  std::vector<std::string> names;
  for (const auto& f : m.column_feature)
    if (std::find(names.begin(), names.end(), f) == names.end()) names.push_back(f);
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ",") + n;
  try {
    return features::FeatureSet::parse(list);
  } catch (const UsageError& e) {
    throw InputError(path + ": /column_feature: " + e.what());
  }
}

// The wafers of the lot: those of the W in `path` that pass --select (fit's clauses), in file
// order.
std::vector<std::uint64_t> select_wafers(const std::string& path, std::uint64_t W,
                                         const std::string& select) {
  const auto clauses = parse_select(select);
  std::vector<char> keep(W, 1);
  if (!clauses.empty()) {
    const h5::File f = h5::File::open_read(path);
    for (const auto& c : clauses) {
      std::vector<double> v(W);
      if (c.field == "index") {
        for (std::uint64_t i = 0; i < W; ++i) v[i] = static_cast<double>(i);
      } else {
        if (!f.has_group("wafers") || !f.open_group("wafers").has_dataset(c.field))
          throw UsageError(path + ": --select: no dataset /wafers/" + c.field);
        const h5::Dataset d = f.open_group("wafers").open_dataset(c.field);
        if (d.dims() != std::vector<std::uint64_t>{W} ||
            d.type().type_class == h5::TypeClass::string)
          throw InputError(path + ": /wafers/" + c.field + ": expected " + std::to_string(W) +
                           " numbers");
        if (W > 0) d.read(std::span<double>(v), {0}, {W});
      }
      for (std::uint64_t i = 0; i < W; ++i) keep[i] = keep[i] && passes(c, v[i]);
    }
  }
  std::vector<std::uint64_t> out;
  for (std::uint64_t i = 0; i < W; ++i)
    if (keep[i]) out.push_back(i);
  if (out.empty()) throw InputError(path + ": --select \"" + select + "\" selects no wafer");
  return out;
}

// A run's output as the lot: its rows of /features/values [W, S, F] and /features/by_step
// [W, K, S, F] read back a block of wafers at a time (the features as `run` computed them, so
// the traces are not read again). A row is laid out as bind_model() numbers the columns: the S*F
// whole-wafer values, then the K*S*F by-step ones.
class FeatureRows {
 public:
  static constexpr std::uint64_t kBlockBytes = 4ULL << 20;

  explicit FeatureRows(const std::string& path)
      : path_(path), file_(h5::File::open_read(path)) {
    const h5::Group g = file_.open_group("features");
    values_ = g.open_dataset("values");
    const auto d = values_.dims();
    if (d.size() != 3)
      throw InputError(path + ": /features/values: expected [wafers, sensors, features]");
    W_ = d[0];
    S_ = d[1];
    F_ = d[2];
    features_ = g.open_dataset("names").read_strings(0, F_);
    sensors_ = g.open_dataset("sensor_names").read_strings(0, S_);
    if (g.has_dataset("by_step")) {
      by_step_ = g.open_dataset("by_step");
      const auto b = by_step_->dims();
      if (b.size() != 4 || b[0] != W_ || b[2] != S_ || b[3] != F_)
        throw InputError(path + ": /features/by_step: expected [" + std::to_string(W_) +
                         ", steps, " + std::to_string(S_) + ", " + std::to_string(F_) + "]");
      K_ = b[1];
    }
    time_windows_ = feature_file_time_windows(path);
  }

  std::uint64_t wafers() const { return W_; }
  std::uint32_t steps() const { return static_cast<std::uint32_t>(K_); }
  std::uint32_t time_windows() const { return time_windows_; }
  const std::vector<std::string>& sensor_names() const { return sensors_; }
  const std::vector<std::string>& feature_names() const { return features_; }

  /// Wafer w's row. A wafer outside the block held reads the block [w, last + 1): up to the
  /// largest of `next` (the lot's wafers after w, ascending) that fits kBlockBytes. Returns
  /// whether it read.
  bool load(std::uint64_t w, std::span<const std::uint64_t> next) {
    if (w >= first_ && w < first_ + n_) return false;
    const std::uint64_t row = row_doubles();
    const std::uint64_t most = std::max<std::uint64_t>(1, kBlockBytes / (row * sizeof(double)));
    std::uint64_t end = w + 1;
    for (std::uint64_t v : next) {
      if (v >= w + most) break;
      end = v + 1;
    }
    first_ = w;
    n_ = end - w;
    block_.resize(n_ * row);
    if (K_ == 0) {
      values_.read(std::span<double>(block_), {w, 0, 0}, {n_, S_, F_});
      return true;
    }
    // Whole-wafer values, then the by-step ones, of each wafer.
    const std::uint64_t sf = S_ * F_;
    part_.resize(n_ * sf);
    values_.read(std::span<double>(part_), {w, 0, 0}, {n_, S_, F_});
    for (std::uint64_t i = 0; i < n_; ++i)
      std::copy_n(part_.begin() + static_cast<std::ptrdiff_t>(i * sf), sf,
                  block_.begin() + static_cast<std::ptrdiff_t>(i * row));
    part_.resize(n_ * K_ * sf);
    by_step_->read(std::span<double>(part_), {w, 0, 0, 0}, {n_, K_, S_, F_});
    for (std::uint64_t i = 0; i < n_; ++i)
      std::copy_n(part_.begin() + static_cast<std::ptrdiff_t>(i * K_ * sf), K_ * sf,
                  block_.begin() + static_cast<std::ptrdiff_t>(i * row + sf));
    return true;
  }

  /// The row of a wafer load() brought in.
  const double* row(std::uint64_t w) const {
    return block_.data() + (w - first_) * row_doubles();
  }

 private:
  std::uint64_t row_doubles() const { return (1 + K_) * S_ * F_; }

  std::string path_;
  h5::File file_;
  h5::Dataset values_;
  std::optional<h5::Dataset> by_step_;
  std::uint64_t W_ = 0, S_ = 0, F_ = 0, K_ = 0;
  std::uint32_t time_windows_ = 0;
  std::vector<std::string> sensors_, features_;
  std::uint64_t first_ = 0, n_ = 0;  // the block held: wafers [first_, first_ + n_)
  std::vector<double> block_, part_;
};

class OnlineScorer {
 public:
  explicit OnlineScorer(const ScoreConfig& c) : config_(c) {}

  // Model, trace index, binding of the model's columns to the lot's (sensor, feature), backend.
  void start() {
    const auto t = Clock::now();
    if (is_feature_file(config_.input)) {
      rows_from_ = std::make_unique<FeatureRows>(config_.input);
      if (config_.time_windows != 0)
        throw UsageError(config_.input + ": a run's output: its features were computed over " +
                         (rows_from_->time_windows() > 0
                              ? std::to_string(rows_from_->time_windows()) + " time windows"
                              : std::string("its input's recipe steps, if any")) +
                         "; leave out --time-windows");
    } else {
      index_ = format::read_trace_index(config_.input);
      format::use_time_windows(index_, config_.time_windows);
    }
    const std::uint64_t W = rows_from_ ? rows_from_->wafers() : index_.n_wafers;
    wafers_ = select_wafers(config_.input, W, config_.select);
    model::PcaModel m = model::read_model(config_.model);
    if (config_.update && m.fold_scored())  // refused before anything is scored or written
      throw InputError(
          config_.model + ": --update: the model scores wafers with its " +
          std::to_string(m.fold_models.size()) +
          " fold models (/fold_models, format v5), which an update of the whole "
          "reference's sums cannot keep consistent: refit it with `wafermill fit` "
          "(the new wafers in the reference), or fit with --scoring full to update it");
    if (rows_from_) {
      bound_ = bind_model(config_.model, std::move(m), rows_from_->sensor_names(),
                          rows_from_->feature_names(), rows_from_->steps(),
                          rows_from_->time_windows());
    } else {
      set_ = features_of(m, config_.model);
      bound_ = bind_model(config_.model, std::move(m), index_.sensor_names, set_.names(),
                          index_.n_steps, index_.time_windows);
      layout_.n_sensors = index_.n_sensors;
      layout_.n_steps = index_.n_steps;
      layout_.features = set_;
      backend_ = features::make_cpu_backend(layout_);
      reader_ =
          std::make_unique<format::TraceReader>(index_, format::IoDriver::posix, MPI_COMM_NULL);
    }
    if (bound_.model.has_histograms()) tally_.emplace(bound_.model);
    if (bound_.model.grouped())
      keys_ = model::read_group_keys(config_.input, bound_.model.group_by, W, 0, W);
    out_.startup_s = seconds_since(t);
  }

  // Each wafer: its rows, its features, its verdict and its drift bins, timed together.
  void score_wafers() {
    const std::size_t J = bound_.model.n_columns();
    std::vector<double> x(J), xs;
    rows_.resize(wafers_.size() * J);
    for (std::size_t i = 0; i < wafers_.size(); ++i) {
      const auto t = Clock::now();
      const std::uint64_t w = wafers_[i];
      if (rows_from_) {
        rows_from_->load(w, std::span<const std::uint64_t>(wafers_).subspan(i + 1));
        const double* row = rows_from_->row(w);
        for (std::size_t j = 0; j < J; ++j) x[j] = row[bound_.columns[j]];
      } else {
        wafer_features(w, x);
      }
      // The wafer of file index w is scored by fold model w mod k (docs/MONITORING.md "fit"), or
      // by the whole reference's model; drift and --update take it scaled as the latter.
      const model::PcaModel& pm = bound_.model;
      const model::PcaModel& sm = pm.scorer(w);
      if (pm.grouped()) {  // the group's statistics, the fleet's for a group not known
        const std::size_t g = pm.group_of(keys_[w]);
        out_.unknown_group += g == pm.group_names.size();
        if (pm.fold_scored()) {
          xs = x;
          sm.scale_to_group(g, xs);
        }
        pm.scale_to_group(g, x);
      }
      model::ExplainedVerdict v = model::explain_wafer(
          sm, pm.grouped() && pm.fold_scored() ? xs : x, config_.contributions);
      if (tally_) tally_->add(x);
      std::copy(x.begin(), x.end(), rows_.begin() + static_cast<std::ptrdiff_t>(i * J));
      out_.flagged += v.verdict.reason != model::kReasonNone;
      out_.flagged_t2 += (v.verdict.reason & model::kReasonT2) != 0;
      out_.flagged_spe += (v.verdict.reason & model::kReasonSpe) != 0;
      out_.flagged_univariate += (v.verdict.reason & model::kReasonUnivariate) != 0;
      out_.verdicts.push_back(std::move(v));
      out_.wafer_s.push_back(seconds_since(t));
    }
    out_.wafers = wafers_.size();
    out_.wafer_index = wafers_;
    for (double s : out_.wafer_s) out_.lot_s += s;
    out_.per_wafer = latency_percentiles(out_.wafer_s);
    if (tally_)
      out_.drift = model::assess_drift(bound_.model, tally_->counts(), tally_->wafers(),
                                       config_.drift_threshold, lots_in_lot());
  }

  // How many lots the scored wafers are (their /wafers/ dataset the model's lots were named by),
  // for drift over a few lots; 0 when the model keeps no lots or the input does not name them.
  std::uint64_t lots_in_lot() const {
    const model::PcaModel& m = bound_.model;
    if (!m.has_lot_histograms()) return 0;
    const h5::File f = h5::File::open_read(config_.input);
    if (!f.has_group("wafers") || !f.open_group("wafers").has_dataset(m.lot_by)) return 0;
    const std::uint64_t W = rows_from_ ? rows_from_->wafers() : index_.n_wafers;
    const std::vector<std::string> keys = model::read_group_keys(config_.input, m.lot_by, W, 0, W);
    std::vector<std::string> mine;
    for (std::uint64_t w : wafers_) mine.push_back(keys[w]);
    std::sort(mine.begin(), mine.end());
    return static_cast<std::uint64_t>(std::unique(mine.begin(), mine.end()) - mine.begin());
  }

  // Wafer w's model columns from its traces: read, and its features extracted as `run` does.
  void wafer_features(std::uint64_t w, std::vector<double>& x) {
    const std::size_t J = bound_.model.n_columns();
    const std::uint64_t n = index_.wafer_rows(w);
    buffer_.resize(n * index_.row_bytes());
    steps_.resize(index_.n_steps > 0 ? n : 0);
    if (n > 0) reader_->read_rows(index_.offsets[w], n, buffer_.data(), steps_);
    features::TraceChunk chunk;
    chunk.first_wafer = w;
    chunk.offsets = std::span<const std::uint64_t>(index_.offsets).subspan(w, 2);
    chunk.type = index_.value_type == format::ValueType::float32 ? features::SampleType::float32
                                                                 : features::SampleType::float64;
    chunk.values = buffer_.data();
    chunk.n_columns = index_.n_sensors;
    chunk.steps = steps_;
    block_.reset(w, 1, layout_);
    backend_->extract(chunk, block_);
    // Whole-wafer columns from the values, by-step ones (position S*F + (k*S + s)*F + f) from
    // the wafer's by-step block.
    const std::size_t SF = index_.n_sensors * set_.size();
    for (std::size_t j = 0; j < J; ++j) {
      const std::size_t c = bound_.columns[j];
      x[j] = c < SF ? block_.values[c] : block_.by_step[c - SF];
    }
  }

  void write_output() const {
    if (config_.output.empty()) return;
    format::AtomicOutput out(config_.output, config_.force, {config_.input, config_.model});
    const bool csv = config_.output.size() >= 4 &&
                     config_.output.compare(config_.output.size() - 4, 4, ".csv") == 0;
    if (csv)
      write_csv(out.temp_path());
    else
      write_h5(out.temp_path());
    out.commit();
  }

  // The lot's unflagged wafers into the model's sums and histograms, then the model file.
  void update() {
    if (!config_.update) return;
    const auto t = Clock::now();
    const std::size_t J = bound_.model.n_columns();
    std::vector<double> good;
    for (std::uint64_t w = 0; w < out_.wafers; ++w)
      if (out_.verdicts[w].verdict.reason == model::kReasonNone)
        good.insert(good.end(), rows_.begin() + static_cast<std::ptrdiff_t>(w * J),
                    rows_.begin() + static_cast<std::ptrdiff_t>((w + 1) * J));
    model::PcaModel m = bound_.model;
    try {
      model::update_model(m, good);
    } catch (const InputError& e) {
      throw InputError(config_.model + ": " + e.what());
    }
    out_.updated_with = good.size() / J;
    const std::string path = config_.updated_model.empty() ? config_.model : config_.updated_model;
    // Overwriting the model read at start is the point of --update without --updated-model.
    format::AtomicOutput out(path, config_.updated_model.empty() || config_.force);
    model::write_model(m, out.temp_path());
    out.commit();
    out_.update_s = seconds_since(t);
  }

  void write_report() {
    const auto ms = [](double s) { return s * 1e3; };
    nlohmann::json r{{"model", config_.model},
                     {"input", config_.input},
                     {"wafers", out_.wafers},
                     {"flagged", out_.flagged},
                     {"flagged_t2", out_.flagged_t2},
                     {"flagged_spe", out_.flagged_spe},
                     {"flagged_univariate", out_.flagged_univariate},
                     {"group_by", bound_.model.group_by},
                     {"unknown_group", out_.unknown_group},
                     {"latency_ms",
                      {{"startup", ms(out_.startup_s)},
                       {"lot", ms(out_.lot_s)},
                       {"wafer_p50", ms(out_.per_wafer.p50)},
                       {"wafer_p95", ms(out_.per_wafer.p95)},
                       {"wafer_p99", ms(out_.per_wafer.p99)},
                       {"wafer_max", ms(out_.per_wafer.max)},
                       {"per_wafer", nlohmann::json::array()}}}};
    for (double s : out_.wafer_s) r["latency_ms"]["per_wafer"].push_back(ms(s));
    if (tally_) r["drift"] = model::drift_json(bound_.model, out_.drift);
    if (config_.update) {
      r["updated_with"] = out_.updated_with;
      r["latency_ms"]["update"] = ms(out_.update_s);
    }
    out_.report = r;
    if (config_.report.empty()) return;
    format::AtomicOutput out(config_.report, config_.force);
    std::ofstream f(out.temp_path());
    f << r.dump(2) << "\n";
    f.close();
    if (!f) throw UsageError(config_.report + ": cannot write the report");
    out.commit();
  }

  ScoreOutcome take() { return std::move(out_); }

 private:
  std::string column_of(std::size_t j) const { return model::column_name(bound_.model, j); }

  void write_csv(const std::string& path) const {
    std::ofstream f(path);
    f << "wafer,score,flag,t2,spe,reason";
    for (std::uint32_t k = 1; k <= config_.contributions; ++k)
      f << ",contribution_" << k << ",step_" << k << ",share_" << k;
    f << "\n";
    static const char* kReason[] = {"", "T2", "SPE", "T2+SPE"};
    char num[128];
    for (std::uint64_t w = 0; w < out_.wafers; ++w) {
      const auto& v = out_.verdicts[w];
      std::snprintf(num, sizeof num, "%.17g,%d,%.17g,%.17g", v.verdict.score, v.verdict.reason != 0,
                    v.verdict.t2, v.verdict.spe);
      f << wafers_[w] << "," << num << "," << kReason[v.verdict.reason & 3];
      for (std::size_t k = 0; k < config_.contributions; ++k) {
        if (k < v.top_columns.size()) {
          std::snprintf(num, sizeof num, "%.6g", v.top_shares[k]);
          const std::size_t j = v.top_columns[k];
          const std::int32_t step = bound_.model.step_of(j);
          f << "," << bound_.model.column_sensor[j] << "/" << bound_.model.column_feature[j] << ","
            << (step < 0 ? std::string("all") : std::to_string(step)) << "," << num;
        } else {
          f << ",,,";
        }
      }
      f << "\n";
    }
    f.close();
    if (!f) throw UsageError(path + ": cannot write the CSV");
  }

  void write_h5(const std::string& path) const {
    const std::uint64_t n = out_.wafers, N = config_.contributions;
    std::vector<double> score(n), t2(n), spe(n), share(n * N, 0.0);
    std::vector<std::uint8_t> flag(n), reason(n);
    std::vector<std::int32_t> column(n * N, -1);
    for (std::uint64_t w = 0; w < n; ++w) {
      const auto& v = out_.verdicts[w];
      score[w] = v.verdict.score;
      t2[w] = v.verdict.t2;
      spe[w] = v.verdict.spe;
      reason[w] = v.verdict.reason;
      flag[w] = v.verdict.reason != 0;
      for (std::size_t k = 0; k < v.top_columns.size(); ++k) {
        column[w * N + k] = static_cast<std::int32_t>(v.top_columns[k]);
        share[w * N + k] = v.top_shares[k];
      }
    }
    h5::File f = h5::File::create(path);
    f.write_string_attribute("format", "wafermill score v1");
    f.write_string_attribute("model", config_.model);
    f.write_string_attribute("input", config_.input);
    {  // the group closes before the file
      h5::Group g = f.create_group("wafers");
      const auto put = [&g](const std::string& name, const auto& v,
                            std::vector<std::uint64_t> dims) {
        using T = typename std::decay_t<decltype(v)>::value_type;
        auto d = g.create_dataset(name, h5::elem_of<T>(), dims);
        if (!v.empty()) d.write_all(std::span<const T>(v));
      };
      put("index", wafers_, {n});
      put("score", score, {n});
      put("flag", flag, {n});
      put("t2", t2, {n});
      put("spe", spe, {n});
      put("reason", reason, {n});
      put("contrib_column", column, {n, N});
      put("contrib_share", share, {n, N});
    }
    f.write_string_dataset("column_names", [this] {
      std::vector<std::string> names;
      for (std::size_t j = 0; j < bound_.model.n_columns(); ++j) names.push_back(column_of(j));
      return names;
    }());
    if (bound_.model.has_step_columns()) {  // each column's recipe step, -1 the whole wafer
      auto d = f.create_dataset("column_step", h5::Elem::i32, {bound_.model.n_columns()});
      d.write_all(std::span<const std::int32_t>(bound_.model.column_step));
    }
    f.close();
  }

  const ScoreConfig& config_;
  format::TraceIndex index_;
  features::FeatureSet set_;
  features::FeatureLayout layout_;
  BoundModel bound_;
  std::unique_ptr<features::FeatureBackend> backend_;
  std::unique_ptr<format::TraceReader> reader_;
  std::unique_ptr<FeatureRows> rows_from_;  // the lot is a run's output
  std::optional<model::DriftTally> tally_;
  std::vector<std::string> keys_;  // a grouped model: every wafer's group
  features::FeatureBlock block_;
  std::vector<char> buffer_;
  std::vector<std::int32_t> steps_;
  std::vector<std::uint64_t> wafers_;  // the lot's wafers (file indices)
  std::vector<double> rows_;           // the lot's wafers × J model columns, for --update
  ScoreOutcome out_;
};

}  // namespace

LatencyPercentiles latency_percentiles(const std::vector<double>& s) {
  LatencyPercentiles p;
  if (s.empty()) return p;
  p.p50 = metrics::percentile(s, 50.0);
  p.p95 = metrics::percentile(s, 95.0);
  p.p99 = metrics::percentile(s, 99.0);
  p.max = *std::max_element(s.begin(), s.end());
  return p;
}

ScoreOutcome run_score(const ScoreConfig& config) {
  if (config.model.empty() || config.input.empty())
    throw UsageError("wafermill score needs --model and --input");
  if (!(config.drift_threshold > 0.0)) throw UsageError("--drift-threshold must be > 0");
  if (config.contributions < 1 || config.contributions > 64)
    throw UsageError("--contributions must be in 1..64");
  OnlineScorer s(config);
  s.start();
  s.score_wafers();
  s.write_output();
  s.update();
  s.write_report();
  return s.take();
}

}  // namespace wafermill::job
