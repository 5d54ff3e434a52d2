#!/usr/bin/python3
"""Compares a peer's features with the job's /features/values.

usage: compare.py JOB_OUTPUT.h5 PEER.h5 [--rtol R] [--atol-scale A] [--json OUT]

The peer holds "features" [N, S, F] for the first N wafers with the feature names in the
attribute "names"; every feature the two share is compared over those wafers. Two values agree
when both are NaN, or both are finite and
    |job - peer| <= rtol * max(|job|, |peer|) + atol_scale * scale(s, f),
scale(s, f) = the largest finite |job| of that (sensor, feature) column over the compared
wafers. The relative term covers values of any size; the absolute one covers values that are
near 0 only by cancellation (skewness, slope, mean of a centred sensor), whose rounding error
is relative to the column's size, not to their own. Defaults rtol 1e-9, atol_scale 1e-9: the
job accumulates one-pass shifted sums, the peers two-pass deviations, both in float64, so they
differ by rounding only (measured differences are ~1e-13 relative; see docs/BENCHMARKS.md).
Exit 0 when everything agrees, 1 otherwise; prints a JSON summary either way.
"""
import argparse
import json
import sys

import h5py
import numpy as np


def names_of(attr):
    return [x.decode() if isinstance(x, bytes) else str(x) for x in attr]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("job")
    ap.add_argument("peer")
    ap.add_argument("--rtol", type=float, default=1e-9)
    ap.add_argument("--atol-scale", type=float, default=1e-9)
    ap.add_argument("--json")
    a = ap.parse_args()

    with h5py.File(a.peer, "r") as f:
        peer = f["features"][:]
        peer_names = names_of(f.attrs["names"])
        peer_info = json.loads(f.attrs["info"]) if "info" in f.attrs else {}
    with h5py.File(a.job, "r") as f:
        job_names = names_of(f["features/names"][:])
        n = peer.shape[0]
        job = f["features/values"][:n]
    if job.shape[:2] != peer.shape[:2]:
        print(json.dumps({"agree": False, "error": f"shapes differ: job {job.shape}, peer {peer.shape}"}))
        return 1

    shared = [name for name in peer_names if name in job_names]
    per_feature = {}
    agree = True
    for name in shared:
        x = job[:, :, job_names.index(name)]
        y = peer[:, :, peer_names.index(name)]
        both_nan = np.isnan(x) & np.isnan(y)
        finite = np.isfinite(x) & np.isfinite(y)
        scale = np.nanmax(np.where(np.isfinite(x), np.abs(x), np.nan), axis=0, initial=0.0) \
            if x.size else np.zeros(x.shape[1])
        diff = np.where(finite, np.abs(x - y), 0.0)
        bound = a.rtol * np.maximum(np.abs(x), np.abs(y)) + a.atol_scale * scale[None, :]
        bad = ~(both_nan | (finite & (diff <= np.where(finite, bound, 0.0))))
        denom = np.where(finite, np.maximum(scale[None, :], 1e-300), 1.0)
        per_feature[name] = {
            "mismatches": int(bad.sum()),
            "max_abs_diff": float(diff.max()) if diff.size else 0.0,
            "max_diff_over_column_scale": float((diff / denom).max()) if diff.size else 0.0,
            "nan_in_one_only": int((np.isnan(x) != np.isnan(y)).sum()),
        }
        if bad.any():
            agree = False
            w, s = np.argwhere(bad)[0]
            per_feature[name]["first"] = {"wafer": int(w), "sensor": int(s),
                                          "job": float(x[w, s]), "peer": float(y[w, s])}
    summary = {"agree": agree, "peer": peer_info.get("peer", a.peer), "wafers": int(n),
               "sensors": int(peer.shape[1]), "features": shared, "rtol": a.rtol,
               "atol_scale": a.atol_scale, "values_compared": int(n * peer.shape[1] * len(shared)),
               "per_feature": per_feature}
    text = json.dumps(summary, indent=1)
    if a.json:
        with open(a.json, "w") as out:
            out.write(text + "\n")
    print(json.dumps({k: summary[k] for k in ("agree", "peer", "wafers", "values_compared")}))
    if not agree:
        print(text, file=sys.stderr)
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
