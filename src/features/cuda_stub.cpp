/// @file cuda_stub.cpp
/// @brief The CUDA entry points of a build without nvcc: no devices, and asking for the
/// CUDA backend is a usage error.
#include "cuda_entry.hpp"
#include "wafermill/error.hpp"

namespace wafermill::features {

std::unique_ptr<FeatureBackend> make_cuda_backend(const BackendOptions& /*options*/,
                                                  const FeatureLayout& /*layout*/) {
  throw UsageError("this build of wafermill has no CUDA backend (built without nvcc)");
}

int cuda_devices() { return 0; }

}  // namespace wafermill::features
