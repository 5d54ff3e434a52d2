// The model's mergeable sums (score --update) and reference histograms (drift):
// docs/MONITORING.md "score" and "Drift".
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "wafermill/error.hpp"
#include "wafermill/metrics/metrics.hpp"
#include "wafermill/model/drift.hpp"
#include "wafermill/model/pca_fit.hpp"
#include "wafermill/model/pca_model.hpp"

namespace wm = wafermill::model;

namespace {

constexpr std::size_t kCols = 8;

// Good wafers: 2 latent factors drive 8 columns on different scales, plus noise.
std::vector<double> wafers(std::uint64_t seed, std::size_t n, std::size_t shifted_column = kCols,
                           double shift_sd = 0.0) {
  std::mt19937_64 rng(seed), fixed(99);
  std::normal_distribution<double> g(0.0, 1.0);
  std::vector<double> mix(2 * kCols);
  for (double& m : mix) m = g(fixed);
  std::vector<double> out;
  for (std::size_t i = 0; i < n; ++i) {
    const double f0 = g(rng), f1 = g(rng);
    for (std::size_t j = 0; j < kCols; ++j) {
      double x = mix[j] * f0 + mix[kCols + j] * f1 + 0.4 * g(rng);
      // Column j's sd is about |mix| ~ 1 + 0.4; a shift of shift_sd in those units.
      if (j == shifted_column)
        x += shift_sd * std::sqrt(mix[j] * mix[j] + mix[kCols + j] * mix[kCols + j] + 0.16);
      out.push_back(10.0 * static_cast<double>(j + 1) + static_cast<double>(j + 1) * x);
    }
  }
  return out;
}

wm::ReferenceRows rows_of(const std::vector<double>& v) {
  wm::ReferenceRows r;
  for (std::size_t j = 0; j < kCols; ++j) {
    std::string name = "s";
    name += std::to_string(j);
    r.column_sensor.push_back(name);
    r.column_feature.push_back("mean");
  }
  r.values = v;
  return r;
}

wm::PcaModel fit(const std::vector<double>& v) {
  wm::FitOptions o;
  o.false_alarm_rate = 0.05;
  o.scoring = wm::FoldScoring::full;  // the models `score --update` takes
  return wm::fit_pca(rows_of(v), o, MPI_COMM_NULL);
}

// m written to a temporary model file and read back.
wm::PcaModel round_trip(const wm::PcaModel& m, const std::string& name) {
  const std::string path = ::testing::TempDir() + name;
  wm::write_model(m, path);
  wm::PcaModel r = wm::read_model(path);
  std::remove(path.c_str());
  return r;
}

double rel(double a, double b) { return std::fabs(a - b) / std::max(1.0, std::fabs(b)); }

}  // namespace

TEST(ModelUpdate, EqualsAFitOnTheUnionToRounding) {
  const auto first = wafers(1, 400), lot = wafers(2, 25);
  std::vector<double> both = first;
  both.insert(both.end(), lot.begin(), lot.end());
  wm::PcaModel updated = fit(first);
  const double t2_limit = updated.t2_limit, spe_limit = updated.spe_limit;
  wm::update_model(updated, lot);
  const wm::PcaModel union_fit = fit(both);
  ASSERT_EQ(updated.sum_n, 425u);
  EXPECT_EQ(updated.n_reference, union_fit.n_reference);
  ASSERT_EQ(updated.n_components, union_fit.n_components);
  EXPECT_EQ(updated.t2_limit, t2_limit);  // the limits stay those the fit calibrated
  EXPECT_EQ(updated.spe_limit, spe_limit);
  // The docs' stated rounding: 1e-9 relative on centre, scale, eigenvalues and loadings.
  for (std::size_t j = 0; j < kCols; ++j) {
    EXPECT_LT(rel(updated.centre[j], union_fit.centre[j]), 1e-12) << j;
    EXPECT_LT(rel(updated.scale[j], union_fit.scale[j]), 1e-12) << j;
    EXPECT_LT(rel(updated.sum_d[j] + 425.0 * (updated.origin[j] - union_fit.origin[j]),
                  union_fit.sum_d[j]),
              1e-9);
  }
  for (std::size_t a = 0; a < updated.n_components; ++a)
    EXPECT_LT(rel(updated.eigenvalues[a], union_fit.eigenvalues[a]), 1e-9) << a;
  for (std::size_t k = 0; k < updated.loadings.size(); ++k)
    EXPECT_LT(std::fabs(updated.loadings[k] - union_fit.loadings[k]), 1e-9) << k;
  // A wafer's statistics agree to the same rounding.
  const auto probe = wafers(3, 1);
  const auto a = wm::score_wafer(updated, probe), b = wm::score_wafer(union_fit, probe);
  EXPECT_LT(rel(a.spe, b.spe), 1e-8);
}

TEST(ModelUpdate, TwoLotsEqualOneLotOfBoth) {
  const auto first = wafers(4, 300), lot_a = wafers(5, 25), lot_b = wafers(6, 25);
  std::vector<double> ab = lot_a;
  ab.insert(ab.end(), lot_b.begin(), lot_b.end());
  wm::PcaModel twice = fit(first), once = twice;
  wm::update_model(twice, lot_a);
  wm::update_model(twice, lot_b);
  wm::update_model(once, ab);
  // Each update rounds its sums once: two updates differ from one by a rounding of the sums.
  for (std::size_t j = 0; j < kCols; ++j) EXPECT_LT(rel(twice.sum_d[j], once.sum_d[j]), 1e-14) << j;
  for (std::size_t k = 0; k < once.sum_dd.size(); ++k)
    EXPECT_LT(rel(twice.sum_dd[k], once.sum_dd[k]), 1e-14) << k;
  EXPECT_EQ(twice.hist_counts, once.hist_counts);  // integer counts: exact
  EXPECT_EQ(twice.sum_n, once.sum_n);
}

TEST(ModelUpdate, AModelWithoutSumsIsRefused) {
  wm::PcaModel m = fit(wafers(7, 100));
  m.sum_n = 0;
  m.sum_d.clear();
  EXPECT_THROW(wm::update_model(m, wafers(8, 5)), wafermill::InputError);
}

TEST(ModelUpdate, AFoldScoredModelIsRefused) {
  wm::FitOptions o;
  o.false_alarm_rate = 0.05;
  o.scoring = wm::FoldScoring::folds;
  wm::PcaModel m = wm::fit_pca(rows_of(wafers(7, 100)), o, MPI_COMM_NULL);
  ASSERT_EQ(m.fold_models.size(), 5u);
  EXPECT_THROW(wm::update_model(m, wafers(8, 5)), wafermill::InputError);
}

TEST(ModelFile, SumsAndHistogramsRoundTrip) {
  const wm::PcaModel m = fit(wafers(9, 200));
  ASSERT_TRUE(m.has_sums());
  ASSERT_TRUE(m.has_histograms());
  std::uint64_t total = 0;
  for (std::size_t b = 0; b < wm::kReferenceBins; ++b) total += m.hist_counts[b];
  EXPECT_EQ(total, 200u);  // every finite value lands in a bin (edge bins take the outside)
  const wm::PcaModel r = round_trip(m, "model_v2_roundtrip.h5");
  EXPECT_EQ(r.origin, m.origin);
  EXPECT_EQ(r.sum_n, m.sum_n);
  EXPECT_EQ(r.sum_d, m.sum_d);
  EXPECT_EQ(r.sum_dd, m.sum_dd);
  EXPECT_EQ(r.hist_lo, m.hist_lo);
  EXPECT_EQ(r.hist_hi, m.hist_hi);
  EXPECT_EQ(r.hist_counts, m.hist_counts);
}

wm::DriftReport drift_of(const wm::PcaModel& m, const std::vector<double>& v,
                         double floor = wm::kDefaultPsiThreshold) {
  wm::DriftTally t(m);
  for (std::size_t i = 0; i < v.size() / kCols; ++i)
    t.add(std::span<const double>(v).subspan(i * kCols, kCols));
  return wm::assess_drift(m, t.counts(), t.wafers(), floor);
}

TEST(Drift, APlantedShiftOfOneColumnIsFoundAndACleanNightIsQuiet) {
  const wm::PcaModel m = fit(wafers(10, 1000));
  for (const std::size_t n : {500u, 1000u}) {
    const auto clean = drift_of(m, wafers(11 + n, n));
    EXPECT_TRUE(clean.assessed);
    EXPECT_TRUE(clean.drifted().empty()) << n << " wafers: " << clean.drifted().front().psi;
    const auto moved = drift_of(m, wafers(12 + n, n, 3, 1.5));
    ASSERT_EQ(moved.drifted().size(), 1u) << n << " wafers";
    EXPECT_EQ(moved.drifted().front().column, 3u);
    EXPECT_GT(moved.columns[3].kl, 0.0);
  }
}

TEST(Drift, ALotTooSmallForTheChiSquareReferenceIsNotAssessed) {
  const wm::PcaModel m = fit(wafers(10, 1000));
  // 25 wafers < kMinDriftWafers: kl and psi are there, nothing is named, the noise floor is
  // stated.
  const auto moved = drift_of(m, wafers(13, 25, 3, 3.0));
  EXPECT_FALSE(moved.assessed);
  EXPECT_TRUE(moved.drifted().empty());
  EXPECT_GT(moved.columns[3].psi, moved.noise_floor);
  EXPECT_NEAR(moved.noise_floor, 9.0 * (1.0 / 25 + 1.0 / 1000), 1e-12);
  EXPECT_FALSE(drift_of(m, wafers(14, wm::kMinDriftWafers - 1)).assessed);
  EXPECT_TRUE(drift_of(m, wafers(14, wm::kMinDriftWafers)).assessed);
}

TEST(Drift, TheThresholdIsTheChiSquareQuantileScaledByTheSampleSizes) {
  const wm::PcaModel m = fit(wafers(10, 1000));
  const auto r = drift_of(m, wafers(15, 500), 1e-9);
  // χ²_9 upper quantile at α/J = 0.01/8 = 0.00125: 27.2948 (the closed form for odd degrees,
  // Q(x; 9) = erfc(√(x/2)) + √(2x/π) e^{−x/2} (1 + x/3 + x²/15 + x³/105), gives 0.00125 there).
  EXPECT_NEAR(r.chi2_quantile, 27.2948, 1e-3);
  // The 8 columns share the feature "mean": one inflation, the median X over them, ≥ 1;
  // independent wafers leave it near 1.
  double x[kCols];
  for (std::size_t j = 0; j < kCols; ++j) x[j] = r.columns[j].psi / (1.0 / 500 + 1.0 / 1000);
  std::sort(x, x + kCols);
  EXPECT_NEAR(r.inflation, std::max(1.0, 0.5 * (x[3] + x[4]) / 8.3428), 1e-3);
  EXPECT_LT(r.inflation, 1.6);
  for (std::size_t j = 0; j < kCols; ++j) EXPECT_EQ(r.column_inflation[j], r.inflation);
  EXPECT_NEAR(r.statistical_threshold, r.inflation * r.chi2_quantile * (1.0 / 500 + 1.0 / 1000),
              1e-12);
  EXPECT_EQ(r.applied_threshold, r.statistical_threshold);
  EXPECT_EQ(r.columns[0].threshold, r.statistical_threshold);
}

// The stated false-alarm rate: over many clean nights of independent good wafers, the share of
// nights that name any column is at most α (0.01) plus binomial noise, with the PSI floor off so
// that only the chi-square reference decides.
TEST(Drift, ACleanNightNamesAColumnAtMostAtTheStatedRate) {
  const wm::PcaModel m = fit(wafers(20, 2000));
  const int nights = 400;
  int alarms = 0;
  for (int k = 0; k < nights; ++k)
    alarms += drift_of(m, wafers(1000 + static_cast<std::uint64_t>(k), 500), 1e-9).drifted().empty()
                  ? 0
                  : 1;
  // α = 0.01: 4 expected of 400; 3 sd of the binomial is 6 more.
  EXPECT_LE(alarms, 10) << alarms << " of " << nights << " clean nights named a column";
  // And the rule is not vacuous: a shift of 0.4 sd of one column over 500 wafers is found.
  int found = 0;
  for (int k = 0; k < 20; ++k)
    found += drift_of(m, wafers(5000 + static_cast<std::uint64_t>(k), 500, 5, 0.4), 1e-9)
                 .columns[5]
                 .drifted;
  EXPECT_GE(found, 18);
}

TEST(Drift, PsiIsTheSymmetricKl) {
  const std::vector<double> p{5, 10, 20, 0}, q{8, 8, 8, 8};
  const double psi = wafermill::metrics::population_stability_index(p, q, 0.5);
  EXPECT_NEAR(
      psi,
      wafermill::metrics::kl_divergence(p, q, 0.5) + wafermill::metrics::kl_divergence(q, p, 0.5),
      1e-12);
  EXPECT_EQ(wafermill::metrics::population_stability_index(q, q, 0.5), 0.0);
  EXPECT_THROW(wafermill::metrics::population_stability_index(p, q, 0.0), std::invalid_argument);
}

namespace {

// Lots of wafers that share a lot offset (0.6 sd of both latent factors): the lot-to-lot spread
// the chi-square reference does not know. Lot keys "0", "1", ... from first_lot on.
struct LottedWafers {
  std::vector<double> values;
  std::vector<std::string> lot;
};

LottedWafers lotted(std::uint64_t seed, std::size_t lots, std::size_t per_lot,
                    std::size_t first_lot = 0, std::size_t shifted_column = kCols,
                    double shift_sd = 0.0) {
  std::mt19937_64 rng(seed), fixed(99);
  std::normal_distribution<double> g(0.0, 1.0);
  std::vector<double> mix(2 * kCols);
  for (double& m : mix) m = g(fixed);
  LottedWafers out;
  for (std::size_t l = 0; l < lots; ++l) {
    const double o0 = 0.6 * g(rng), o1 = 0.6 * g(rng);
    for (std::size_t i = 0; i < per_lot; ++i) {
      const double f0 = g(rng) + o0, f1 = g(rng) + o1;
      for (std::size_t j = 0; j < kCols; ++j) {
        double x = mix[j] * f0 + mix[kCols + j] * f1 + 0.4 * g(rng);
        if (j == shifted_column)
          x += shift_sd * std::sqrt(mix[j] * mix[j] + mix[kCols + j] * mix[kCols + j] + 0.16);
        out.values.push_back(10.0 * static_cast<double>(j + 1) + static_cast<double>(j + 1) * x);
      }
      out.lot.push_back(std::to_string(first_lot + l));
    }
  }
  return out;
}

wm::PcaModel fit_lots(const LottedWafers& w) {
  wm::ReferenceRows r = rows_of(w.values);
  r.lot_by = "lot_id";
  r.lot = w.lot;
  wm::FitOptions o;
  o.false_alarm_rate = 0.05;
  o.scoring = wm::FoldScoring::full;
  return wm::fit_pca(r, o, MPI_COMM_NULL);
}

wm::DriftReport drift_of_lots(const wm::PcaModel& m, const LottedWafers& w, std::uint64_t lots) {
  wm::DriftTally t(m);
  for (std::size_t i = 0; i < w.values.size() / kCols; ++i)
    t.add(std::span<const double>(w.values).subspan(i * kCols, kCols));
  return wm::assess_drift(m, t.counts(), t.wafers(), 1e-9, lots);
}

}  // namespace

TEST(Drift, ReferenceLotsAreKeptPerLotAndRoundTrip) {
  const LottedWafers ref = lotted(30, 12, 25);
  const wm::PcaModel m = fit_lots(ref);
  ASSERT_TRUE(m.has_lot_histograms());
  ASSERT_EQ(m.lot_names.size(), 12u);
  EXPECT_EQ(m.lot_by, "lot_id");
  // Every lot's counts sum to the reference's histograms.
  const std::size_t JB = m.n_columns() * wm::kReferenceBins;
  std::vector<std::uint64_t> total(JB, 0);
  for (std::size_t l = 0; l < 12; ++l) {
    EXPECT_EQ(m.lot_wafers[l], 25u);
    for (std::size_t q = 0; q < JB; ++q) total[q] += m.lot_counts[l * JB + q];
  }
  EXPECT_EQ(total, m.hist_counts);
  const wm::PcaModel r = round_trip(m, "model_lots_roundtrip.h5");
  EXPECT_EQ(r.lot_by, m.lot_by);
  EXPECT_EQ(r.lot_names, m.lot_names);
  EXPECT_EQ(r.lot_wafers, m.lot_wafers);
  EXPECT_EQ(r.lot_counts, m.lot_counts);
  // An update is one more lot, and the histograms still add up.
  wm::PcaModel u = m;
  const LottedWafers more = lotted(31, 1, 20, 100);
  wm::update_model(u, more.values);
  ASSERT_EQ(u.lot_names.size(), 13u);
  EXPECT_EQ(u.lot_wafers.back(), 20u);
  std::fill(total.begin(), total.end(), 0);
  for (std::size_t l = 0; l < 13; ++l)
    for (std::size_t q = 0; q < JB; ++q) total[q] += u.lot_counts[l * JB + q];
  EXPECT_EQ(total, u.hist_counts);
}

TEST(Drift, AFewLotsAreJudgedAgainstTheReferencesOwnLots) {
  const wm::PcaModel m = fit_lots(lotted(40, 60, 25));
  // Clean pairs of lots: assessed by the lot rule, a column named at about α = 0.01 (2 expected
  // of 200; 3 sd of the binomial is 4 more). The chi-square reference, applied to the same
  // pairs (the threshold λ (1/n + 1/N) χ²₉(1 − α/J), λ ≥ 1), would name a column far more
  // often: these lots' offsets are what it does not know.
  int alarms = 0, chi2_alarms = 0;
  for (int k = 0; k < 200; ++k) {
    const auto r = drift_of_lots(m, lotted(1000 + static_cast<std::uint64_t>(k), 2, 25, 500), 2);
    ASSERT_EQ(r.rule, "lots");
    ASSERT_TRUE(r.assessed);
    EXPECT_EQ(r.reference_lots, 60u);
    alarms += r.drifted().empty() ? 0 : 1;
    bool named = false;
    for (const auto& c : r.columns)
      named = named || c.psi > (1.0 / 50 + 1.0 / 1500) * r.chi2_quantile;
    chi2_alarms += named;
  }
  EXPECT_LE(alarms, 6) << alarms << " of 200 clean pairs of lots named a column";
  EXPECT_GE(chi2_alarms, 20) << "the chi-square rule would name a column in " << chi2_alarms
                             << " of 200: the lots are not overdispersed, the test is vacuous";
  // Not vacuous: a pair of lots with column 3 shifted by 2 sd is found, and only column 3.
  int found = 0, wrong = 0;
  for (int k = 0; k < 20; ++k) {
    const auto r =
        drift_of_lots(m, lotted(5000 + static_cast<std::uint64_t>(k), 2, 25, 500, 3, 2.0), 2);
    found += r.columns[3].drifted;
    for (const auto& c : r.drifted()) wrong += c.column != 3;
  }
  EXPECT_GE(found, 18);
  EXPECT_LE(wrong, 2);
}

TEST(Drift, TooFewReferenceLotsOrNoneLeaveAFewLotsUnassessed) {
  const wm::PcaModel m = fit_lots(lotted(50, 60, 25));
  // One lot of 60: 60 sets < kMinLotSets.
  const auto one = drift_of_lots(m, lotted(51, 1, 25, 500, 3, 3.0), 1);
  EXPECT_FALSE(one.assessed);
  EXPECT_EQ(one.rule, "none");
  EXPECT_TRUE(one.drifted().empty());
  // Lots not known (0), or a model without lots: not assessed.
  EXPECT_FALSE(drift_of_lots(m, lotted(52, 2, 25, 500), 0).assessed);
  const wm::PcaModel plain = fit(lotted(53, 60, 25).values);
  EXPECT_FALSE(plain.has_lot_histograms());
  EXPECT_FALSE(drift_of_lots(plain, lotted(54, 2, 25, 500), 2).assessed);
  // From kMinDriftWafers on, the chi-square rule whatever the lots.
  EXPECT_EQ(drift_of_lots(m, lotted(55, 20, 25, 500), 20).rule, "chi2");
}
