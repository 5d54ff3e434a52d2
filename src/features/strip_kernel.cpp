/// @file strip_kernel.cpp
/// @brief The row kernels of the CPU backend, compiled three times: 2 lanes for any x86-64 (or
/// other) CPU, 4 lanes in a target("avx2") function and 8 in a target("avx512f") one, chosen at
/// run time. No FMA is enabled, and the file is built with -ffp-contract=off: every width and
/// add_sample() round every operation the same way. (8 lanes: features_bench float32 without
/// the median 1.16 -> 0.91 ms per chunk, with it 2.36 -> 2.11 ms, on the 2-core AMD EPYC VM of
/// docs/BENCHMARKS.md, whose cores run 512-bit vectors at full width.)
#include "strip_kernel.hpp"

#include "wafermill/cpu.hpp"
namespace wafermill::features::detail {
namespace {

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define WAFERMILL_HAVE_AVX2_KERNEL 1
template <class T>
__attribute__((target("avx2"))) void rows_avx2(const T* rows, std::size_t n_columns,
                                               std::size_t n_rows, double p0, const ColumnGroup& g,
                                               std::vector<T>& pad) {
  accumulate_rows_w<T, 4>(rows, n_columns, n_rows, p0, g, pad);
}
template <class T>
__attribute__((target("avx512f"))) void rows_avx512(const T* rows, std::size_t n_columns,
                                                    std::size_t n_rows, double p0,
                                                    const ColumnGroup& g, std::vector<T>& pad) {
  accumulate_rows_w<T, 8>(rows, n_columns, n_rows, p0, g, pad);
}
#else
#define WAFERMILL_HAVE_AVX2_KERNEL 0
#endif

template <class T>
void rows_any(KernelIsa isa, const T* rows, std::size_t n_columns, std::size_t n_rows, double p0,
              const ColumnGroup& g, std::vector<T>& pad) {
#if WAFERMILL_HAVE_AVX2_KERNEL
  if (isa == KernelIsa::avx512) {
    rows_avx512<T>(rows, n_columns, n_rows, p0, g, pad);
    return;
  }
  if (isa == KernelIsa::avx2) {
    rows_avx2<T>(rows, n_columns, n_rows, p0, g, pad);
    return;
  }
#endif
  accumulate_rows_w<T, 2>(rows, n_columns, n_rows, p0, g, pad);
}

}  // namespace

bool kernel_isa_available(KernelIsa isa) {
  switch (isa) {
    case KernelIsa::generic:
      return true;
#if WAFERMILL_HAVE_AVX2_KERNEL
    case KernelIsa::avx2:
      return avx2_allowed();
    case KernelIsa::avx512:
      return avx512_allowed();
#endif
    default:
      return false;
  }
}

KernelIsa best_kernel_isa() {
  for (const KernelIsa isa : {KernelIsa::avx512, KernelIsa::avx2})
    if (kernel_isa_available(isa)) return isa;
  return KernelIsa::generic;
}

void accumulate_rows(KernelIsa isa, const float* rows, std::size_t n_columns, std::size_t n_rows,
                     double p0, const ColumnGroup& g, std::vector<float>& pad) {
  rows_any(isa, rows, n_columns, n_rows, p0, g, pad);
}

void accumulate_rows(KernelIsa isa, const double* rows, std::size_t n_columns, std::size_t n_rows,
                     double p0, const ColumnGroup& g, std::vector<double>& pad) {
  rows_any(isa, rows, n_columns, n_rows, p0, g, pad);
}

}  // namespace wafermill::features::detail
