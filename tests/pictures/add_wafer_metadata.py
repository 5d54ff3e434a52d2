"""Adds per-wafer metadata to a generated maps file, names that clash with the output's own
included (score, flag). usage: add_wafer_metadata.py FILE.h5 N_WAFERS"""
import sys

import h5py
import numpy as np

path, n = sys.argv[1], int(sys.argv[2])
with h5py.File(path, "a") as f:
    f.create_dataset("wafers/lot_name", data=[f"lot{w // 25:03d}" for w in range(n)],
                     dtype=h5py.string_dtype())
    f.create_dataset("wafers/score", data=np.arange(n, dtype=np.float32) / 7)
    f.create_dataset("wafers/flag", data=(np.arange(n) % 3 == 0).astype(np.uint8))
    f.create_dataset("wafers/wafer_index", data=np.arange(n, dtype=np.int16) % 25)
