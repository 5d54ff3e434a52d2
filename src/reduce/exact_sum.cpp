/// @file exact_sum.cpp
/// @brief The superaccumulator (exact_sum.hpp).
#include "wafermill/reduce/exact_sum.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace wafermill::reduce {
namespace {

constexpr std::int64_t kLow = (std::int64_t{1} << 32) - 1;
__extension__ typedef unsigned __int128 u128;  // GCC/Clang: 128-bit shifts and one rounding

}  // namespace

void ExactSum::add_unchecked(double x) {
  std::uint64_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  const int biased = static_cast<int>((bits >> 52) & 0x7ff);
  if (biased == 0x7ff) return;  // NaN, ±inf
  std::uint64_t mantissa = bits & ((std::uint64_t{1} << 52) - 1);
  int exponent;  // x = ±mantissa · 2^exponent
  if (biased == 0) {
    if (mantissa == 0) return;
    exponent = -1074;
  } else {
    mantissa |= std::uint64_t{1} << 52;
    exponent = biased - 1075;
  }
  const int position = exponent + kBias;  // >= 14
  const int i = position / 32, shift = position % 32;
  const u128 wide = static_cast<u128>(mantissa) << shift;
  const auto piece = [&](int k) { return static_cast<std::int64_t>((wide >> (32 * k)) & 0xffffffffu); };
  const bool negative = (bits >> 63) != 0;
  for (int k = 0; k < 3 && i + k < kLimbs; ++k) limb_[i + k] += negative ? -piece(k) : piece(k);
  ++pending_;
}

void ExactSum::add_product(double a, double b) {
  const double p = a * b;
  if (!std::isfinite(p)) return;
  add(p);
  add(std::fma(a, b, -p));  // exact: a·b = p + (a·b - p) when no underflow
}

void ExactSum::normalise() {
  // Each limb to [0, 2^32) by carrying into the next; the top limb keeps the sign.
  for (int i = 0; i + 1 < kLimbs; ++i) {
    const std::int64_t carry = limb_[i] >> 32;  // floor division by 2^32
    limb_[i] &= kLow;
    limb_[i + 1] += carry;
  }
  pending_ = 0;
}

void ExactSum::merge(const ExactSum& other) {
  ExactSum o = other;
  o.normalise();
  normalise();
  for (int i = 0; i < kLimbs; ++i) limb_[i] += o.limb_[i];
  normalise();
}

bool ExactSum::zero() const {
  ExactSum c = *this;
  c.normalise();
  for (auto l : c.limb_)
    if (l != 0) return false;
  return true;
}

double ExactSum::value() const {
  ExactSum c = *this;
  c.normalise();
  bool negative = c.limb_[kLimbs - 1] < 0;
  if (negative) {
    for (auto& l : c.limb_) l = -l;
    c.normalise();
  }
  int top = kLimbs - 1;
  while (top >= 0 && c.limb_[top] == 0) --top;
  if (top < 0) return 0.0;
  // The top 96 bits, with a sticky bit for anything below, rounded once to double.
  u128 v = 0;
  for (int k = 0; k < 3; ++k) {
    const int i = top - k;
    v = (v << 32) | static_cast<u128>(i >= 0 ? static_cast<std::uint64_t>(c.limb_[i]) : 0u);
  }
  bool sticky = false;
  for (int i = top - 3; i >= 0; --i) sticky = sticky || c.limb_[i] != 0;
  if (sticky) v |= 1;
  const double r = std::ldexp(static_cast<double>(v), 32 * (top - 2) - kBias);
  return negative ? -r : r;
}

void ExactSum::value_pair(double& hi, double& lo) const {
  hi = value();
  ExactSum rest = *this;
  rest.add(-hi);
  lo = rest.value();
}

namespace {

void merge_op(void* in, void* inout, int* len, MPI_Datatype*) {
  // Both sides arrive normalised (allreduce_exact sends only normalised sums), so limb-wise
  // addition cannot overflow for any number of ranks below 2^31.
  auto* a = static_cast<std::int64_t*>(in);
  auto* b = static_cast<std::int64_t*>(inout);
  for (int e = 0; e < *len; ++e) {
    std::int64_t* x = a + e * ExactSum::kLimbs;
    std::int64_t* y = b + e * ExactSum::kLimbs;
    for (int i = 0; i < ExactSum::kLimbs; ++i) y[i] += x[i];
    for (int i = 0; i + 1 < ExactSum::kLimbs; ++i) {
      const std::int64_t carry = y[i] >> 32;
      y[i] &= kLow;
      y[i + 1] += carry;
    }
  }
}

}  // namespace

MPI_Datatype ExactSum::mpi_type() {
  static MPI_Datatype type = [] {
    MPI_Datatype t;
    MPI_Type_contiguous(kLimbs, MPI_INT64_T, &t);
    MPI_Type_commit(&t);
    return t;
  }();
  return type;
}

MPI_Op ExactSum::mpi_sum() {
  static MPI_Op op = [] {
    MPI_Op o;
    MPI_Op_create(&merge_op, 1, &o);
    return o;
  }();
  return op;
}

void allreduce_exact(ExactSum* sums, std::size_t count, MPI_Comm comm) {
  if (comm == MPI_COMM_NULL || count == 0) return;
  // Only the limbs travel; the adds counter restarts at 0 on every rank.
  std::vector<std::int64_t> limbs(count * ExactSum::kLimbs);
  for (std::size_t e = 0; e < count; ++e) {
    ExactSum c = sums[e];
    c.normalise();
    std::copy(c.limb_.begin(), c.limb_.end(), limbs.begin() + e * ExactSum::kLimbs);
  }
  constexpr std::size_t kPiece = 1 << 20;
  for (std::size_t off = 0; off < count; off += kPiece) {
    const int n = static_cast<int>(std::min(kPiece, count - off));
    MPI_Allreduce(MPI_IN_PLACE, limbs.data() + off * ExactSum::kLimbs, n, ExactSum::mpi_type(),
                  ExactSum::mpi_sum(), comm);
  }
  for (std::size_t e = 0; e < count; ++e) {
    sums[e] = ExactSum();
    std::copy_n(limbs.begin() + e * ExactSum::kLimbs, ExactSum::kLimbs, sums[e].limb_.begin());
  }
}

}  // namespace wafermill::reduce
