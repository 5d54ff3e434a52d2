/// @file exact_sum.cpp
/// @brief The superaccumulator (exact_sum.hpp).
#include "wafermill/reduce/exact_sum.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <vector>

#include <immintrin.h>

#include "wafermill/cpu.hpp"

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

namespace {

// The span adds' window (exact_sum.hpp): a double x whose bits all lie in
// [2^base, 2^(base + 120)) is v = x 2^-base, an integer below 2^120, split exactly into three
// integers of at most 40 bits, v = h 2^80 + m 2^40 + r, in floating point (scaling by powers of
// two and truncation are exact, and each difference is a subset of v's bits, so representable):
// sums of up to 2^13 such parts are exact in double. The checks: |v| < 2^120, |v| >= 1 (x is
// not below 2^base, so the scaling is exact; a tiny x can scale to 0) or x = 0, and r an integer
// (no bit of x below 2^base). Anything else, non-finite values included, goes to the limbs through
// add(). base is the first nonzero value's lowest mantissa exponent less kBelow, within [-1022,
// 1022] (2^-base a normal double): room for values 2^38 smaller and 2^29 larger with a full
// mantissa.
constexpr int kBelow = 38;
constexpr std::size_t kChunk = 4096;  // values between flushes: 4 lanes' sums stay below 2^53

struct Parts {
  double h, m, r;
  bool ok;
};

inline Parts split(double x, double scale) {
  const double v = x * scale;
  const double a = std::fabs(v);
  Parts p{};
  const double h = std::trunc(v * 0x1p-80);
  const double r1 = v - h * 0x1p80;
  const double m = std::trunc(r1 * 0x1p-40);
  const double r = r1 - m * 0x1p40;
  std::uint64_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  const bool zero = (bits << 1) == 0;  // ±0 by its bits: a subnormal is not 0 even under DAZ
  p.ok = a < 0x1p120 && (a >= 1.0 || zero) && r == std::trunc(r);
  if (p.ok) {
    p.h = h;
    p.m = m;
    p.r = r;
  }
  return p;
}

// Sums x[0 .. n) (n <= kChunk) into s[0..2] (h, m, r), the indices of values not taken into
// `rejected`; returns their number. Portable: one value at a time.
std::size_t take_scalar(const double* x, std::size_t n, double scale, double* s,
                        std::uint16_t* rejected) {
  std::size_t k = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const Parts p = split(x[i], scale);
    if (!p.ok) {
      rejected[k++] = static_cast<std::uint16_t>(i);
      continue;
    }
    s[0] += p.h;
    s[1] += p.m;
    s[2] += p.r;
  }
  return k;
}

// The same with AVX2, 4 values at a time (the sums per lane, each exact, then added exactly).
__attribute__((target("avx2"))) std::size_t take_avx2(const double* x, std::size_t n, double scale,
                                                      double* s, std::uint16_t* rejected) {
  const __m256d vscale = _mm256_set1_pd(scale), lo80 = _mm256_set1_pd(0x1p-80),
                hi80 = _mm256_set1_pd(0x1p80), lo40 = _mm256_set1_pd(0x1p-40),
                hi40 = _mm256_set1_pd(0x1p40), top = _mm256_set1_pd(0x1p120),
                one = _mm256_set1_pd(1.0), zero = _mm256_setzero_pd(),
                abs_mask = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffLL));
  __m256d sh = zero, sm = zero, sr = zero;
  std::size_t k = 0, i = 0;
  constexpr int kTrunc = _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC;
  for (; i + 4 <= n; i += 4) {
    const __m256d xi = _mm256_loadu_pd(x + i);
    const __m256d v = _mm256_mul_pd(xi, vscale);
    const __m256d a = _mm256_and_pd(v, abs_mask);
    const __m256d h = _mm256_round_pd(_mm256_mul_pd(v, lo80), kTrunc);
    const __m256d r1 = _mm256_sub_pd(v, _mm256_mul_pd(h, hi80));
    const __m256d m = _mm256_round_pd(_mm256_mul_pd(r1, lo40), kTrunc);
    const __m256d r = _mm256_sub_pd(r1, _mm256_mul_pd(m, hi40));
    __m256d ok = _mm256_and_pd(_mm256_cmp_pd(a, top, _CMP_LT_OQ),
                               _mm256_or_pd(_mm256_cmp_pd(a, one, _CMP_GE_OQ),
                                            _mm256_castsi256_pd(_mm256_cmpeq_epi64(
                                                _mm256_castpd_si256(_mm256_and_pd(xi, abs_mask)),
                                                _mm256_setzero_si256()))));
    ok = _mm256_and_pd(ok, _mm256_cmp_pd(r, _mm256_round_pd(r, kTrunc), _CMP_EQ_OQ));
    sh = _mm256_add_pd(sh, _mm256_and_pd(h, ok));
    sm = _mm256_add_pd(sm, _mm256_and_pd(m, ok));
    sr = _mm256_add_pd(sr, _mm256_and_pd(r, ok));
    const int mask = _mm256_movemask_pd(ok);
    if (mask != 0xf)
      for (int l = 0; l < 4; ++l)
        if (!(mask & (1 << l))) rejected[k++] = static_cast<std::uint16_t>(i + l);
  }
  alignas(32) double lanes[3][4];
  _mm256_store_pd(lanes[0], sh);
  _mm256_store_pd(lanes[1], sm);
  _mm256_store_pd(lanes[2], sr);
  for (int j = 0; j < 3; ++j) s[j] += (lanes[j][0] + lanes[j][1]) + (lanes[j][2] + lanes[j][3]);
  const std::size_t tail = take_scalar(x + i, n - i, scale, s, rejected + k);
  for (std::size_t t = 0; t < tail; ++t)
    rejected[k + t] = static_cast<std::uint16_t>(rejected[k + t] + i);
  return k + tail;
}

}  // namespace

struct ExactSum::Window {
  int base = 0;
  double scale = 0.0;  // 2^-base
  bool anchored = false;
};

void ExactSum::add_integer(double v, int position) {
  if (v == 0.0) return;
  // |v| < 2^53, an integer: exact in int64.
  const auto i = static_cast<std::int64_t>(v);
  if (pending_ >= kNormaliseEvery) normalise();
  add_bits(static_cast<std::uint64_t>(i < 0 ? -i : i), position, i < 0);
}

void ExactSum::add_all(Window& w, const double* x, std::size_t n) {
  if (!w.anchored) {
    std::size_t i = 0;
    while (i < n && !(std::isfinite(x[i]) && x[i] != 0.0)) ++i;  // the others add nothing
    if (i == n) return;
    std::uint64_t bits;
    std::memcpy(&bits, &x[i], sizeof bits);
    const int biased = static_cast<int>((bits >> 52) & 0x7ff);
    const int e = biased == 0 ? -1074 : biased - 1075;
    w.base = std::clamp(e - kBelow, -1022, 1022);
    w.scale = std::ldexp(1.0, -w.base);
    w.anchored = true;
  }
  const bool avx2 = avx2_allowed();
  std::uint16_t rejected[kChunk];
  for (std::size_t at = 0; at < n; at += kChunk) {
    const std::size_t c = std::min(kChunk, n - at);
    double s[3] = {0.0, 0.0, 0.0};
    const std::size_t k = avx2 ? take_avx2(x + at, c, w.scale, s, rejected)
                               : take_scalar(x + at, c, w.scale, s, rejected);
    add_integer(s[0], w.base + 80 + kBias);
    add_integer(s[1], w.base + 40 + kBias);
    add_integer(s[2], w.base + kBias);
    for (std::size_t j = 0; j < k; ++j) add(x[at + rejected[j]]);
  }
}

void ExactSum::add(std::span<const double> x) {
  Window w;
  add_all(w, x.data(), x.size());
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
  constexpr std::size_t kPiece = 1024;
  double p[kPiece], e[kPiece];
  Window wp, we;
  for (std::size_t at = 0; at < a.size(); at += kPiece) {
    const std::size_t n = std::min(kPiece, a.size() - at);
    split_products(a.data() + at, b.data() + at, p, e, n);
    add_all(wp, p, n);
    add_all(we, e, n);
  }
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
