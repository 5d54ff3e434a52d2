#!/usr/bin/python3
"""Drift tests (docs/MONITORING.md "Drift").

plant FILE SENSOR FIRST SD: adds SD standard deviations of the per-wafer means of sensor SENSOR
(over wafers < FIRST) to that sensor's samples of wafers >= FIRST: a step change of its mean.
quiet REPORT: the report's drift section names no column.
found REPORT SENSOR_NAME: every drifted column is of SENSOR_NAME and its mean is among them.
sensors REPORT NAMES: the sensors of the drifted columns are exactly NAMES (comma-separated;
  "" for none), and each named sensor's mean column is among them.
study STUDY_DIR NAMES...: study.json's drift section has one night per NAMES argument with
  exactly those sensors named; study.md has the table and study.html the drift chart.
"""
import json
import sys

import h5py
import numpy as np


def drift_of(report):
    r = json.load(open(report))
    return r["monitoring"]["drift"] if "monitoring" in r else r["drift"]


def sensor_set(arg):
    return {s for s in arg.split(",") if s}


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
    elif mode == "sensors":
        d, want = drift_of(sys.argv[2]), sensor_set(sys.argv[3])
        named = [c["column"] for c in d["drifted"]]
        got = {c.split("/")[0] for c in named}
        assert got == want, f"{sys.argv[2]}: named sensors {sorted(got)}, expected {sorted(want)}: {named}"
        for s in want:
            assert s + "/mean" in named, f"{s}/mean not among the drifted columns {named}"
        top = max(d["columns"], key=lambda c: c["psi"])
        print(f"{sys.argv[2]}: named {sorted(got)} ({len(named)} columns), largest PSI {top['psi']:.4g} "
              f"({top['column']}), thresholds up to {d['applied_psi_threshold']:.4g}")
    elif mode == "study":
        study_dir, wants = sys.argv[2], [sensor_set(a) for a in sys.argv[3:]]
        nights = json.load(open(f"{study_dir}/study.json"))["drift"]
        assert len(nights) == len(wants), f"{len(nights)} nights in the study, expected {len(wants)}"
        for k, (n, want) in enumerate(zip(nights, wants)):
            assert set(n["drifted_sensors"]) == want, f"night {k + 1}: {n['drifted_sensors']}, expected {want}"
        md = open(f"{study_dir}/study.md").read()
        assert "## Drift night over night" in md and "PSI night over night" in md, "study.md lacks the drift tables"
        html = open(f"{study_dir}/study.html").read()
        assert 'id="chart-drift"' in html, "study.html lacks the drift chart"
        print(f"study: {[n['drifted_sensors'] for n in nights]}")
    else:
        sys.exit(f"unknown mode {mode}")
    print("drift checks passed")


if __name__ == "__main__":
    main()
