#!/usr/bin/python3
"""Aggregates `wafermill score --report` files: latency percentiles per wafer (all wafers of all
lots), per lot and of the start-up (one value per lot), in milliseconds, numpy's percentiles."""
import json
import sys

import numpy as np

reports = [json.load(open(p)) for p in sys.argv[1:]]
wafer = np.concatenate([r["latency_ms"]["per_wafer"] for r in reports])
later = np.concatenate([r["latency_ms"]["per_wafer"][1:] for r in reports])
lot = np.array([r["latency_ms"]["lot"] for r in reports])
startup = np.array([r["latency_ms"]["startup"] for r in reports])
print(f"{len(reports)} lots, {wafer.size} wafers")
print("| latency (ms) | p50 | p95 | p99 | max |")
print("|---|---|---|---|---|")
for name, v in (("per wafer (read, features, score)", wafer), ("per wafer, each lot's first left out", later), ("per lot of 25", lot), ("start-up", startup)):
    p = np.percentile(v, [50, 95, 99])
    print(f"| {name} | {p[0]:.3f} | {p[1]:.3f} | {p[2]:.3f} | {v.max():.3f} |")
drifted = sum(1 for r in reports if r.get("drift", {}).get("drifted"))
print(f"lots with a drifted column: {drifted} of {len(reports)}")
