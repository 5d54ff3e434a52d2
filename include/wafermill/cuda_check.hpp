/// @file cuda_check.hpp
/// @brief WAFERMILL_CUDA_CHECK: one checked call for the CUDA runtime (and, through
/// gpu_failure(), for NCCL), reporting file:line, the error's name and string, host and rank.
///
/// Include only from sources built with the CUDA toolkit (it includes cuda_runtime_api.h).
#pragma once

#include <cuda_runtime_api.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace wafermill {

/// @brief A CUDA runtime or NCCL call failed. Maps to exit code 1 (a machine problem, not
/// bad input).
class GpuError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {

/// @brief This process's rank as the launcher exported it (Open MPI, Slurm, PMI), "?" if none:
/// read from the environment so that the CUDA code needs no MPI.
inline std::string launcher_rank() {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"}) {
    if (const char* v = std::getenv(name)) return v;
  }
  return "?";
}

/// @brief Throws GpuError "<api> failed at file:line: NAME (string) on host H, rank R".
[[noreturn]] inline void gpu_failure(const char* file, int line, const char* call,
                                     const std::string& name, const std::string& text) {
  char host[256] = "?";
  gethostname(host, sizeof host - 1);
  throw GpuError(std::string(call) + " failed at " + file + ":" + std::to_string(line) + ": " +
                 name + " (" + text + ") on host " + host + ", rank " + launcher_rank());
}

}  // namespace detail
}  // namespace wafermill

/// @brief Evaluates a cudaError_t expression; throws wafermill::GpuError unless cudaSuccess.
#define WAFERMILL_CUDA_CHECK(call)                                                  \
  do {                                                                              \
    const cudaError_t wafermill_cuda_status_ = (call);                              \
    if (wafermill_cuda_status_ != cudaSuccess) {                                    \
      ::wafermill::detail::gpu_failure(__FILE__, __LINE__, #call,                   \
                                       cudaGetErrorName(wafermill_cuda_status_),    \
                                       cudaGetErrorString(wafermill_cuda_status_)); \
    }                                                                               \
  } while (0)
