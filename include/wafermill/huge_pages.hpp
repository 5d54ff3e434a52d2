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

/// @brief Faults in the pages of [p, p + bytes) in one call (madvise MADV_POPULATE_WRITE,
/// Linux 5.14 and later; elsewhere nothing happens and the first touches fault them in). The
/// pages are the same, but one call instead of a fault per 4 KiB page: on this project's
/// benchmark VM a fault costs about 10 us, 75 ms for 28 MiB against 35 ms populated
/// (docs/BENCHMARKS.md "Median guesses, populated buffers"). Only for storage about to be
/// written whole.
inline void populate_pages(void* p, std::size_t bytes) noexcept {
#if defined(__linux__)
  constexpr int kPopulateWrite = 23;  // MADV_POPULATE_WRITE, absent from older headers
  constexpr std::uintptr_t kPage = 4096;
  const auto begin = reinterpret_cast<std::uintptr_t>(p) & ~(kPage - 1);
  const auto end = reinterpret_cast<std::uintptr_t>(p) + bytes;
  if (bytes > 0) ::madvise(reinterpret_cast<void*>(begin), end - begin, kPopulateWrite);
#else
  (void)p;
  (void)bytes;
#endif
}

/// @brief Whether reserve_huge also faults in the new storage (populate_pages): for buffers
/// written whole right after, not for ones that may stay mostly unused.
enum class Populate : bool { no = false, yes = true };

/// @brief Makes v's capacity at least n; storage newly allocated for that is advised for huge
/// pages before anything touches it beyond the elements v already holds (which it copies),
/// and with Populate::yes faulted in at once.
template <class T>
void reserve_huge(std::vector<T>& v, std::size_t n, Populate populate = Populate::no) {
  if (v.capacity() >= n) return;
  if (v.empty()) std::vector<T>().swap(v);  // the old storage goes back before the new comes
  v.reserve(n);
  advise_huge_pages(v.data(), n * sizeof(T));
  if (populate == Populate::yes) populate_pages(v.data(), n * sizeof(T));
}

}  // namespace wafermill
