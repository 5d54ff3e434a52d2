#!/usr/bin/python3
"""Which sensor and recipe step a run's top contributions name (docs/MONITORING.md "Steps").

usage: steps_eval.py OUT.h5 TRACES.h5 [REF_MODULUS]

OUT.h5 is `run --model` of TRACES.h5, a `wafermill generate` file. For the planted wafers that are
flagged, /wafers/contrib_column[:, 0] is decoded (s*F + f: /features/values; S*F + (k*S + s)*F + f:
/features/by_step, step k) and compared with /truth/anomaly_sensor and the file's
generator_anomaly_step (-1, the whole wafer, when the faults were not planted in one step)."""
import sys

import h5py
import numpy as np

out, traces = sys.argv[1:3]
with h5py.File(out) as f, h5py.File(traces) as t:
    S, F = f["/features/values"].shape[1:]
    col, flag = f["/wafers/contrib_column"][:], f["/wafers/flag"][:]
    label, sensor, kind = t["/wafers/label"][:], t["/truth/anomaly_sensor"][:], t["/truth/anomaly_kind"][:]
    step = int(t.attrs.get("generator_anomaly_step", -1))
bad = (label != 0) & (flag == 1) & (kind > 0)
c = col[bad, 0]
s = np.where(c < S * F, c // F, (c - S * F) % (S * F) // F)
k = np.where(c < S * F, -1, (c - S * F) // (S * F))
print(f"flagged planted: {bad.sum()} of {(label != 0).sum()}; top contribution names the sensor "
      f"{np.mean(s == sensor[bad]):.3f}, the step ({step}) {np.mean(k == step):.3f}, both "
      f"{np.mean((s == sensor[bad]) & (k == step)):.3f}")
