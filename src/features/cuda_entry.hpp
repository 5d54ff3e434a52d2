/// @file cuda_entry.hpp
/// @brief The two entry points of the CUDA backend, private to features/: the real ones in
/// features/cuda/ when the build has nvcc, those of cuda_stub.cpp otherwise, chosen by CMake
/// so that no caller needs an #ifdef.
#pragma once

#include <memory>

#include "wafermill/features/backend.hpp"

namespace wafermill::features {

/// @brief The CUDA backend on options.device.
/// @throws UsageError when this build or machine has no CUDA device.
std::unique_ptr<FeatureBackend> make_cuda_backend(const BackendOptions& options,
                                                  const FeatureLayout& layout);

/// @brief CUDA devices visible to this process; 0 without CUDA.
int cuda_devices();

}  // namespace wafermill::features
