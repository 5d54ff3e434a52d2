"""Compares two wafermill outputs within the CUDA backend's documented tolerance (docs/GPU.md):
counts, min, max, range, median and flags exact; every other feature within
1e-9 * max(|a|, 1). usage: compare_tolerance.py A.h5 B.h5"""
import sys

import h5py
import numpy as np

EXACT = {"count", "invalid_count", "min", "max", "range", "median"}
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
names = [n.decode() if isinstance(n, bytes) else n for n in a["features/names"][:]]
for ds in ("features/values", "features/by_step"):
    if ds not in a:
        continue
    x, y = a[ds][:], b[ds][:]
    assert x.shape == y.shape, (ds, x.shape, y.shape)
    for f, name in enumerate(names):
        u, v = x[..., f], y[..., f]
        assert np.array_equal(np.isnan(u), np.isnan(v)), f"{ds} {name}: NaN pattern differs"
        m = ~np.isnan(u)
        if name in EXACT:
            assert np.array_equal(u[m], v[m]), f"{ds} {name}: must be exact"
        else:
            err = np.abs(u[m] - v[m]) / np.maximum(np.abs(u[m]), 1.0)
            assert err.size == 0 or err.max() <= 1e-9, f"{ds} {name}: {err.max()}"
assert np.array_equal(a["wafers/flag"][:], b["wafers/flag"][:]), "flags differ"
print("outputs agree within tolerance")
