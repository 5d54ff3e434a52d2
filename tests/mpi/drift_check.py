#!/usr/bin/python3
"""Drift tests (docs/MONITORING.md "Drift").

plant FILE SENSOR FIRST SD: adds SD standard deviations of the per-wafer means of sensor SENSOR
(over wafers < FIRST) to that sensor's samples of wafers >= FIRST: a step change of its mean.
quiet REPORT: the report's drift section names no column.
found REPORT SENSOR_NAME: every drifted column is of SENSOR_NAME and its mean is among them.
"""
import json
import sys

import h5py
import numpy as np


def drift_of(report):
    r = json.load(open(report))
    return r["monitoring"]["drift"] if "monitoring" in r else r["drift"]


def main():
    mode = sys.argv[1]
    if mode == "plant":
        path, sensor, first, sd = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
        with h5py.File(path, "r+") as f:
            off = f["traces/offsets"][:]
            v = f["traces/values"]
            col = v[:, sensor].astype(np.float64)
            means = []
            for w in range(first):
                seg = col[off[w]:off[w + 1]]
                seg = seg[np.isfinite(seg)]
                if seg.size:
                    means.append(seg.mean())
            step = sd * np.std(means, ddof=1)
            col[off[first]:] += step
            v[:, sensor] = col.astype(v.dtype)
            print(f"planted a step of {step:.4g} on sensor {sensor} from wafer {first}")
    elif mode == "quiet":
        d = drift_of(sys.argv[2])
        assert d["drifted"] == [], f"a clean night named drifted columns: {d['drifted']}"
        print(f"quiet: largest PSI {max(c['psi'] for c in d['columns']):.4g} of threshold {d['applied_psi_threshold']:.4g}")
    elif mode == "found":
        d, sensor = drift_of(sys.argv[2]), sys.argv[3]
        named = [c["column"] for c in d["drifted"]]
        assert sensor + "/mean" in named, f"{sensor}/mean not among the drifted columns {named}"
        other = [c for c in named if not c.startswith(sensor + "/")]
        assert not other, f"columns of other sensors named drifted: {other}"
        print(f"found: {named}")
    else:
        sys.exit(f"unknown mode {mode}")
    print("drift checks passed")


if __name__ == "__main__":
    main()
