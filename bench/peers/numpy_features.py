#!/usr/bin/python3
"""The numpy + h5py peer: per-(wafer, sensor) features of a wafermill traces file, the way a
numpy user would write them (vectorised over each chunk, one process, one core).

usage: numpy_features.py INPUT OUTPUT [--wafers N] [--chunk-mb MB]

Reads /traces/values in runs of whole wafers of at most --chunk-mb MB (h5py hyperslab reads),
computes segment_features() on each, writes [N, S, F] to OUTPUT (HDF5, dataset "features")
and prints one JSON line: wafers, samples, bytes, read_s, compute_s, wall_s, MB/s.
--wafers N computes only the first N wafers (the bench scales the time to the whole file).
"""
import argparse
import json
import sys
import time

import numpy as np

from segment_features import FEATURES, chunk_cuts, open_input, segment_features, write_output


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--wafers", type=int, default=0, help="first N wafers only (0: all)")
    ap.add_argument("--chunk-mb", type=float, default=8.0, help="MB of samples per chunk (the job uses 8 MiB)")
    a = ap.parse_args()

    start = time.perf_counter()
    f, values, offsets, n = open_input(a.input, a.wafers)
    s = values.shape[1]
    row_bytes = s * values.dtype.itemsize
    out = np.empty((n, s, len(FEATURES)))
    read_s = compute_s = 0.0
    cuts = chunk_cuts(offsets, n, row_bytes, int(a.chunk_mb * 1e6))
    for w0, w1 in zip(cuts[:-1], cuts[1:]):
        t0 = time.perf_counter()
        block = values[offsets[w0]:offsets[w1]]
        t1 = time.perf_counter()
        out[w0:w1] = segment_features(block, offsets[w0:w1 + 1] - offsets[w0])
        compute_s += time.perf_counter() - t1
        read_s += t1 - t0
    f.close()
    wall = time.perf_counter() - start
    samples = int(offsets[n])
    info = {"peer": "numpy", "input": a.input, "wafers": n, "total_wafers": len(offsets) - 1,
            "samples": samples, "bytes": samples * row_bytes, "read_s": read_s,
            "compute_s": compute_s, "wall_s": wall, "chunks": len(cuts) - 1,
            "throughput_mb_per_s": samples * row_bytes / 1e6 / wall if wall > 0 else 0.0,
            "throughput_wafers_per_s": n / wall if wall > 0 else 0.0}
    write_output(a.output, out, len(offsets) - 1, info)
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
