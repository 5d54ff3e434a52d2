/// @file device_select.cpp
/// @brief select_device(): one rank per GPU, ranks of a node spread over its devices.
#include "device_select.hpp"

#include <cstdlib>
#include <string>

#include "wafermill/error.hpp"

namespace wafermill::features::detail {

std::optional<int> launcher_local_rank() {
  for (const char* name :
       {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID", "PMI_LOCAL_RANK"}) {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0') continue;
    char* end = nullptr;
    const long r = std::strtol(v, &end, 10);
    if (*end == '\0' && r >= 0 && r < (1L << 20)) return static_cast<int>(r);
  }
  return std::nullopt;
}

int select_device(int requested, int count, std::optional<int> local_rank) {
  if (count <= 0) {
    throw UsageError("backend cuda: no CUDA device is visible to this process");
  }
  if (requested >= count) {
    throw UsageError("backend cuda: device " + std::to_string(requested) + " requested but only " +
                     std::to_string(count) + " visible");
  }
  if (requested >= 0) return requested;
  // More ranks than devices share them round-robin; correct, but the GPU term then counts
  // each device once per rank using it.
  return local_rank ? *local_rank % count : 0;
}

}  // namespace wafermill::features::detail
