#!/usr/bin/python3
"""Checks the picture results of a wafermill output file against numpy computed here from
the input, independently of wafermill's C++ (docs/FORMAT.md "Output: maps and images"):
- /map_results: die and fail counts and yield per wafer, the fail-count map of every shape
  (and its probability), pattern names and flags;
- /image_results: per-image channel mean/std/min/max, the golden image's per-pixel mean and
  std, the wafer ids, and a flag wherever the largest blob reaches the minimum.
Usage: check_picture_output.py INPUT.h5 OUTPUT.h5 [REPORT.json]"""
import json
import sys

import h5py
import numpy as np

inp, out = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
checked = []

if "maps" in inp:
    cells = inp["maps/cells"][...]
    shape = inp["maps/shape"][...]
    offsets = inp["maps/offsets"][...]
    r = out["map_results"]
    names = [n.decode() if isinstance(n, bytes) else n for n in r["feature_names"][...]]
    feats = r["features"][...]
    n = len(shape)
    assert feats.shape == (n, len(names)), feats.shape
    col = {name: feats[:, i] for i, name in enumerate(names)}
    fails_by_shape = {}
    wafers_by_shape = {}
    for w in range(n):
        m = cells[offsets[w]:offsets[w + 1]].reshape(shape[w])
        dies, fails = int((m != 0).sum()), int((m == 2).sum())
        assert col["die_count"][w] == dies, (w, col["die_count"][w], dies)
        assert col["fail_count"][w] == fails, (w, col["fail_count"][w], fails)
        want_yield = (dies - fails) / dies if dies else 0.0
        assert abs(col["yield"][w] - want_yield) <= 1e-15, w
        assert col["largest_cluster"][w] <= fails and (fails == 0) == (col["n_clusters"][w] == 0), w
        key = f"{shape[w][0]}x{shape[w][1]}"
        fails_by_shape[key] = fails_by_shape.get(key, 0) + (m == 2).astype(np.uint64)
        wafers_by_shape[key] = wafers_by_shape.get(key, 0) + 1
    assert sorted(r["fail_maps"].keys()) == sorted(fails_by_shape), list(r["fail_maps"].keys())
    for key, counts in fails_by_shape.items():
        g = r["fail_maps"][key]
        assert g.attrs["wafers"] == wafers_by_shape[key], key
        assert np.array_equal(g["fail_count"][...], counts), key
        assert np.array_equal(g["fail_probability"][...], counts / wafers_by_shape[key]), key
    pattern, flag = r["pattern"][...], r["flag"][...]
    pattern_names = [p.decode() if isinstance(p, bytes) else p for p in r["pattern_names"][...]]
    assert pattern_names[0] == "none" and len(pattern_names) == 9, pattern_names
    assert np.array_equal(flag, (pattern != 0).astype(np.uint8))
    if "truth/map_pattern" in inp:
        agree = float((inp["truth/map_pattern"][...] == pattern).mean())
        assert agree >= 0.9, f"only {agree:.3f} of the planted patterns found"
    checked.append(f"{n} maps, {len(fails_by_shape)} shapes")

if "images" in inp:
    px = inp["images/pixels"]
    r = out["image_results"]
    n = px.shape[0]
    ch = px.shape[3] if px.ndim == 4 else 1
    stats = r["statistics"][...]
    assert stats.shape == (n, ch, 4), stats.shape
    assert np.array_equal(r["wafer"][...], inp["images/wafer"][...])
    s1 = np.zeros(px.shape[1:], dtype=np.float64)
    s2 = np.zeros(px.shape[1:], dtype=np.float64)
    for i in range(n):
        x = px[i].astype(np.float64).reshape(px.shape[1], px.shape[2], ch)
        s1 += x.reshape(s1.shape)
        s2 += (x * x).reshape(s2.shape)
        for c in range(ch):
            v = x[:, :, c]
            mean, std, lo, hi = stats[i, c]
            assert abs(mean - v.mean()) <= 1e-12 * max(1.0, abs(mean)), (i, c, mean, v.mean())
            assert abs(std - v.std()) <= 1e-9 * max(1.0, std), (i, c, std, v.std())
            assert lo == v.min() and hi == v.max(), (i, c)
    gm, gs = r["golden_mean"][...], r["golden_std"][...]
    assert r.attrs["golden_images"] == n
    assert np.array_equal(gm, s1 / n), "golden mean"
    want_std = np.sqrt(np.maximum(n * s2 - s1 * s1, 0)) / n
    assert np.allclose(gs, want_std, rtol=1e-12, atol=1e-9), float(np.abs(gs - want_std).max())
    scores, flag = r["scores"][...], r["flag"][...]
    assert scores.shape == (n, 3)
    assert np.array_equal(flag, (scores[:, 2] >= r.attrs["min_blob"]).astype(np.uint8))
    assert np.all(scores[:, 2] <= scores[:, 0]) and np.all((scores[:, 0] == 0) == (scores[:, 1] == 0))
    checked.append(f"{n} images of {px.shape[1:]} {px.dtype}")

if len(sys.argv) > 3:
    # The report's sequential comparison: every kind identical to the single-rank baseline.
    report = json.load(open(sys.argv[3]))
    for kind in ("maps", "images"):
        if kind in report["pictures"]:
            seq = report["pictures"][kind]["sequential"]
            assert seq["identical"] and seq["speedup"] > 0, (kind, seq)
    assert report["comparison"]["outputs_identical"] is True, report["comparison"]
    checked.append("sequential baseline identical")

assert checked, "the input has neither maps nor images"
print("picture output agrees with numpy: " + "; ".join(checked))
