#!/usr/bin/python3
"""Checks a run over files whose sensors and types differ (mpi.mixed_inputs) against the run over
the one file they were split from: file 0 (the same float32 columns) bitwise equal; file 1 lacks
rf_reflected_power_w: there its count is 0, its invalid_count the wafer's rows and its other
features NaN, every other sensor bitwise equal; file 2 (float64, widened from float32) bitwise
equal. The output names each wafer's file and index; the report counts 3 files."""
import json
import sys

import h5py
import numpy as np

ref_path, got_path, report_path = sys.argv[1:4]
with h5py.File(ref_path, "r") as a, h5py.File(got_path, "r") as b:
    fa, fb = a["features/values"][:], b["features/values"][:]
    names = [n.decode() if isinstance(n, bytes) else n for n in b["features/sensor_names"][:]]
    feats = [n.decode() if isinstance(n, bytes) else n for n in b["features/names"][:]]
    src, idx = b["wafers/source_file"][:], b["wafers/source_index"][:]
    files = [f.decode() if isinstance(f, bytes) else f for f in b["inputs/files"][:]]
    assert fa.shape == fb.shape, (fa.shape, fb.shape)
    assert len(files) == 3 and files[1].endswith("mixed-00001.h5"), files
    assert list(np.bincount(src)) == [97, 153, 150], np.bincount(src)
    for k, first in enumerate([0, 97, 250]):
        assert np.array_equal(idx[src == k], np.arange(np.sum(src == k))), k
        assert np.all(np.nonzero(src == k)[0] == first + idx[src == k]), k
    same = lambda x, y: np.array_equal(x, y, equal_nan=True)
    missing = names.index("rf_reflected_power_w")
    assert same(fa[src == 0], fb[src == 0]), "file 0 differs"
    assert same(fa[src == 2], fb[src == 2]), "file 2 (float64) differs"
    f1a, f1b = fa[src == 1], fb[src == 1]
    assert same(np.delete(f1a, missing, axis=1), np.delete(f1b, missing, axis=1)), "file 1 differs"
    col = f1b[:, missing, :]
    assert np.all(col[:, feats.index("count")] == 0), "a missing sensor has no valid sample"
    total = f1a[:, missing, feats.index("count")] + f1a[:, missing, feats.index("invalid_count")]
    assert np.array_equal(col[:, feats.index("invalid_count")], total), "missing samples are invalid"
    others = [j for j, f in enumerate(feats) if f not in ("count", "invalid_count")]
    assert np.all(np.isnan(col[:, others])), "features of a missing sensor are NaN"
r = json.load(open(report_path))
assert r["parallel"]["files"] == 3, r["parallel"]["files"]
print("ok mixed inputs: union of sensors, float64 widening, sources recorded")
