#!/usr/bin/python3
"""Adds a fixed offset per (tool, sensor) to every sample of a generated trace file, in place:
tool t's sensor s is shifted by size * o[t, s] robust standard deviations of the sensor's
per-wafer means (o standard normal, seeded). The generator's own tool offsets are 0.3 sample sigmas,
small beside the wafer-to-wafer spread; real chambers differ by more (docs/MONITORING.md "Groups").

usage: add_tool_offsets.py FILE.h5 SIZE [SEED]"""
import sys

import h5py
import numpy as np


def main():
    path, size = sys.argv[1], float(sys.argv[2])
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    with h5py.File(path, "r+") as f:
        offsets = f["traces/offsets"][:]
        values = f["traces/values"]
        x = values[:].astype(np.float64)
        tool = f["wafers/tool_id"][:]
        n = len(offsets) - 1
        wafer = np.repeat(np.arange(n), np.diff(offsets))
        ok = np.isfinite(x) & (np.abs(x) < 1e30)
        sums = np.zeros((n, x.shape[1]))
        cnt = np.zeros((n, x.shape[1]))
        np.add.at(sums, wafer, np.where(ok, x, 0.0))
        np.add.at(cnt, wafer, ok)
        means = sums / np.maximum(cnt, 1)
        # A robust spread (planted anomalies are far out): 1.4826 × the median absolute deviation.
        med = np.median(means, axis=0)
        sd = 1.4826 * np.median(np.abs(means - med), axis=0)
        rng = np.random.default_rng(seed)
        tools = int(tool.max()) + 1
        o = rng.standard_normal((tools, x.shape[1])) * size * sd
        x = np.where(ok, x + o[tool[wafer]], x)
        values[...] = x.astype(values.dtype)
    print(f"{path}: tool offsets ({tools} tools) of {size} wafer-mean sd added")


if __name__ == "__main__":
    main()
