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

void ExactSum::add_bits(std::uint64_t v, int position, bool negative) {
  const int i = position / 32, shift = position % 32;
  const u128 wide = static_cast<u128>(v) << shift;
  for (int k = 0; k < 3 && i + k < kLimbs; ++k) {
    const auto piece = static_cast<std::int64_t>((wide >> (32 * k)) & 0xffffffffu);
    limb_[i + k] += negative ? -piece : piece;
  }
  ++pending_;
}

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
  add_bits(mantissa, exponent + kBias, (bits >> 63) != 0);  // position >= 14
}

void ExactSum::add_product(double a, double b) {
  const double p = a * b;
  if (!std::isfinite(p)) return;
  add(p);
  add(std::fma(a, b, -p));  // exact: a·b = p + (a·b - p) when no underflow
}

void ExactSum::add_window(std::uint64_t lo, std::int64_t hi, int base) {
  u128 v = (static_cast<u128>(static_cast<std::uint64_t>(hi)) << 64) | lo;
  const bool negative = hi < 0;
  if (negative) v = ~v + 1;           // |window| < 2^127: the magnitude fits
  const int position = base + kBias;  // >= 14: base >= -1074
  if (pending_ + 2 > kNormaliseEvery) normalise();
  add_bits(static_cast<std::uint64_t>(v), position, negative);
  add_bits(static_cast<std::uint64_t>(v >> 64), position + 64, negative);
}

namespace {

// The span adds' window: a signed 128-bit integer times 2^base. A double ±m·2^e (m < 2^53)
// goes in when its bits lie in [base, base + 117): 0 <= e - base <= 64, or e below base with
// the bits under base all zero. Each term is below 2^117 in magnitude, so 1024 of them stay
// below 2^127: the window is flushed every kFlushEvery terms. base is the first value's
// exponent less kBelow (not below -1074, the lowest bit of any double), which leaves room
// for values 2^38 smaller and 2^26 larger than the first with a full mantissa.
__extension__ typedef __int128 i128;
constexpr int kMaxShift = 64;
constexpr int kFlushEvery = 1024;
constexpr int kBelow = 38;

}  // namespace

struct ExactSum::Window {
  i128 sum = 0;
  int base = 0;
  int terms = 0;
  bool anchored = false;

  // Adds x when it fits (non-finite x and ±0 are taken: nothing to add); false otherwise.
  bool take(double x) {
    std::uint64_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    const int biased = static_cast<int>((bits >> 52) & 0x7ff);
    std::uint64_t m = bits & ((std::uint64_t{1} << 52) - 1);
    if (biased == 0x7ff) return true;
    int e;
    if (biased == 0) {
      if (m == 0) return true;
      e = -1074;
    } else {
      m |= std::uint64_t{1} << 52;
      e = biased - 1075;
    }
    if (!anchored) {
      base = std::max(e - kBelow, -1074);
      anchored = true;
    }
    const int shift = e - base;
    u128 t;
    if (static_cast<unsigned>(shift) <= static_cast<unsigned>(kMaxShift)) {
      t = static_cast<u128>(m) << shift;
    } else if (shift < 0 && shift > -53 && (m & ((std::uint64_t{1} << -shift) - 1)) == 0) {
      t = m >> -shift;
    } else {
      return false;
    }
    const auto v = static_cast<i128>(t);
    sum += (bits >> 63) != 0 ? -v : v;
    ++terms;
    return true;
  }
};

void ExactSum::add_all(Window& window, const double* x, std::size_t n) {
  // A local copy whose address does not escape: the sum stays in registers across the calls.
  Window w = window;
  for (std::size_t i = 0; i < n; ++i) {
    if (!w.take(x[i])) add(x[i]);
    if (w.terms == kFlushEvery) {
      add_window(static_cast<std::uint64_t>(w.sum), static_cast<std::int64_t>(w.sum >> 64), w.base);
      w.sum = 0;
      w.terms = 0;
    }
  }
  window = w;
}

void ExactSum::flush(Window& w) {
  if (w.sum != 0)
    add_window(static_cast<std::uint64_t>(w.sum), static_cast<std::int64_t>(w.sum >> 64), w.base);
  w.sum = 0;
  w.terms = 0;
}

void ExactSum::add(std::span<const double> x) {
  Window w;
  add_all(w, x.data(), x.size());
  flush(w);
}

namespace {

// p = a·b rounded and e = its rounding error (a·b = p + e exactly, by fused multiply-add), or
// 0 and 0 where p is not finite (add_product skips those). The same bits with or without the
// FMA instruction (fma is correctly rounded either way): the hardware's, chosen at run time,
// instead of a call into libm per product.
__attribute__((target("fma"))) void split_products_fma(const double* a, const double* b, double* p,
                                                       double* e, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const double q = a[i] * b[i];
    const double r = __builtin_fma(a[i], b[i], -q);
    const bool finite = std::isfinite(q);
    p[i] = finite ? q : 0.0;
    e[i] = finite ? r : 0.0;
  }
}

void split_products(const double* a, const double* b, double* p, double* e, std::size_t n) {
  static const bool fma = __builtin_cpu_supports("fma");
  if (fma) return split_products_fma(a, b, p, e, n);
  for (std::size_t i = 0; i < n; ++i) {
    const double q = a[i] * b[i];
    const bool finite = std::isfinite(q);
    p[i] = finite ? q : 0.0;
    e[i] = finite ? std::fma(a[i], b[i], -q) : 0.0;
  }
}

}  // namespace

void ExactSum::add_products(std::span<const double> a, std::span<const double> b) {
  if (a.size() != b.size()) throw std::invalid_argument("ExactSum::add_products: sizes differ");
  // The products and their rounding errors summed apart (two windows): an error lies 53 bits
  // and more below its product, too far for one window to hold both across a column's spread.
  constexpr std::size_t kPiece = 256;
  double p[kPiece], e[kPiece];
  Window wp, we;
  for (std::size_t at = 0; at < a.size(); at += kPiece) {
    const std::size_t n = std::min(kPiece, a.size() - at);
    split_products(a.data() + at, b.data() + at, p, e, n);
    add_all(wp, p, n);
    add_all(we, e, n);
  }
  flush(wp);
  flush(we);
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
