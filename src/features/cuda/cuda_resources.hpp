/// @file cuda_resources.hpp
/// @brief The CUDA RAII owners the trace backend uses (wafermill/cuda_resources.hpp, shared
/// with the picture path), under the backend's detail namespace.
#pragma once

#include "wafermill/cuda_resources.hpp"

namespace wafermill::features::detail {

using cuda::DeviceBuffer;
using cuda::Event;
using cuda::PinnedBuffer;
using cuda::Stream;

}  // namespace wafermill::features::detail
