/// @file huge_pages.hpp
/// @brief Large buffers backed by transparent huge pages where the kernel offers them
/// (`/sys/kernel/mm/transparent_hugepage/enabled` "always" or "madvise"): the first touch of a
/// 2 MiB page costs one page fault where 4 KiB pages cost 512. Page faults are the main price of
/// a fresh buffer, and on some virtual machines a fault costs several microseconds
/// (docs/BENCHMARKS.md "Page faults"). Where THP is off, or the buffer is smaller than 2 MiB,
/// nothing changes. The contents and results are the same either way.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace wafermill {

/// @brief Asks the kernel to back the 2 MiB-aligned pages inside [p, p + bytes) with huge pages
/// when first touched (madvise MADV_HUGEPAGE); errors are ignored (it is advice).
inline void advise_huge_pages(void* p, std::size_t bytes) noexcept {
#if defined(MADV_HUGEPAGE)
  constexpr std::uintptr_t kHuge = std::uintptr_t{2} << 20;
  const auto begin = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t first = (begin + kHuge - 1) & ~(kHuge - 1);
  const std::uintptr_t last = (begin + bytes) & ~(kHuge - 1);
  if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
#else
  (void)p;
  (void)bytes;
#endif
}

/// @brief Makes v's capacity at least n; storage newly allocated for that is advised for huge
/// pages before anything touches it beyond the elements v already holds (which it copies).
template <class T>
void reserve_huge(std::vector<T>& v, std::size_t n) {
  if (v.capacity() >= n) return;
  if (v.empty()) std::vector<T>().swap(v);  // the old storage goes back before the new comes
  v.reserve(n);
  advise_huge_pages(v.data(), n * sizeof(T));
}

}  // namespace wafermill
