#!/usr/bin/python3
"""Checks `fit --group-by` (docs/MONITORING.md "Groups").

usage: check_group_by.py DIR A

DIR holds (mpi.fit_group_by): out.h5 (run --model grouped.h5 of every wafer), grouped.h5 (model
of the even good wafers, --group-by tool_id), plain.h5 / out_plain.h5 (the same without groups),
partial.h5 / out_partial.h5 / partial.json (a model whose reference lacks tool 3).
- the model file holds the groups (h5py): sorted names, counts summing to the reference, and
  each group's centre and scale equal to numpy's mean and sd of that group's reference rows;
- the odd (unseen) good wafers are flagged by the grouped model within the binomial 3-sigma
  band of A (test wafers and calibration, as check_monitoring.py; both models' rates printed);
- a wafer of a group the model does not know is counted in the report and warned about."""
import json
import math
import sys

import h5py
import numpy as np

d, A = sys.argv[1], float(sys.argv[2])
fails = []


def check(ok, what):
    if not ok:
        fails.append(what)
        print("FAIL", what)


with h5py.File(f"{d}/grouped.h5", "r") as m, h5py.File(f"{d}/out.h5", "r") as o:
    check(m.attrs["group_by"] in (b"tool_id", "tool_id"), "attribute group_by")
    names = [n.decode() if isinstance(n, bytes) else n for n in m["group_names"][:]]
    check(names == sorted(names) and names == ["0", "1", "2", "3"], f"group_names {names}")
    n_ref = int(m["n_reference"][()])
    check(int(m["group_count"][:].sum()) == n_ref, "group counts sum to the reference")
    sensors = [s.decode() for s in o["features/sensor_names"][:]]
    fnames = [s.decode() for s in o["features/names"][:]]
    cs = [s.decode() for s in m["column_sensor"][:]]
    cf = [s.decode() for s in m["column_feature"][:]]
    values = o["features/values"][:]
    label = o["wafers/label"][:]
    tool = o["wafers/tool_id"][:]
    idx = np.arange(len(label))
    ref = (label == 0) & (idx % 2 == 0)
    check(ref.sum() == n_ref, f"reference size {ref.sum()} vs {n_ref}")
    gc, gs = m["group_centre"][:], m["group_scale"][:]
    worst = 0.0
    for g, name in enumerate(names):
        rows = ref & (tool == int(name))
        check(rows.sum() == m["group_count"][g], f"group {name} count")
        for j, (s, f) in enumerate(zip(cs, cf)):
            x = values[rows, sensors.index(s), fnames.index(f)]
            x = x[np.isfinite(x)]
            worst = max(worst, abs(x.mean() - gc[g, j]) / max(1e-300, abs(x.std(ddof=1))),
                        abs(x.std(ddof=1) - gs[g, j]) / gs[g, j])
    check(worst < 1e-9, f"group centre/scale vs numpy: worst relative difference {worst:.3g}")
    print(f"group statistics match numpy (worst {worst:.2g})")

rates = {}
for name in ("out", "out_plain"):
    with h5py.File(f"{d}/{name}.h5", "r") as o:
        label, flag = o["wafers/label"][:], o["wafers/flag"][:]
        good = (label == 0) & (np.arange(len(label)) % 2 == 1)
        rates[name] = (flag[good].mean(), int(good.sum()))
# The test wafers' and the calibration's binomial error, as check_monitoring.py.
band = 3 * math.sqrt(A * (1 - A) * (1.0 / rates["out"][1] + 1.0 / n_ref))
print(f"false alarms on {rates['out'][1]} unseen good wafers: grouped {rates['out'][0]:.4f}, "
      f"ungrouped {rates['out_plain'][0]:.4f} (A = {A}, 3-sigma band {band:.4f})")
check(abs(rates["out"][0] - A) <= band, "grouped false-alarm rate within the binomial band of A")

with open(f"{d}/partial.json") as f:
    rep = json.load(f)
with h5py.File(f"{d}/out_partial.h5", "r") as o:
    n3 = int((o["wafers/tool_id"][:] == 3).sum())
mon = rep["monitoring"]
check(mon["group_by"] == "tool_id" and mon["unknown_group"] == n3,
      f"unknown_group {mon.get('unknown_group')} vs {n3} wafers of tool 3")
check(any("does not know" in w for w in rep["warnings"]), "warning about the unknown group")
print(f"unknown group: {mon['unknown_group']} wafers of tool 3 counted and warned about")
# --univariate: the third reason is counted in the report and named in the export; the rate
# on unseen good wafers holds for the three limits together.
with open(f"{d}/uni.json") as f:
    mon = json.load(f)["monitoring"]
with h5py.File(f"{d}/out_uni.h5", "r") as o:
    reason, flag, label = o["wafers/reason"][:], o["wafers/flag"][:], o["wafers/label"][:]
n_uni = int(((reason & 4) != 0).sum())
check(mon["univariate_limit"] > 0 and mon["flagged_univariate"] == n_uni,
      f"flagged_univariate {mon.get('flagged_univariate')} vs {n_uni} reasons with bit 4")
with open(f"{d}/uni.csv") as f:
    named = sum("univariate" in line.split(",")[6] for line in list(f)[1:] if line.count(",") > 6)
check(named == n_uni, f"export names univariate {named} times, {n_uni} expected")
good = (label == 0) & (np.arange(len(label)) % 2 == 1)
rate = flag[good].mean()
print(f"univariate limit |z| {mon['univariate_limit']:.3f}: {n_uni} wafers over it; "
      f"false alarms on unseen good {rate:.4f}")
check(abs(rate - A) <= band, "false-alarm rate with --univariate within the band of A")
if fails:
    sys.exit(1)
print("group-by checks passed")
