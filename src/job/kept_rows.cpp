#include "kept_rows.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "wafermill/huge_pages.hpp"

namespace wafermill::job {
namespace {

/// Bytes an arena of kept rows reserves at a time (fewer when the limit leaves less).
constexpr std::uint64_t kArenaBytes = 32ULL << 20;

}  // namespace

KeptRows::KeptRows(std::size_t columns, std::uint64_t limit_bytes)
    : columns_(columns), limit_bytes_(limit_bytes), keeping_(limit_bytes > 0) {}

void KeptRows::add(std::uint64_t first_wafer, std::uint64_t n, std::span<const double> values) {
  if (values.size() != n * columns_)
    throw std::invalid_argument("KeptRows::add: " + std::to_string(values.size()) +
                                " values are not " + std::to_string(n) + " rows of " +
                                std::to_string(columns_));
  if (!keeping_ || n == 0) return;
  const std::uint64_t more = values.size() * sizeof(double);
  if (bytes_ + more > limit_bytes_) {  // this run and the later ones: read from the file
    keeping_ = false;
    return;
  }
  if (arenas_.empty() || arenas_.back().capacity() - arenas_.back().size() < values.size()) {
    const std::uint64_t left = (limit_bytes_ - bytes_) / sizeof(double);
    std::vector<double>& arena = arenas_.emplace_back();
    reserve_huge(arena, static_cast<std::size_t>(std::max<std::uint64_t>(
                            values.size(), std::min(left, kArenaBytes / sizeof(double)))));
  }
  std::vector<double>& arena = arenas_.back();
  const std::size_t at = arena.size();
  arena.insert(arena.end(), values.begin(), values.end());  // within its capacity
  Run& r = runs_.emplace_back();
  r.first_wafer = first_wafer;
  r.n = n;
  r.values = std::span<const double>(arena).subspan(at, values.size());
  bytes_ += more;
  wafers_ += n;
}

}  // namespace wafermill::job
