"""Writes a "wafermill traces v1" file with h5py, as a user outside wafermill would.

Usage: write_h5py_sample.py OUT.h5
The values follow sample_value() of tests/format/sample_files.hpp (row * 8 + sensor + 0.25),
the steps sample_step() ((row * 7) % n_steps), so the C++ test can check every element.
"""
import sys

import h5py
import numpy as np

out = sys.argv[1]
rows = [5, 0, 17, 9]                     # wafer 1 has no samples
n_sensors, n_steps = 4, 3
offsets = np.concatenate([[0], np.cumsum(rows)]).astype(np.int64)
n = int(offsets[-1])
r = np.arange(n, dtype=np.float64)[:, None]
s = np.arange(n_sensors, dtype=np.float64)[None, :]
values = (r * 8 + s + 0.25).astype(np.float32)

with h5py.File(out, "w") as f:
    v = f.create_dataset("traces/values", data=values, chunks=(8, n_sensors),
                         compression="gzip", shuffle=True)
    v.attrs["sensor_names"] = [f"rf_power_{i}" for i in range(n_sensors)]
    f.create_dataset("traces/offsets", data=offsets)
    step = f.create_dataset("traces/step", data=((np.arange(n) * 7) % n_steps).astype(np.int16))
    step.attrs["n_steps"] = n_steps
    f.create_dataset("wafers/lot_id", data=np.array([b"L1", b"L1", b"L2", b"L2"]))  # fixed-length
    f.create_dataset("wafers/tool", data=["etch-a", "etch-b", "etch-a", "etch-c"],
                     dtype=h5py.string_dtype())
    f.create_dataset("wafers/label", data=np.array([0, 1, 0, 0], dtype=np.uint8))
