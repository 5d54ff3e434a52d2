#!/usr/bin/env python3
"""Checks `run --model` on generated traces (docs/MONITORING.md):
- good wafers the model has not seen (label 0, not in the reference) are flagged at the stated
  false-alarm rate A, within 3 binomial standard deviations (test wafers and calibration);
- each flagged wafer's reason matches T2/SPE against the limits; score = max of the ratios;
- for detected planted faults, the top contribution names the planted sensor far more often
  than chance (1/S): at least 3/4 of them;
- the CSV of `wafermill export` has one row per wafer and the same flags.
usage: check_monitoring.py OUTPUT.h5 TRACES.h5 MODEL.h5 VERDICTS.csv REF_MODULUS"""
import csv
import math
import sys

import h5py
import numpy as np

out_path, traces_path, model_path, csv_path, modulus = sys.argv[1:6]
modulus = int(modulus)
with h5py.File(out_path, "r") as f, h5py.File(traces_path, "r") as t, h5py.File(model_path, "r") as m:
    flag = f["/wafers/flag"][:]
    score = f["/wafers/score"][:]
    t2 = f["/wafers/t2"][:]
    spe = f["/wafers/spe"][:]
    reason = f["/wafers/reason"][:]
    col = f["/wafers/contrib_column"][:]
    F = f["/features/values"].shape[2]
    S = f["/features/values"].shape[1]
    label = t["/wafers/label"][:]
    kind = t["/truth/anomaly_kind"][:]
    sensor = t["/truth/anomaly_sensor"][:]
    A = float(m["false_alarm_rate"][0])
    t2_lim = float(m["t2_limit"][0])
    spe_lim = float(m["spe_limit"][0])
    n_ref = int(m["n_reference"][0])

W = len(flag)
idx = np.arange(W)
unseen_good = (label == 0) & (idx % modulus != 0)
n = int(unseen_good.sum())
rate = flag[unseen_good].mean()
sd = math.sqrt(A * (1 - A) * (1.0 / n + 1.0 / n_ref))
print(f"unseen good wafers: {n}, flagged {rate:.4f} (A = {A}, 3 sd = {3 * sd:.4f})")
assert abs(rate - A) <= 3 * sd, "the false-alarm rate on unseen good wafers is not A"

expect_reason = (t2 > t2_lim).astype(np.uint8) | ((spe > spe_lim).astype(np.uint8) << 1)
assert np.array_equal(reason, expect_reason), "reason does not match the limits"
assert np.array_equal(flag, (reason != 0).astype(flag.dtype)), "flag is not reason != 0"
assert np.allclose(score, np.maximum(t2 / t2_lim, spe / spe_lim), rtol=1e-12), "score is not max ratio"
assert np.all(col[flag == 0] == -1), "unflagged wafers carry contributions"

bad = (label != 0) & (flag == 1) & (kind > 0)
# s*F + f addresses /features/values, S*F + (k*S + s)*F + f /features/by_step (docs/FORMAT.md)
top = col[bad, 0]
named = np.where(top < S * F, top // F, (top - S * F) % (S * F) // F) == sensor[bad]
share = named.mean() if bad.any() else 0.0
print(f"detected planted faults: {int(bad.sum())} of {int((label != 0).sum())}; "
      f"top contribution names the planted sensor in {share:.3f} (chance {1 / S:.3f})")
for k in np.unique(kind[bad]):
    sel = kind[bad] == k
    print(f"  kind {k}: {int(sel.sum())} detected, sensor named in {named[sel].mean():.3f}")
assert bad.sum() >= 5 and share >= 0.75, "contributions do not name the planted sensor"

with open(csv_path) as fh:
    rows = list(csv.DictReader(fh))
assert len(rows) == W, "the CSV does not have one row per wafer"
assert all(int(float(r["flag"])) == int(flag[i]) for i, r in enumerate(rows)), "CSV flags differ"
first = next(i for i in range(W) if flag[i])
assert rows[first]["contribution_1"].split("/")[0].startswith(""), "no contribution text"
print("monitoring checks passed")
