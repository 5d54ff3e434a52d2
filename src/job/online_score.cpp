// `wafermill score` (docs/MONITORING.md "score"): a class of named steps, each one timed apart
// so that the start-up (model, index, backend) is not charged to the first wafer.
#include "wafermill/job/online_score.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>

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

// The wafers of the lot: those that pass --select (fit's clauses), in file order.
std::vector<std::uint64_t> select_wafers(const format::TraceIndex& index,
                                         const std::string& select) {
  const auto clauses = parse_select(select);
  const std::uint64_t W = index.n_wafers;
  std::vector<char> keep(W, 1);
  if (!clauses.empty()) {
    const h5::File f = h5::File::open_read(index.path);
    for (const auto& c : clauses) {
      std::vector<double> v(W);
      if (c.field == "index") {
        for (std::uint64_t i = 0; i < W; ++i) v[i] = static_cast<double>(i);
      } else {
        if (!f.has_group("wafers") || !f.open_group("wafers").has_dataset(c.field))
          throw UsageError(index.path + ": --select: no dataset /wafers/" + c.field);
        const h5::Dataset d = f.open_group("wafers").open_dataset(c.field);
        if (d.dims() != std::vector<std::uint64_t>{W} ||
            d.type().type_class == h5::TypeClass::string)
          throw InputError(index.path + ": /wafers/" + c.field + ": expected " + std::to_string(W) +
                           " numbers");
        if (W > 0) d.read(std::span<double>(v), {0}, {W});
      }
      for (std::uint64_t i = 0; i < W; ++i) keep[i] = keep[i] && passes(c, v[i]);
    }
  }
  std::vector<std::uint64_t> out;
  for (std::uint64_t i = 0; i < W; ++i)
    if (keep[i]) out.push_back(i);
  if (out.empty()) throw InputError(index.path + ": --select \"" + select + "\" selects no wafer");
  return out;
}

class OnlineScorer {
 public:
  explicit OnlineScorer(const ScoreConfig& c) : config_(c) {}

  // Model, trace index, binding of the model's columns to the lot's (sensor, feature), backend.
  void start() {
    const auto t = Clock::now();
    index_ = format::read_trace_index(config_.input);
    format::use_time_windows(index_, config_.time_windows);
    wafers_ = select_wafers(index_, config_.select);
    model::PcaModel m = model::read_model(config_.model);
    if (config_.update && m.fold_scored())  // refused before anything is scored or written
      throw InputError(
          config_.model + ": --update: the model scores wafers with its " +
          std::to_string(m.fold_models.size()) +
          " fold models (/fold_models, format v5), which an update of the whole "
          "reference's sums cannot keep consistent: refit it with `wafermill fit` "
          "(the new wafers in the reference), or fit with --scoring full to update it");
    set_ = features_of(m, config_.model);
    bound_ =
        bind_model(config_.model, std::move(m), index_.sensor_names, set_.names(), index_.n_steps,
                   index_.time_windows);
    layout_.n_sensors = index_.n_sensors;
    layout_.n_steps = index_.n_steps;
    layout_.features = set_;
    backend_ = features::make_cpu_backend(layout_);
    reader_ = std::make_unique<format::TraceReader>(index_, format::IoDriver::posix, MPI_COMM_NULL);
    if (bound_.model.has_histograms()) tally_.emplace(bound_.model);
    if (bound_.model.grouped())
      keys_ = model::read_group_keys(index_.path, bound_.model.group_by, index_.n_wafers, 0,
                                     index_.n_wafers);
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
                                       config_.drift_threshold);
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
