#!/usr/bin/python3
"""Splits a "wafermill traces v1" file into N files of consecutive wafers (docs/FORMAT.md), an
independent writer (h5py) for the tests of several input files.

    split_traces.py IN.h5 OUT_PREFIX N [--cuts W1,W2,...] [--drop-sensor FILE:NAME ...]
                    [--float64 FILE ...] [--manifest PATH]

Writes OUT_PREFIX-00000.h5 ... in order and prints their paths, one per line. --cuts gives the
first wafer of files 2..N instead of equal shares. --drop-sensor removes a sensor's column from
one file (its sensor_names too); --float64 stores one file's values as float64. Every /wafers
dataset is split alike; /traces/step keeps its n_steps attribute.
"""
import argparse

import h5py
import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("input")
    ap.add_argument("prefix")
    ap.add_argument("n", type=int)
    ap.add_argument("--cuts", default="")
    ap.add_argument("--drop-sensor", action="append", default=[])
    ap.add_argument("--float64", action="append", type=int, default=[])
    ap.add_argument("--manifest", default="")
    a = ap.parse_args()
    with h5py.File(a.input, "r") as f:
        offsets = f["traces/offsets"][:]
        values = f["traces/values"]
        names = [n.decode() if isinstance(n, bytes) else str(n)
                 for n in values.attrs.get("sensor_names", [])]
        if not names:
            names = [f"sensor_{i}" for i in range(values.shape[1])]
        step = f["traces/step"] if "step" in f["traces"] else None
        W = len(offsets) - 1
        if a.cuts:
            starts = [0] + [int(x) for x in a.cuts.split(",")]
        else:
            starts = [k * W // a.n for k in range(a.n)]
        starts.append(W)
        drop = {}
        for d in a.drop_sensor:
            k, name = d.split(":", 1)
            drop.setdefault(int(k), []).append(name)
        paths = []
        for k in range(len(starts) - 1):
            w0, w1 = starts[k], starts[k + 1]
            r0, r1 = int(offsets[w0]), int(offsets[w1])
            keep = [i for i, n in enumerate(names) if n not in drop.get(k, [])]
            path = f"{a.prefix}-{k:05d}.h5"
            with h5py.File(path, "w") as g:
                for key, val in f.attrs.items():
                    g.attrs[key] = val
                t = g.create_group("traces")
                for key, val in f["traces"].attrs.items():
                    t.attrs[key] = val
                dtype = np.float64 if k in a.float64 else values.dtype
                v = t.create_dataset("values", data=values[r0:r1][:, keep].astype(dtype))
                for key, val in values.attrs.items():
                    if key != "sensor_names":
                        v.attrs[key] = val
                v.attrs["sensor_names"] = np.array([names[i] for i in keep], dtype=h5py.string_dtype())
                t.create_dataset("offsets", data=(offsets[w0:w1 + 1] - offsets[w0]).astype(np.uint64))
                if step is not None:
                    s = t.create_dataset("step", data=step[r0:r1])
                    for key, val in step.attrs.items():
                        s.attrs[key] = val
                if "wafers" in f:
                    wg = g.create_group("wafers")
                    for name, ds in f["wafers"].items():
                        wg.create_dataset(name, data=ds[w0:w1])
            paths.append(path)
        if a.manifest:
            with open(a.manifest, "w") as m:
                m.write("\n".join(paths) + "\n")
        print("\n".join(paths))


if __name__ == "__main__":
    main()
