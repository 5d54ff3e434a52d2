#include "kept_rows.hpp"

#include <stdexcept>
#include <string>

#include "wafermill/huge_pages.hpp"

namespace wafermill::job {

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
  Run& r = runs_.emplace_back();
  r.first_wafer = first_wafer;
  r.n = n;
  reserve_huge(r.values, values.size());
  r.values.assign(values.begin(), values.end());
  bytes_ += more;
  wafers_ += n;
}

}  // namespace wafermill::job
