#!/usr/bin/python3
"""A run's output (/features/values only) with many columns, for timing `wafermill fit`'s two
matrix paths (docs/MONITORING.md "Matrix").

usage: wide_features.py OUT.h5 WAFERS SENSORS [--factors K] [--noise SD] [--seed S]

12 features per sensor (the names of `run`'s features but count and invalid_count), so the fit
sees SENSORS × 12 columns. Each wafer's row is K latent process factors mixed into every column
plus independent noise of sd SD (columns on different scales and offsets)."""
import argparse

import h5py
import numpy as np

p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("wafers", type=int)
p.add_argument("sensors", type=int)
p.add_argument("--factors", type=int, default=10)
p.add_argument("--noise", type=float, default=1.0)
p.add_argument("--seed", type=int, default=1)
a = p.parse_args()
names = ["mean", "std", "min", "max", "median", "rms", "range", "slope", "skew", "kurtosis", "p05", "p95"]
F, S, W = len(names), a.sensors, a.wafers
J = S * F
rng = np.random.default_rng(a.seed)
mix = rng.standard_normal((a.factors, J))
scale = 1.0 + 9.0 * rng.random(J)
offset = 100.0 * rng.random(J)
with h5py.File(a.out, "w") as f:
    v = f.create_dataset("features/values", (W, S, F), dtype="f8")
    for at in range(0, W, 100):
        k = min(100, W - at)
        x = rng.standard_normal((k, a.factors)) @ mix + a.noise * rng.standard_normal((k, J))
        v[at:at + k] = (offset + scale * x).reshape(k, S, F)
    f["features/names"] = np.array(names, dtype=h5py.string_dtype())
    f["features/sensor_names"] = np.array([f"sensor_{s:04d}" for s in range(S)], dtype=h5py.string_dtype())
    f["wafers/label"] = np.zeros(W, dtype="i4")
print(f"{a.out}: {W} wafers, {S} sensors x {F} features = {J} columns")
