// The wafers'-space (Gram matrix) path of the fit (docs/MONITORING.md "Matrix"): which path is
// taken, and that where both are possible the two give the same model to rounding.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "wafermill/error.hpp"
#include "wafermill/model/pca_fit.hpp"
#include "wafermill/model/pca_model.hpp"

namespace wm = wafermill::model;

namespace {

// Good wafers with more columns than the reference has wafers: 3 latent factors drive J
// columns, plus noise; columns on different scales and offsets; a few values missing.
wm::ReferenceRows wide_reference(std::size_t n, std::size_t J, std::uint64_t seed, double noise) {
  std::mt19937_64 fixed(4321), rng(seed);
  std::normal_distribution<double> g(0.0, 1.0);
  std::vector<double> mix(3 * J);
  for (double& m : mix) m = g(fixed);
  wm::ReferenceRows r;
  for (std::size_t j = 0; j < J; ++j) {
    std::string name = "s";
    name += std::to_string(j);
    r.column_sensor.push_back(name);
    r.column_feature.push_back("mean");
  }
  for (std::size_t i = 0; i < n; ++i) {
    const double f[3] = {3.0 * g(rng), 2.0 * g(rng), g(rng)};  // well separated eigenvalues
    for (std::size_t j = 0; j < J; ++j) {
      double x = noise * g(rng);
      for (int k = 0; k < 3; ++k) x += mix[k * J + j] * f[k];
      r.values.push_back(50.0 * static_cast<double>(j % 7 + 1) +
                         static_cast<double>(j % 5 + 1) * x);
    }
  }
  r.values[3 * J + 5] = NAN;  // imputed by the column mean on both paths
  return r;
}

double rel(double a, double b) { return std::fabs(a - b) / std::max(std::fabs(a), std::fabs(b)); }

// Both paths on the same reference: centre and scale the same bits (the same sums and formula),
// eigenvalues and loadings to 1e-10, limits and the test wafers' T² and SPE to 1e-8.
void expect_same_model(const wm::ReferenceRows& ref, wm::FitOptions o,
                       const wm::ReferenceRows& test) {
  o.matrix = wm::MatrixPath::covariance;
  const wm::PcaModel cov = wm::fit_pca(ref, o, MPI_COMM_NULL);
  o.matrix = wm::MatrixPath::gram;
  const wm::PcaModel gram = wm::fit_pca(ref, o, MPI_COMM_NULL);
  ASSERT_NE(cov.method.find("covariance"), std::string::npos);
  ASSERT_NE(gram.method.find("Gram matrix"), std::string::npos);
  const std::size_t J = cov.n_columns();
  ASSERT_EQ(gram.n_columns(), J);
  EXPECT_EQ(gram.centre, cov.centre);
  EXPECT_EQ(gram.scale, cov.scale);
  ASSERT_EQ(gram.n_components, cov.n_components);
  const std::size_t A = cov.n_components;
  for (std::size_t a = 0; a < A; ++a) {
    EXPECT_LT(rel(gram.eigenvalues[a], cov.eigenvalues[a]), 1e-10) << "component " << a;
    EXPECT_LT(rel(gram.explained[a], cov.explained[a]), 1e-10) << "component " << a;
  }
  for (std::size_t q = 0; q < J * A; ++q)
    EXPECT_NEAR(std::fabs(gram.loadings[q]), std::fabs(cov.loadings[q]), 1e-10) << "entry " << q;
  for (std::size_t q = 0; q < J * A; ++q)  // the same sign rule: the same signs
    if (std::fabs(cov.loadings[q]) > 1e-6) {
      EXPECT_EQ(gram.loadings[q] > 0, cov.loadings[q] > 0) << q;
    }
  EXPECT_LT(rel(gram.t2_limit, cov.t2_limit), 1e-8);
  EXPECT_LT(rel(gram.spe_limit, cov.spe_limit), 1e-8);
  EXPECT_EQ(gram.heldout_false_alarm_rate, cov.heldout_false_alarm_rate);
  EXPECT_EQ(gram.insample_false_alarm_rate, cov.insample_false_alarm_rate);
  EXPECT_EQ(gram.hist_counts, cov.hist_counts);
  for (std::size_t i = 0; i < test.rows(); ++i) {
    const std::span<const double> x(&test.values[i * J], J);
    const wm::WaferVerdict a = wm::score_wafer(cov, x), b = wm::score_wafer(gram, x);
    EXPECT_LT(rel(a.t2, b.t2), 1e-8) << "wafer " << i;
    EXPECT_LT(rel(a.spe, b.spe), 1e-8) << "wafer " << i;
  }
  // The fold models that score the wafers (wafer i by fold i mod 5): the same to rounding.
  ASSERT_EQ(gram.fold_models.size(), cov.fold_models.size());
  for (std::size_t i = 0; i < test.rows(); ++i) {
    const std::span<const double> x(&test.values[i * J], J);
    ASSERT_EQ(gram.scorer(i).n_components, cov.scorer(i).n_components) << "wafer " << i;
    const wm::WaferVerdict a = wm::score_wafer(cov.scorer(i), x),
                           b = wm::score_wafer(gram.scorer(i), x);
    EXPECT_LT(rel(a.t2, b.t2), 1e-8) << "wafer " << i;
    EXPECT_LT(rel(a.spe, b.spe), 1e-8) << "wafer " << i;
  }
  // The Gram model keeps no mergeable sums (J(J+1)/2 of them); the covariance model does.
  EXPECT_TRUE(cov.has_sums());
  EXPECT_FALSE(gram.has_sums());
}

}  // namespace

TEST(PcaGram, AutomaticPathIsGramWhenColumnsOutnumberWafers) {
  const auto ref = wide_reference(60, 90, 1, 0.2);
  wm::FitOptions o;
  o.false_alarm_rate = 0.05;
  EXPECT_NE(wm::fit_pca(ref, o, MPI_COMM_NULL).method.find("Gram matrix"), std::string::npos);
  const auto tall = wide_reference(100, 90, 1, 0.2);
  EXPECT_NE(wm::fit_pca(tall, o, MPI_COMM_NULL).method.find("covariance"), std::string::npos);
}

TEST(PcaGram, AgreesWithTheCovariancePath) {
  wm::FitOptions o;
  o.false_alarm_rate = 0.05;
  // J slightly above n; J well above n; J below n (both forced).
  expect_same_model(wide_reference(80, 84, 2, 0.2), o, wide_reference(40, 84, 99, 0.2));
  expect_same_model(wide_reference(50, 300, 3, 0.2), o, wide_reference(40, 300, 98, 0.2));
  expect_same_model(wide_reference(200, 30, 4, 0.2), o, wide_reference(40, 30, 97, 0.2));
  // Many components (the noise's own, close together): eigenvalues and limits still agree.
  o.variance_target = 0.99;
  o.false_alarm_rate = 0.1;
  const auto ref = wide_reference(60, 70, 5, 0.5);
  o.matrix = wm::MatrixPath::covariance;
  const wm::PcaModel cov = wm::fit_pca(ref, o, MPI_COMM_NULL);
  o.matrix = wm::MatrixPath::gram;
  const wm::PcaModel gram = wm::fit_pca(ref, o, MPI_COMM_NULL);
  ASSERT_EQ(gram.n_components, cov.n_components);
  EXPECT_GT(cov.n_components, 10u);
  for (std::size_t a = 0; a < cov.n_components; ++a)
    EXPECT_LT(rel(gram.eigenvalues[a], cov.eigenvalues[a]), 1e-10) << "component " << a;
  EXPECT_LT(rel(gram.t2_limit, cov.t2_limit), 1e-8);
  EXPECT_LT(rel(gram.spe_limit, cov.spe_limit), 1e-8);
}

TEST(PcaGram, GroupedAgreesWithTheCovariancePath) {
  auto ref = wide_reference(90, 120, 6, 0.2);
  const std::size_t J = ref.column_sensor.size();
  for (std::size_t i = 0; i < ref.rows(); ++i) {
    ref.group.push_back(std::to_string(i % 3));
    for (std::size_t j = 0; j < J; ++j) ref.values[i * J + j] += 30.0 * static_cast<double>(i % 3);
  }
  wm::FitOptions o;
  o.false_alarm_rate = 0.05;
  o.group_by = "tool_id";
  o.matrix = wm::MatrixPath::covariance;
  const wm::PcaModel cov = wm::fit_pca(ref, o, MPI_COMM_NULL);
  o.matrix = wm::MatrixPath::gram;
  const wm::PcaModel gram = wm::fit_pca(ref, o, MPI_COMM_NULL);
  EXPECT_EQ(gram.group_centre, cov.group_centre);
  EXPECT_EQ(gram.group_scale, cov.group_scale);
  EXPECT_EQ(gram.centre, cov.centre);
  EXPECT_EQ(gram.scale, cov.scale);
  ASSERT_EQ(gram.n_components, cov.n_components);
  for (std::size_t a = 0; a < cov.n_components; ++a)
    EXPECT_LT(rel(gram.eigenvalues[a], cov.eigenvalues[a]), 1e-10) << "component " << a;
  for (std::size_t q = 0; q < gram.loadings.size(); ++q)
    EXPECT_NEAR(gram.loadings[q], cov.loadings[q], 1e-10) << "entry " << q;
  EXPECT_LT(rel(gram.t2_limit, cov.t2_limit), 1e-8);
  EXPECT_LT(rel(gram.spe_limit, cov.spe_limit), 1e-8);
  EXPECT_FALSE(gram.has_sums());
}

TEST(PcaGram, ChoiceFollowsTheRuleAndTheBudget) {
  const std::uint64_t mib = 1 << 20;
  using P = wm::MatrixPath;
  EXPECT_EQ(wm::choose_matrix(200, 201, P::automatic, 256 * mib).path, P::gram);
  EXPECT_EQ(wm::choose_matrix(200, 200, P::automatic, 256 * mib).path, P::covariance);
  // 1000 columns need 277 MiB of exact sums: over 256 MiB, so the Gram path though J < n.
  const auto c = wm::choose_matrix(1100, 1000, P::automatic, 256 * mib);
  EXPECT_EQ(c.path, P::gram);
  EXPECT_GT(c.covariance_bytes, 256 * mib);
  // 24,000 columns (100 sensors × 12 features × 20 steps) of 1000 wafers: about 400 MiB on
  // rank 0 by the Gram path, 152 GiB of exact sums by the covariance path.
  const auto big = wm::choose_matrix(1000, 24000, P::automatic, 512 * mib);
  EXPECT_EQ(big.path, P::gram);
  EXPECT_GT(big.covariance_bytes, 100000 * mib);
  for (P asked : {P::automatic, P::gram}) {
    try {
      wm::choose_matrix(1000, 24000, asked, 256 * mib);
      FAIL() << "no error";
    } catch (const wafermill::InputError& e) {
      const std::string w = e.what();
      EXPECT_NE(w.find("24000 model columns and 1000 reference wafers"), std::string::npos) << w;
      EXPECT_NE(w.find("Gram matrix"), std::string::npos) << w;
      EXPECT_NE(w.find("--memory-budget"), std::string::npos) << w;
    }
  }
  EXPECT_THROW(wm::choose_matrix(1000, 24000, P::covariance, 512 * mib), wafermill::InputError);
}

TEST(PcaGram, ModelFileWithoutSumsRoundTripsAndRefusesAnUpdate) {
  const auto ref = wide_reference(40, 70, 7, 0.2);
  wm::FitOptions o;
  o.false_alarm_rate = 0.05;
  wm::PcaModel m = wm::fit_pca(ref, o, MPI_COMM_NULL);
  ASSERT_FALSE(m.has_sums());
  const std::string path = ::testing::TempDir() + "/gram_model.h5";
  wm::write_model(m, path);
  wm::PcaModel r = wm::read_model(path);
  std::remove(path.c_str());
  EXPECT_EQ(r.loadings, m.loadings);
  EXPECT_EQ(r.eigenvalues, m.eigenvalues);
  EXPECT_EQ(r.centre, m.centre);
  EXPECT_EQ(r.hist_counts, m.hist_counts);
  EXPECT_EQ(r.sum_n, 0u);
  EXPECT_TRUE(r.sum_dd.empty());
  EXPECT_TRUE(r.has_histograms());
  try {
    wm::update_model(r, std::span<const double>(ref.values.data(), 70));
    FAIL() << "no error";
  } catch (const wafermill::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("Gram"), std::string::npos) << e.what();
  }
}

// The fold models kept for scoring (--scoring folds) count against the memory budget with the
// rows and the matrix: a budget that holds those but not the fold models is refused, naming the
// budget and the way out; the whole model (--scoring full) fits within it.
TEST(PcaGram, KeptFoldModelsCountAgainstTheBudget) {
  const std::size_t n = 120, J = 300;
  const auto ref = wide_reference(n, J, 11, 0.2);
  const wm::MatrixChoice matrix = wm::choose_matrix(n, J, wm::MatrixPath::automatic, 256ULL << 20);
  ASSERT_EQ(matrix.path, wm::MatrixPath::gram);
  wm::FitOptions o;
  o.false_alarm_rate = 0.05;
  o.scoring = wm::FoldScoring::folds;
  const wm::PcaModel whole_budget = wm::fit_pca(ref, o, MPI_COMM_NULL);
  ASSERT_EQ(whole_budget.fold_models.size(), 5u);
  std::uint64_t kept = 0;
  for (const wm::PcaModel& f : whole_budget.fold_models)
    kept += sizeof(double) *
            (f.loadings.size() + f.centre.size() + f.scale.size() + f.eigenvalues.size());
  // Rows, their centred copy and the Gram matrix fit; the fold models (at least 5 × J × 8 × 3
  // bytes of loadings and scales) do not.
  const std::uint64_t resident = sizeof(double) * 2 * n * J + matrix.gram_bytes;
  ASSERT_GT(kept, 2 * 5 * J * sizeof(double));
  o.memory_budget_bytes = resident + kept / 2;
  try {
    wm::fit_pca(ref, o, MPI_COMM_NULL);
    FAIL() << "no error";
  } catch (const wafermill::InputError& e) {
    const std::string w = e.what();
    EXPECT_NE(w.find("fold models"), std::string::npos) << w;
    EXPECT_NE(w.find("--memory-budget"), std::string::npos) << w;
    EXPECT_NE(w.find("--scoring full"), std::string::npos) << w;
  }
  o.scoring = wm::FoldScoring::full;
  const wm::PcaModel full = wm::fit_pca(ref, o, MPI_COMM_NULL);
  EXPECT_TRUE(full.fold_models.empty());
}
