#!/usr/bin/python3
"""Checks `wafermill score` on one lot (tests/mpi/CMakeLists.txt mpi.score): the CSV and HDF5
verdicts agree, score of the whole file equals run --model's verdicts, the report has one latency per wafer and p50 <= p95 <= p99, and the updated
model's sums hold exactly the lot's unflagged wafers more than the model's."""
import csv
import json
import sys

import h5py
import numpy as np

d = sys.argv[1]
rows = list(csv.DictReader(open(f"{d}/lot.csv")))
rep = json.load(open(f"{d}/lot.json"))
with h5py.File(f"{d}/night.h5") as f:
    lot = np.flatnonzero(f["wafers/lot_id"][:] == 40)
assert len(rows) == len(lot) == rep["wafers"] == 25, (len(rows), len(lot), rep["wafers"])
assert [int(r["wafer"]) for r in rows] == list(lot)
with h5py.File(f"{d}/lot.h5") as h:
    assert list(h["wafers/index"][:]) == list(lot)
    assert np.array_equal(h["wafers/score"][:], np.array([float(r["score"]) for r in rows]))
    assert list(h["wafers/flag"][:]) == [int(r["flag"]) for r in rows]
lat = rep["latency_ms"]
assert len(lat["per_wafer"]) == 25
assert 0 < lat["wafer_p50"] <= lat["wafer_p95"] <= lat["wafer_p99"] <= lat["wafer_max"], lat
assert lat["startup"] > 0 and lat["lot"] >= lat["wafer_max"]
good = sum(1 for r in rows if r["flag"] == "0")
assert rep["updated_with"] == good and rep["flagged"] == 25 - good
with h5py.File(f"{d}/full.h5") as a, h5py.File(f"{d}/updated.h5") as b:
    assert b["sum_n"][0] == a["sum_n"][0] + good, (a["sum_n"][0], b["sum_n"][0], good)
    assert b["n_reference"][0] == b["sum_n"][0]
    assert b["hist_counts"][:].sum() >= a["hist_counts"][:].sum()
    assert np.array_equal(a["t2_limit"][:], b["t2_limit"][:])
assert rep["latency_ms"]["update"] > 0
# --update without --updated-model replaces the model with the same updated model.
with h5py.File(f"{d}/updated.h5") as a, h5py.File(f"{d}/in_place.h5") as b:
    for k in ("sum_n", "sum_d", "sum_dd", "hist_counts", "centre", "loadings"):
        assert np.array_equal(a[k][:], b[k][:]), k
# One scoring function (model::explain_wafer) behind both commands, with fold model (index mod 5)
# in both: the same bits.
with h5py.File(f"{d}/model.h5") as m:
    assert m.attrs["format"] in (b"wafermill pca model v5", "wafermill pca model v5")
    assert sorted(m["fold_models"].keys()) == ["0", "1", "2", "3", "4"]
with h5py.File(f"{d}/all.h5") as s, h5py.File(f"{d}/run.h5") as r:
    for k in ("score", "t2", "spe", "flag", "reason", "contrib_share"):
        assert np.array_equal(s["wafers/" + k][:], r["wafers/" + k][:]), k
    assert np.array_equal(s["wafers/contrib_column"][:] >= 0, r["wafers/contrib_column"][:] >= 0)
print(f"{good} of 25 unflagged wafers folded in; p99 {lat['wafer_p99']:.3f} ms")
print("score checks passed")
