/// @file device_select.hpp
/// @brief Which CUDA device a rank uses: the one asked for, else its node-local rank modulo the
/// devices visible. Pure host code; the CUDA backend must not need MPI, so the node-local rank
/// comes from the launcher's environment (the job may pass one it computed with
/// MPI_Comm_split_type(MPI_COMM_TYPE_SHARED) as BackendOptions::device instead).
#pragma once

#include <optional>

namespace wafermill::features::detail {

/// @brief The node-local rank the launcher exported (OMPI_COMM_WORLD_LOCAL_RANK,
/// MPI_LOCALRANKID, SLURM_LOCALID, PMI_LOCAL_RANK, in that order), or nullopt.
std::optional<int> launcher_local_rank();

/// @brief The device for `requested` (-1: none) among `count` visible devices, given the
/// node-local rank when known. @throws UsageError when count == 0 or requested >= count.
int select_device(int requested, int count, std::optional<int> local_rank);

}  // namespace wafermill::features::detail
