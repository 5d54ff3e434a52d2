#!/usr/bin/python3
"""The Dask peer: the same features as numpy_features.py as a dask.array graph over the HDF5
dataset, run by Dask's threaded scheduler with --workers threads.

usage: dask_features.py INPUT OUTPUT [--wafers N] [--workers P] [--chunk-mb MB]

/traces/values becomes a dask array whose row chunks are runs of whole wafers of at most
--chunk-mb MB (da.from_array with explicit chunks); map_blocks applies segment_features() to
each, giving a [N, S, F] array computed in parallel and written to OUTPUT. Prints one JSON line
like numpy_features.py (no read/compute split: Dask overlaps them).
"""
import argparse
import json
import sys
import time

import dask
import dask.array as da
import numpy as np

from segment_features import FEATURES, chunk_cuts, open_input, segment_features, write_output


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--wafers", type=int, default=0, help="first N wafers only (0: all)")
    ap.add_argument("--workers", type=int, default=2, help="threads of the scheduler")
    ap.add_argument("--chunk-mb", type=float, default=8.0, help="MB of samples per chunk (the job uses 8 MiB)")
    a = ap.parse_args()

    start = time.perf_counter()
    f, values, offsets, n = open_input(a.input, a.wafers)
    s = values.shape[1]
    row_bytes = s * values.dtype.itemsize
    cuts = chunk_cuts(offsets, n, row_bytes, int(a.chunk_mb * 1e6))
    row_chunks = tuple(int(offsets[e] - offsets[b]) for b, e in zip(cuts[:-1], cuts[1:]))
    wafer_chunks = tuple(e - b for b, e in zip(cuts[:-1], cuts[1:]))
    # h5py serialises its own calls, so the reads of two threads do not overlap; numpy's
    # kernels release the GIL and do.
    rest = values.shape[0] - int(offsets[n])  # rows after the first N wafers: one more chunk
    x = da.from_array(values, chunks=(row_chunks + ((rest,) if rest else ()), s))
    x = x[: int(offsets[n])]  # a cut at a chunk boundary keeps the wafer-aligned chunks

    def block_features(block, block_id=None):
        i = block_id[0]
        return segment_features(block, offsets[cuts[i]:cuts[i + 1] + 1] - offsets[cuts[i]])

    out = np.empty((0, s, len(FEATURES)))
    if n:
        feats = x.map_blocks(block_features, dtype=np.float64, new_axis=2,
                             chunks=(wafer_chunks, (s,), (len(FEATURES),)))
        out = feats.compute(scheduler="threads", num_workers=a.workers)
    f.close()
    wall = time.perf_counter() - start
    samples = int(offsets[n])
    info = {"peer": "dask", "dask_version": dask.__version__, "workers": a.workers,
            "input": a.input, "wafers": n, "total_wafers": len(offsets) - 1, "samples": samples,
            "bytes": samples * row_bytes, "wall_s": wall, "chunks": len(cuts) - 1,
            "throughput_mb_per_s": samples * row_bytes / 1e6 / wall if wall > 0 else 0.0,
            "throughput_wafers_per_s": n / wall if wall > 0 else 0.0}
    write_output(a.output, out, len(offsets) - 1, info)
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
