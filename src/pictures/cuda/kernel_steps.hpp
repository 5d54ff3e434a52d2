/// @file kernel_steps.hpp
/// @brief The per-thread logic of the picture kernels (picture_kernels.cu), written once for
/// host and device: every kernel is a loop calling these functions, and emulation.cpp runs the
/// very same functions serially on the host (tests/pictures check it against the CPU code on
/// machines without a GPU).
///
/// Block-wide work (one die map, one image's summary) is a template on an executor `Exec`:
///   ex.for_each(n, f)  f(i) for i in [0, n), each i once, spread over the block's threads;
///   ex.sync()          a barrier;
///   ex.sum(x), ex.max(x), ex.min(x)   the block-wide reduction of each thread's x, returned to
///                      every thread (a barrier before and after);
///   ex.leader()        true for exactly one thread.
/// picture_kernels.cu's BlockExec maps these onto threadIdx/__syncthreads/cub::BlockReduce;
/// emulation.cpp's SerialExec is one thread that visits the indices in a chosen order.
///
/// Connected components: union-find with atomicMin hooking (Playne & Hawick, IEEE TPDS 2018):
/// a parent is never above its child, so the root of every component is its smallest cell
/// index — exactly the cell where the CPU flood fill (row-major scan) starts that component.
#pragma once

#include <cstdint>

#include "wafermill/pictures/picture_math.hpp"

namespace wafermill::pictures::gpu::detail {

/// @brief Label of a cell outside every component.
inline constexpr std::uint32_t kNoLabel = 0xffffffffU;

// ---- Atomics: the device's own; the host emulation runs one thread at a time. -------------

WAFERMILL_HD inline std::uint32_t atomic_min(std::uint32_t* p, std::uint32_t v) {
#if defined(__CUDA_ARCH__)
  return atomicMin(p, v);
#else
  const std::uint32_t old = *p;
  if (v < old) *p = v;
  return old;
#endif
}

WAFERMILL_HD inline void atomic_add(std::uint32_t* p, std::uint32_t v) {
#if defined(__CUDA_ARCH__)
  atomicAdd(p, v);
#else
  *p += v;
#endif
}

WAFERMILL_HD inline void atomic_add(unsigned long long* p, unsigned long long v) {
#if defined(__CUDA_ARCH__)
  atomicAdd(p, v);
#else
  *p += v;
#endif
}

/// Adds to a per-pixel golden sum. Every operand and partial sum is an integer below 2^53,
/// so each addition is exact and the result is the same in any order (docs/PICTURES.md).
WAFERMILL_HD inline void atomic_add(double* p, double v) {
#if defined(__CUDA_ARCH__)
  atomicAdd(p, v);
#else
  *p += v;
#endif
}

/// A parent read that the compiler may not cache: other threads lower it concurrently.
WAFERMILL_HD inline std::uint32_t load_parent(const std::uint32_t* label, std::uint32_t i) {
#if defined(__CUDA_ARCH__)
  return *static_cast<const volatile std::uint32_t*>(label + i);
#else
  return label[i];
#endif
}

// ---- Union-find over a rows × cols grid (labels local to one map or one image). ------------

WAFERMILL_HD inline std::uint32_t uf_find(const std::uint32_t* label, std::uint32_t a) {
  for (std::uint32_t p = load_parent(label, a); p != a; p = load_parent(label, a)) a = p;
  return a;
}

/// Joins the components of a and b: the larger root is hooked under the smaller by atomicMin;
/// when another thread moved that root first, retry from what it found.
WAFERMILL_HD inline void uf_union(std::uint32_t* label, std::uint32_t a, std::uint32_t b) {
  for (;;) {
    a = uf_find(label, a);
    b = uf_find(label, b);
    if (a == b) return;
    if (a < b) {  // hook b under a
      const std::uint32_t t = a;
      a = b;
      b = t;
    }
    const std::uint32_t old = atomic_min(label + a, b);
    if (old == a) return;
    a = old;  // a had been hooked elsewhere meanwhile: join that tree with b
  }
}

/// Step 1 of a grid's labelling: a member cell starts as its own root, any other as kNoLabel.
WAFERMILL_HD inline void uf_init_cell(std::uint32_t* label, std::uint32_t i, bool member) {
  label[i] = member ? i : kNoLabel;
}

/// Step 2: a member cell joins its right and lower member neighbours (4-connectivity).
WAFERMILL_HD inline void uf_merge_cell(std::uint32_t* label, std::uint32_t i, std::uint32_t rows,
                                       std::uint32_t cols) {
  if (load_parent(label, i) == kNoLabel) return;
  const std::uint32_t c = i % cols, r = i / cols;
  if (c + 1 < cols && load_parent(label, i + 1) != kNoLabel) uf_union(label, i, i + 1);
  if (r + 1 < rows && load_parent(label, i + cols) != kNoLabel) uf_union(label, i, i + cols);
}

/// Step 3: every member cell points straight at its root.
WAFERMILL_HD inline void uf_compress_cell(std::uint32_t* label, std::uint32_t i) {
  if (load_parent(label, i) != kNoLabel) label[i] = uf_find(label, i);
}

/// Step 4: component sizes, counted at the root (size[] zeroed before).
WAFERMILL_HD inline void uf_count_cell(const std::uint32_t* label, std::uint32_t* size,
                                       std::uint32_t i) {
  const std::uint32_t root = label[i];
  if (root != kNoLabel) atomic_add(size + root, 1U);
}

/// The largest component wins, on equal sizes the one of the smallest root (the first in
/// row-major order, as find_components): pack so that one max-reduction picks it.
WAFERMILL_HD inline std::uint64_t component_key(std::uint32_t size, std::uint32_t root) {
  return (static_cast<std::uint64_t>(size) << 32) | (kNoLabel - root);
}
WAFERMILL_HD inline std::uint32_t key_size(std::uint64_t key) {
  return static_cast<std::uint32_t>(key >> 32);
}
WAFERMILL_HD inline std::uint32_t key_root(std::uint64_t key) {
  return kNoLabel - static_cast<std::uint32_t>(key & 0xffffffffU);
}

// ---- Die maps: one block per map. --------------------------------------------------------

/// @brief Integer results of one map's block (finished into MapFeatures on the host).
struct MapCounts {
  std::uint64_t die_count = 0, fail_count = 0, radius4 = 0;
  std::uint64_t zone_dies[3] = {}, zone_fails[3] = {};
  std::uint64_t sector_dies[kEdgeSectors] = {}, sector_fails[kEdgeSectors] = {};
  std::uint64_t clusters = 0, largest = 0, largest_root = 0;
  /// Σr, Σc, Σr², Σc², Σrc over the largest cluster's cells (exact).
  std::uint64_t s_r = 0, s_c = 0, s_rr = 0, s_cc = 0, s_rc = 0;
};

/// @brief Per-block counters of a map's zones and sectors: zone dies, zone fails, sector
/// dies, sector fails.
inline constexpr std::uint32_t kMapTallies = 6 + 2 * kEdgeSectors;

/// @brief Bytes of block memory one rows × cols map needs: labels and sizes (uint32) and a
/// copy of the cells, rounded up to 8.
WAFERMILL_HD inline std::uint64_t map_block_bytes(std::uint64_t cells) {
  return (9 * cells + 7) / 8 * 8;
}

/// @brief Everything one block computes for one map. `work` holds map_block_bytes(rows·cols)
/// bytes (shared memory, or a global slice for maps too large for it), `tally` kMapTallies
/// counters; `fleet` (rows·cols counts, may be null) gains 1 at each failing cell; the leader
/// writes `out`. `sectors` is the shape's table of math::edge_sector.
#if defined(__CUDACC__)
#pragma nv_exec_check_disable
#endif
template <class Exec>
WAFERMILL_HD void map_block(Exec& ex, const std::uint8_t* cells, std::uint32_t rows,
                            std::uint32_t cols, const std::uint8_t* sectors, void* work,
                            std::uint32_t* tally, unsigned long long* fleet, MapCounts* out) {
  const std::uint32_t n = rows * cols;
  std::uint32_t* label = static_cast<std::uint32_t*>(work);
  std::uint32_t* size = label + n;
  std::uint8_t* cell = reinterpret_cast<std::uint8_t*>(size + n);
  constexpr std::uint8_t kFail = 2;

  // Load the cells; labels; die counts and the wafer radius (largest 4·d² of a die).
  std::uint64_t dies = 0, fails = 0, radius4 = 0;
  ex.for_each(kMapTallies, [&](std::uint32_t k) { tally[k] = 0; });
  ex.for_each(n, [&](std::uint32_t i) {
    const std::uint8_t v = cells[i];
    cell[i] = v;
    size[i] = 0;
    uf_init_cell(label, i, v == kFail);
    if (v == 0) return;
    ++dies;
    fails += v == kFail;
    const std::uint64_t d4 = math::centre_dist4(i / cols, i % cols, rows, cols);
    radius4 = d4 > radius4 ? d4 : radius4;
    if (v == kFail && fleet != nullptr) atomic_add(fleet + i, 1ULL);
  });
  dies = ex.sum(dies);
  fails = ex.sum(fails);
  radius4 = ex.max(radius4);
  const double radius = ::sqrt(math::dist_sq(radius4));

  // Zones and edge sectors of each die; failing neighbours joined.
  ex.for_each(n, [&](std::uint32_t i) {
    const std::uint8_t v = cell[i];
    if (v == 0) return;
    const bool fail = v == kFail;
    const int zone =
        math::zone_of(math::dist_sq(math::centre_dist4(i / cols, i % cols, rows, cols)), radius);
    atomic_add(tally + zone, 1U);
    if (fail) atomic_add(tally + 3 + zone, 1U);
    if (zone == 2) {
      atomic_add(tally + 6 + sectors[i], 1U);
      if (fail) atomic_add(tally + 6 + kEdgeSectors + sectors[i], 1U);
    }
    if (fail) uf_merge_cell(label, i, rows, cols);
  });
  ex.sync();
  ex.for_each(n, [&](std::uint32_t i) { uf_compress_cell(label, i); });
  ex.sync();
  ex.for_each(n, [&](std::uint32_t i) { uf_count_cell(label, size, i); });
  ex.sync();

  // Clusters and the largest (first in row-major order on ties).
  std::uint64_t clusters = 0, best = 0;
  ex.for_each(n, [&](std::uint32_t i) {
    if (label[i] != i) return;
    ++clusters;
    const std::uint64_t key = component_key(size[i], i);
    best = key > best ? key : best;
  });
  clusters = ex.sum(clusters);
  best = ex.max(best);
  const std::uint32_t root = key_root(best);

  // Exact coordinate sums of the largest cluster.
  std::uint64_t s_r = 0, s_c = 0, s_rr = 0, s_cc = 0, s_rc = 0;
  if (clusters > 0) {
    ex.for_each(n, [&](std::uint32_t i) {
      if (label[i] != root) return;
      const std::uint64_t r = i / cols, c = i % cols;
      s_r += r;
      s_c += c;
      s_rr += r * r;
      s_cc += c * c;
      s_rc += r * c;
    });
  }
  s_r = ex.sum(s_r);
  s_c = ex.sum(s_c);
  s_rr = ex.sum(s_rr);
  s_cc = ex.sum(s_cc);
  s_rc = ex.sum(s_rc);

  if (ex.leader()) {
    MapCounts m;
    m.die_count = dies;
    m.fail_count = fails;
    m.radius4 = radius4;
    for (int z = 0; z < 3; ++z) {
      m.zone_dies[z] = tally[z];
      m.zone_fails[z] = tally[3 + z];
    }
    for (int s = 0; s < kEdgeSectors; ++s) {
      m.sector_dies[s] = tally[6 + s];
      m.sector_fails[s] = tally[6 + kEdgeSectors + s];
    }
    m.clusters = clusters;
    m.largest = clusters > 0 ? key_size(best) : 0;
    m.largest_root = clusters > 0 ? root : 0;
    m.s_r = s_r;
    m.s_c = s_c;
    m.s_rr = s_rr;
    m.s_cc = s_cc;
    m.s_rc = s_rc;
    *out = m;
  }
}

// ---- Inspection images. -------------------------------------------------------------------

/// @brief Exact integer sums of one channel of one image (values < 2^16, at most 2^32 per
/// channel, so Σx² < 2^64).
struct ChannelSums {
  std::uint64_t sum = 0, sum_sq = 0;
  std::uint64_t min = 0, max = 0;
};

/// @brief Per-channel sums, min and max of one image of `positions` pixels × `channels`
/// (1 or 3) interleaved values; the leader writes out[0, channels).
#if defined(__CUDACC__)
#pragma nv_exec_check_disable
#endif
template <class Exec>
WAFERMILL_HD void image_stats_block(Exec& ex, const std::uint16_t* px, std::uint32_t positions,
                                    std::uint32_t channels, ChannelSums* out) {
  std::uint64_t sum[3] = {}, sum_sq[3] = {}, lo[3] = {0xffff, 0xffff, 0xffff}, hi[3] = {};
  ex.for_each(positions, [&](std::uint32_t p) {
    for (std::uint32_t c = 0; c < channels; ++c) {
      const std::uint64_t x = px[std::uint64_t{p} * channels + c];
      sum[c] += x;
      sum_sq[c] += x * x;
      lo[c] = x < lo[c] ? x : lo[c];
      hi[c] = x > hi[c] ? x : hi[c];
    }
  });
  for (std::uint32_t c = 0; c < channels; ++c) {
    ChannelSums s;
    s.sum = ex.sum(sum[c]);
    s.sum_sq = ex.sum(sum_sq[c]);
    s.min = ex.min(lo[c]);
    s.max = ex.max(hi[c]);
    if (ex.leader()) out[c] = s;
  }
}

/// @brief Adds value v of `images` consecutive images (values_per_image apart) to the golden
/// sums: the images' exact local sum first, then one atomic add per buffer.
WAFERMILL_HD inline void golden_add_value(const std::uint16_t* px, std::uint32_t images,
                                          std::uint64_t values_per_image, std::uint64_t v,
                                          double* sum, double* sum_sq) {
  double s = 0, q = 0;
  for (std::uint32_t b = 0; b < images; ++b) {
    const double x = px[b * values_per_image + v];
    s += x;
    q += x * x;  // x² < 2^32: exact
  }
  atomic_add(sum + v, s);
  atomic_add(sum_sq + v, q);
}

/// @brief Whether pixel p of an image deviates in any channel (score_image's test).
WAFERMILL_HD inline bool pixel_deviates(const std::uint16_t* px, const double* mean,
                                        const double* std, std::uint64_t p, std::uint32_t channels,
                                        double k_sigma, double std_floor) {
  bool deviates = false;
  for (std::uint32_t c = 0; c < channels; ++c) {
    const std::uint64_t i = p * channels + c;
    deviates |= math::value_deviates(double(px[i]), mean[i], std[i], k_sigma, std_floor);
  }
  return deviates;
}

/// @brief Integer results of scoring one image.
struct ImageCounts {
  std::uint64_t beyond = 0, blobs = 0, largest = 0;
};

/// @brief Deviating pixels, blobs and the largest blob of one labelled image (labels after
/// uf_compress_cell, sizes after uf_count_cell); the leader writes `out`.
#if defined(__CUDACC__)
#pragma nv_exec_check_disable
#endif
template <class Exec>
WAFERMILL_HD void image_summary_block(Exec& ex, const std::uint32_t* label,
                                      const std::uint32_t* size, std::uint32_t positions,
                                      ImageCounts* out) {
  std::uint64_t beyond = 0, blobs = 0, largest = 0;
  ex.for_each(positions, [&](std::uint32_t p) {
    if (label[p] == kNoLabel) return;
    ++beyond;
    if (label[p] != p) return;
    ++blobs;
    largest = size[p] > largest ? size[p] : largest;
  });
  ImageCounts c;
  c.beyond = ex.sum(beyond);
  c.blobs = ex.sum(blobs);
  c.largest = ex.max(largest);
  if (ex.leader()) *out = c;
}

}  // namespace wafermill::pictures::gpu::detail
