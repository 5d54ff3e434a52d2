// The comparison and accuracy arithmetic of the run report (report/comparison.hpp).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "wafermill/metrics/metrics.hpp"
#include "wafermill/report/comparison.hpp"

namespace wr = wafermill::report;
namespace wm = wafermill::metrics;

TEST(Comparison, HistogramKlSkipsEmptyColumnsAndSummarises) {
  // Three columns of 4 bins: identical, empty in both (skipped), and shifted.
  const std::vector<std::uint64_t> ref = {1, 2, 3, 4, 0, 0, 0, 0, 10, 0, 0, 0};
  const std::vector<std::uint64_t> got = {1, 2, 3, 4, 0, 0, 0, 0, 0, 10, 0, 0};
  wr::Accuracy a;
  a.smoothing_alpha = 0.5;
  wr::add_histogram_kl(a, ref, got, 4);
  const double shifted =
      wm::kl_divergence(std::vector<double>{10, 0, 0, 0}, std::vector<double>{0, 10, 0, 0}, 0.5);
  ASSERT_TRUE(a.kl_histograms_max && a.kl_histograms_mean);
  EXPECT_GT(shifted, 0.1);
  EXPECT_DOUBLE_EQ(*a.kl_histograms_max, shifted);
  EXPECT_DOUBLE_EQ(*a.kl_histograms_mean, shifted / 2);  // two columns count, not three

  wr::Accuracy none;
  wr::add_histogram_kl(none, std::vector<std::uint64_t>(8, 0), std::vector<std::uint64_t>(8, 0), 4);
  EXPECT_FALSE(none.kl_histograms_max.has_value());
}

TEST(Comparison, LabelAccuracyAndRatio) {
  wr::Accuracy a;
  a.smoothing_alpha = 0.5;
  // 10 wafers, 4 bad; the parallel run flagged 4 (3 of them bad), the baseline 6.
  wr::add_label_accuracy(a, 3, 1, 5, 1, 4, 6);
  EXPECT_EQ(*a.tp, 3u);
  EXPECT_EQ(*a.fn, 1u);
  EXPECT_EQ(*a.label_distribution, (std::vector<double>{0.6, 0.4}));
  EXPECT_EQ(*a.parallel_flag_distribution, (std::vector<double>{0.6, 0.4}));
  EXPECT_DOUBLE_EQ(*a.kl_labels_parallel, 0.0);  // same shares: no divergence
  EXPECT_GT(*a.kl_labels_sequential, 0.0);
  EXPECT_FALSE(a.accuracy_ratio.has_value());  // D_KL(par) = 0: no ratio

  wr::Accuracy b;
  wr::add_label_accuracy(b, 3, 1, 5, 1, 2, 6);
  ASSERT_TRUE(b.accuracy_ratio.has_value());
  EXPECT_DOUBLE_EQ(*b.accuracy_ratio, *b.kl_labels_sequential / *b.kl_labels_parallel);
}

TEST(Comparison, CombinedScoreDropsAbsentTerms) {
  wr::RunReport r;
  r.parallel.wall_s = 2.0;
  r.comparison.memory_efficiency = 0.5;
  wr::add_combined_score(r, {1, 1, 1, 1});
  ASSERT_EQ(r.comparison.score_terms.size(), 4u);
  ASSERT_TRUE(r.comparison.score.has_value());
  // 1/T and E_memory present, 1/D_KL and E_GPU absent: weights renormalised over two terms.
  EXPECT_DOUBLE_EQ(*r.comparison.score, 0.5 * (1.0 / 2.0) + 0.5 * 0.5);
}
