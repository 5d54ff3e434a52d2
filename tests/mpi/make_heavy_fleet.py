"""Writes a fleet in UCI SECOM's text layout (one wafer a line, one value per sensor; labels
-1 pass / 1 fail with a timestamp) whose good wafers have heavy-tailed sensors (Student t with
NU degrees of freedom) and whose few faulty wafers carry one grossly shifted sensor: the case
where the fleet verdict's Student t limits flag well over A (docs/MONITORING.md "Calibrated
limits").

usage: make_heavy_fleet.py DATA LABELS [--wafers N] [--sensors S] [--nu NU] [--faults F] [--seed K]"""
import argparse

import numpy as np

p = argparse.ArgumentParser()
p.add_argument("data")
p.add_argument("labels")
p.add_argument("--wafers", type=int, default=2000)
p.add_argument("--sensors", type=int, default=20)
p.add_argument("--nu", type=float, default=3.0)
p.add_argument("--faults", type=float, default=0.01)
p.add_argument("--seed", type=int, default=7)
a = p.parse_args()
rng = np.random.default_rng(a.seed)
x = 10.0 * np.arange(a.sensors) + rng.standard_t(a.nu, (a.wafers, a.sensors))
bad = rng.random(a.wafers) < a.faults
for i in np.flatnonzero(bad):
    x[i, rng.integers(a.sensors)] += 200.0  # about 115 standard deviations of t_3
with open(a.data, "w") as f:
    for row in x:
        f.write(" ".join(repr(float(v)) for v in row) + "\n")
with open(a.labels, "w") as f:
    for i, b in enumerate(bad):
        f.write(f'{1 if b else -1} "01/01/2026 {i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}"\n')
