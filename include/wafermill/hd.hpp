/// @file hd.hpp
/// @brief WAFERMILL_HD marks a function callable from host and device code, so the CPU loop
/// and the CUDA kernels share one per-element arithmetic and cannot drift apart.
#pragma once

#if defined(__CUDACC__)
#define WAFERMILL_HD __host__ __device__
#else
#define WAFERMILL_HD
#endif
