/// @file nccl_check.hpp
/// @brief WAFERMILL_NCCL_CHECK for the NCCL sources of reduce/ (private to the room).
#pragma once

#include <nccl.h>

#include <string>

#include "wafermill/cuda_check.hpp"

/// @brief Evaluates an ncclResult_t expression; throws wafermill::GpuError unless ncclSuccess.
#define WAFERMILL_NCCL_CHECK(call)                                                             \
  do {                                                                                         \
    const ncclResult_t wafermill_nccl_status_ = (call);                                        \
    if (wafermill_nccl_status_ != ncclSuccess) {                                               \
      ::wafermill::detail::gpu_failure(__FILE__, __LINE__, #call,                              \
                                       "ncclResult " + std::to_string(wafermill_nccl_status_), \
                                       ncclGetErrorString(wafermill_nccl_status_));            \
    }                                                                                          \
  } while (0)
