/// @file cuda_gpu_utilisation_test.cpp
/// @brief E_GPU: the time-weighted formula, and the NVML sampler — nothing (not a throw) where
/// NVML is missing, figures where a driver and a GPU are present.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

#include "wafermill/metrics/gpu_utilisation.hpp"

namespace wafermill::metrics {
namespace {

TEST(CudaGpuUtilisation, TimeWeightedMeanOverGpus) {
  // Two GPUs: 1 s with both busy, 3 s with one busy at 50 %: (2·1 + 0.5·3) / (4 · 2).
  const std::vector<UtilisationSample> s = {{1.0, 2.0}, {3.0, 0.5}};
  EXPECT_DOUBLE_EQ(*gpu_efficiency(s, 2), 3.5 / 8.0);
  EXPECT_FALSE(gpu_efficiency({}, 1));
  EXPECT_FALSE(gpu_efficiency(s, 0));
}

TEST(CudaGpuUtilisation, MissingLibraryGivesNothing) {
  GpuUtilisationSampler sampler({}, 20.0, "libwafermill-no-such-nvml.so.1");
  EXPECT_FALSE(sampler.available());
  EXPECT_NE(sampler.why_unavailable().find("cannot load"), std::string::npos);
  EXPECT_FALSE(sampler.stop());
}

TEST(CudaGpuUtilisation, SamplesWhereNvmlIsPresent) {
  GpuUtilisationSampler sampler({}, 50.0);
  if (!sampler.available()) {
    GTEST_SKIP() << "no CUDA device: " << sampler.why_unavailable();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto g = sampler.stop();
  ASSERT_TRUE(g);
  EXPECT_GE(g->samples, 3U);
  EXPECT_GE(g->e_gpu, 0.0);
  EXPECT_LE(g->e_gpu, 1.0);
  EXPECT_GT(g->seconds, 0.1);
}

}  // namespace
}  // namespace wafermill::metrics
