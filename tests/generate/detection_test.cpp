/// @file detection_test.cpp
/// @brief The planted anomalies are strong enough for the detector wafermill runs: per
/// wafer and sensor the features mean, std, min, max, skewness, kurtosis, slope and median,
/// each z-scored across wafers, a wafer scored by its largest |z|.
#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>

#include "trace_file.hpp"

namespace wafermill::generate {
namespace {

constexpr std::size_t kFeatures = 8;

/// The eight features of one segment over its finite samples (NaN where undefined);
/// slope is least squares against the row within the wafer.
std::array<double, kFeatures> segment_features(const testing::LoadedTraces& t, std::uint64_t w,
                                               std::uint64_t s) {
  std::vector<double> x, pos;
  for (std::uint64_t r = 0; r < t.rows(w); ++r) {
    const double v = t.at(w, r, s);
    if (std::isfinite(v)) {
      x.push_back(v);
      pos.push_back(static_cast<double>(r));
    }
  }
  std::array<double, kFeatures> f;
  f.fill(std::nan(""));
  const auto n = static_cast<double>(x.size());
  if (x.size() < 3) return f;
  const double mean = std::accumulate(x.begin(), x.end(), 0.0) / n;
  const double pos_mean = std::accumulate(pos.begin(), pos.end(), 0.0) / n;
  double m2 = 0, m3 = 0, m4 = 0, sxy = 0, sxx = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double d = x[i] - mean;
    m2 += d * d;
    m3 += d * d * d;
    m4 += d * d * d * d;
    sxy += (pos[i] - pos_mean) * d;
    sxx += (pos[i] - pos_mean) * (pos[i] - pos_mean);
  }
  m2 /= n;
  m3 /= n;
  m4 /= n;
  f[0] = mean;
  f[1] = std::sqrt(m2 * n / (n - 1));
  f[2] = *std::min_element(x.begin(), x.end());
  f[3] = *std::max_element(x.begin(), x.end());
  if (m2 > 0) {
    f[4] = m3 / std::pow(m2, 1.5);
    f[5] = m4 / (m2 * m2) - 3;
  }
  f[6] = sxy / sxx;
  std::sort(x.begin(), x.end());
  f[7] = x.size() % 2 ? x[x.size() / 2] : 0.5 * (x[x.size() / 2 - 1] + x[x.size() / 2]);
  return f;
}

TEST(GenerateDetection, MaxAbsZCatchesMostPlantedAnomalies) {
  testing::ScratchDir dir;
  GeneratorOptions o;  // the demo sample's settings (data_samples/README.md), twice the wafers
  o.output = dir.file("t.h5");
  o.n_wafers = 2000;
  o.n_sensors = 16;
  o.n_steps = 4;
  o.mean_length = 400;
  o.length_sigma = 0.8;
  o.anomaly_fraction = 0.03;
  o.seed = 42;
  const GeneratorResult r = generate_traces(o);
  const testing::LoadedTraces t = testing::load(o.output);
  ASSERT_GT(r.n_anomalous, 30U);

  const std::uint64_t n_wafers = o.n_wafers;
  const std::size_t n_columns = o.n_sensors * kFeatures;
  std::vector<double> features(n_wafers * n_columns);
  for (std::uint64_t w = 0; w < n_wafers; ++w) {
    for (std::uint64_t s = 0; s < o.n_sensors; ++s) {
      const auto f = segment_features(t, w, s);
      std::copy(f.begin(), f.end(), features.begin() + (w * o.n_sensors + s) * kFeatures);
    }
  }
  std::vector<double> score(n_wafers, 0.0);
  for (std::size_t c = 0; c < n_columns; ++c) {
    double sum = 0, sq = 0, n = 0;
    for (std::uint64_t w = 0; w < n_wafers; ++w) {
      const double v = features[w * n_columns + c];
      if (std::isfinite(v)) sum += v, sq += v * v, ++n;
    }
    const double mean = sum / n;
    const double sd = std::sqrt(std::max(0.0, sq / n - mean * mean));
    if (!(sd > 0)) continue;
    for (std::uint64_t w = 0; w < n_wafers; ++w) {
      const double v = features[w * n_columns + c];
      if (std::isfinite(v)) score[w] = std::max(score[w], std::abs(v - mean) / sd);
    }
  }

  // Two readings of "catches most": with a fixed threshold |z| > 5, and when flagging as
  // many wafers as were planted, highest scores first (recall = precision then). Normal
  // wafers much shorter than the rest also score high (their per-sample slope is large),
  // which is what limits the second.
  std::vector<std::uint64_t> order(n_wafers);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](std::uint64_t a, std::uint64_t b) { return score[a] > score[b]; });
  std::array<double, 6> planted{}, over_threshold{}, in_top{};
  for (std::uint64_t w = 0; w < n_wafers; ++w) {
    planted[t.anomaly_kind[w]] += 1;
    if (score[w] > 5.0) over_threshold[t.anomaly_kind[w]] += 1;
  }
  for (std::uint64_t i = 0; i < r.n_anomalous; ++i) in_top[t.anomaly_kind[order[i]]] += 1;
  double total_over = 0, total_top = 0;
  for (int k = 1; k <= 5; ++k) {
    total_over += over_threshold[k];
    total_top += in_top[k];
    std::printf("kind %d: %g planted, %g with |z| > 5, %g among the top %llu\n", k, planted[k],
                over_threshold[k], in_top[k], static_cast<unsigned long long>(r.n_anomalous));
    EXPECT_GE(over_threshold[k], 0.75 * planted[k]) << "kind " << k;
  }
  const auto n_bad = static_cast<double>(r.n_anomalous);
  std::printf("recall at |z| > 5: %.3f (%g good wafers over it); recall in the top %g: %.3f\n",
              total_over / n_bad, over_threshold[0], n_bad, total_top / n_bad);
  EXPECT_GE(total_over / n_bad, 0.9);
  EXPECT_GE(total_top / n_bad, 0.8);
}

}  // namespace
}  // namespace wafermill::generate
