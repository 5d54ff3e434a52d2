"""End-to-end cross-check of `wafermill run` against an independent numpy implementation.

Writes a traces file with h5py the way a user outside wafermill would (float64 values, uint64
offsets, uint8 steps, chunked + gzip, NaN/±Inf, empty, one-sample and constant wafers), runs the
real job under mpiexec, reads the output with h5py and recomputes every feature of every
(wafer, sensor) and (wafer, step, sensor) segment with numpy in float64.

usage: h5py_cross_check.py WAFERMILL WORKDIR NP [mpiexec flags...]
Tolerances: counts, min, max, range, median exact; mean, std, rms 1e-12 relative;
slope 1e-10; skewness and kurtosis 1e-8 (absolute, they are O(1)).
"""
import subprocess
import sys

import h5py
import numpy as np

wafermill, workdir, nprocs = sys.argv[1], sys.argv[2], sys.argv[3]
mpi_flags = sys.argv[4:]
rng = np.random.default_rng(2024)

n_sensors, n_steps = 3, 2
lengths = [0, 1, 2, 7, 40, 130, 5, 0, 64, 333, 3, 90]
values, steps = [], []
for w, n in enumerate(lengths):
    x = rng.normal(1000.0, 0.5, size=(n, n_sensors)) + w
    if w == 3:
        x[:, 1] = 42.0                        # a constant segment: skew/kurtosis undefined
    if n > 3:
        x[rng.random((n, n_sensors)) < 0.1] = np.nan
        x[1, 0] = np.inf
        x[2, 2] = -np.inf
    values.append(x)
    steps.append(np.sort(rng.integers(0, n_steps, size=n)).astype(np.uint8))
values = np.concatenate(values) if values else np.zeros((0, n_sensors))
steps = np.concatenate(steps)
offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.uint64)

src = f"{workdir}/h5py_input.h5"
out = f"{workdir}/h5py_output.h5"
with h5py.File(src, "w") as f:
    f.create_dataset("traces/values", data=values, chunks=(16, n_sensors), compression="gzip",
                     shuffle=True)
    f["traces/values"].attrs["sensor_names"] = np.array([b"pressure", b"rf_power", b"temp"])
    f.create_dataset("traces/offsets", data=offsets)
    f.create_dataset("traces/step", data=steps)      # no n_steps attribute: the job scans
    f.create_dataset("wafers/wafer_id", data=np.arange(len(lengths), dtype=np.int32))
    f.create_dataset("wafers/label", data=(np.arange(len(lengths)) % 5 == 0).astype(np.int8))

cmd = ["mpiexec", "-n", nprocs, *mpi_flags, wafermill, "run", "--input", src, "--output", out,
       "--force", "--quiet", "--baseline", "none", "--block-size", "2", "--policy", "dynamic"]
subprocess.run(cmd, check=True)

NAMES = ["count", "invalid_count", "mean", "std", "min", "max", "range", "rms", "skewness",
         "kurtosis", "slope", "median"]


def features(x):
    """The 12 features of one segment x (positions 0..n-1, non-finite skipped)."""
    pos = np.arange(len(x), dtype=np.float64)
    ok = np.isfinite(x)
    v, p = x[ok], pos[ok]
    n = len(v)
    out = dict(count=n, invalid_count=len(x) - n)
    if n == 0:
        out.update({k: np.nan for k in NAMES[2:]})
        return out
    mean = v.mean()
    d = v - mean
    m2, m3, m4 = (d**2).mean(), (d**3).mean(), (d**4).mean()
    out.update(mean=mean, std=np.sqrt((d**2).sum() / (n - 1)) if n > 1 else np.nan,
               min=v.min(), max=v.max(), range=v.max() - v.min(), rms=np.sqrt((v**2).mean()),
               skewness=m3 / m2**1.5 if m2 > 0 else np.nan,
               kurtosis=m4 / m2**2 - 3 if m2 > 0 else np.nan, median=np.median(v))
    if n > 1:
        dp = p - p.mean()
        out["slope"] = (dp * d).sum() / (dp * dp).sum()
    else:
        out["slope"] = np.nan
    return out


TOL = dict(mean=1e-12, std=1e-12, rms=1e-12, slope=1e-10, skewness=1e-8, kurtosis=1e-8)


def check(got, want, where):
    for i, name in enumerate(NAMES):
        g, e = got[i], want[name]
        if np.isnan(e):
            assert np.isnan(g), f"{where} {name}: expected NaN, got {g}"
        elif name in ("skewness", "kurtosis", "slope"):
            assert abs(g - e) <= TOL[name], f"{where} {name}: {g} vs {e}"
        elif name in TOL:
            assert abs(g - e) <= TOL[name] * max(1.0, abs(e)), f"{where} {name}: {g} vs {e}"
        else:
            assert g == e, f"{where} {name}: {g} vs {e} (must be exact)"


with h5py.File(out, "r") as f:
    names = [n.decode() if isinstance(n, bytes) else n for n in f["features/names"][:]]
    assert names == NAMES, names
    got = f["features/values"][:]
    by_step = f["features/by_step"][:]
    assert got.shape == (len(lengths), n_sensors, 12), got.shape
    assert by_step.shape == (len(lengths), n_steps, n_sensors, 12), by_step.shape
    assert list(f["wafers/wafer_id"][:]) == list(range(len(lengths)))
    n_flag = len(f["wafers/flag"][:])
    assert n_flag == len(lengths)
    checked = 0
    for w in range(len(lengths)):
        a, b = int(offsets[w]), int(offsets[w + 1])
        for s in range(n_sensors):
            check(got[w, s], features(values[a:b, s]), f"wafer {w} sensor {s}")
            checked += 1
            for k in range(n_steps):
                seg = values[a:b, s][steps[a:b] == k]
                check(by_step[w, k, s], features(seg), f"wafer {w} step {k} sensor {s}")
                checked += 1
print(f"h5py cross-check: {checked} segments agree with numpy on {nprocs} ranks")
