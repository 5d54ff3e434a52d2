/// @file strip_kernel.cpp
/// @brief The row kernels of the CPU backend, compiled twice: 2 lanes for any x86-64 (or
/// other) CPU, 4 lanes in a target("avx2") function chosen at run time. Only AVX2 is enabled
/// there, not FMA, and the file is built with -ffp-contract=off: both widths and add_sample()
/// round every operation the same way.
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
#else
#define WAFERMILL_HAVE_AVX2_KERNEL 0
#endif

template <class T>
void rows_any(KernelIsa isa, const T* rows, std::size_t n_columns, std::size_t n_rows, double p0,
              const ColumnGroup& g, std::vector<T>& pad) {
#if WAFERMILL_HAVE_AVX2_KERNEL
  if (isa == KernelIsa::avx2) {
    rows_avx2<T>(rows, n_columns, n_rows, p0, g, pad);
    return;
  }
#endif
  accumulate_rows_w<T, 2>(rows, n_columns, n_rows, p0, g, pad);
}

}  // namespace

KernelIsa best_kernel_isa() {
#if WAFERMILL_HAVE_AVX2_KERNEL
  if (avx2_allowed()) return KernelIsa::avx2;
#endif
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
