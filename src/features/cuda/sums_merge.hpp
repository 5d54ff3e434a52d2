/// @file sums_merge.hpp
/// @brief Merging the SegmentSums of two consecutive pieces of one segment (host+device).
///
/// The CUDA backend folds long segments in pieces of at most kWindowRows rows, one thread per
/// (piece, column), then merges the pieces in segment order. Each piece accumulates about its
/// own shift K_b (its first finite value) with positions continuing the segment's; merging
/// re-expresses b's power sums about a's shift K_a by the binomial expansion, with
/// δ = K_b − K_a and d = d_b + δ:
///   Σd   = Σd_b + nδ
///   Σd²  = Σd_b² + 2δΣd_b + nδ²
///   Σd³  = Σd_b³ + 3δΣd_b² + 3δ²Σd_b + nδ³
///   Σd⁴  = Σd_b⁴ + 4δΣd_b³ + 6δ²Σd_b² + 4δ³Σd_b + nδ⁴
///   Σp·d = Σp·d_b + δΣp
/// Algebraically exact; in floating point it differs from the sequential fold in the last bits
/// (docs/GPU.md gives the tolerance), and it is a fixed left fold in piece order, so results
/// do not depend on chunking or on the device.
#pragma once

#include "wafermill/features/segment.hpp"
#include "wafermill/hd.hpp"

namespace wafermill::features::detail {

/// @brief The sums of piece a followed by piece b, where b started at position a.positions.
WAFERMILL_HD inline SegmentSums merge_sums(const SegmentSums& a, const SegmentSums& b) {
  SegmentSums r = b.count == 0.0 ? a : b;
  r.positions = b.positions;
  r.invalid = a.invalid + b.invalid;
  if (a.count == 0.0 || b.count == 0.0) return r;
  const double n = b.count;
  const double dl = b.shift - a.shift;
  const double dl2 = dl * dl;
  const double dl3 = dl2 * dl;
  const double dl4 = dl2 * dl2;
  r.shift = a.shift;
  r.count = a.count + n;
  r.s1 = a.s1 + (b.s1 + n * dl);
  r.s2 = a.s2 + (b.s2 + 2.0 * dl * b.s1 + n * dl2);
  r.s3 = a.s3 + (b.s3 + 3.0 * dl * b.s2 + 3.0 * dl2 * b.s1 + n * dl3);
  r.s4 = a.s4 + (b.s4 + 4.0 * dl * b.s3 + 6.0 * dl2 * b.s2 + 4.0 * dl3 * b.s1 + n * dl4);
  r.sp = a.sp + b.sp;
  r.spp = a.spp + b.spp;
  r.spd = a.spd + (b.spd + dl * b.sp);
  r.min = a.min < b.min ? a.min : b.min;
  r.max = a.max > b.max ? a.max : b.max;
  return r;
}

}  // namespace wafermill::features::detail
