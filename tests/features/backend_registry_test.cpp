/// @file backend_registry_test.cpp
/// @brief make_backend(): choosing a backend by name in a build without CUDA.
#include <gtest/gtest.h>

#include <string>

#include "wafermill/config.hpp"
#include "wafermill/error.hpp"
#include "wafermill/features/backend.hpp"

namespace wafermill::features {
namespace {

TEST(BackendRegistry, CpuByName) {
  BackendOptions options;
  options.name = "cpu";
  EXPECT_EQ(make_backend(options, FeatureLayout{})->name(), "cpu");
}

TEST(BackendRegistry, UnknownNameIsAUsageError) {
  BackendOptions options;
  options.name = "tpu";
  try {
    make_backend(options, FeatureLayout{});
    FAIL() << "no exception";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("'tpu'"), std::string::npos) << e.what();
  }
}

TEST(BackendRegistry, CudaWithoutADeviceIsAUsageError) {
  if (cuda_device_count() > 0) GTEST_SKIP() << "this machine has a CUDA device";
  BackendOptions options;
  options.name = "cuda";
  try {
    make_backend(options, FeatureLayout{});
    FAIL() << "no exception";
  } catch (const UsageError& e) {
    // A build without nvcc links cuda_stub.cpp, which says so.
    if (!WAFERMILL_HAVE_CUDA) {
      EXPECT_NE(std::string(e.what()).find("no CUDA backend"), std::string::npos) << e.what();
    }
  }
}

TEST(BackendRegistry, BuildWithoutCudaSeesNoDevice) {
  if (WAFERMILL_HAVE_CUDA) GTEST_SKIP() << "this build has nvcc";
  EXPECT_EQ(cuda_device_count(), 0);
}

TEST(BackendRegistry, AutoPicksCudaOnlyWithADevice) {
  BackendOptions options;
  options.name = "auto";
  if (cuda_device_count() == 0) {
    EXPECT_EQ(make_backend(options, FeatureLayout{})->name(), "cpu");
  } else {
    EXPECT_EQ(make_backend(options, FeatureLayout{})->name(), "cuda");
  }
}

}  // namespace
}  // namespace wafermill::features
