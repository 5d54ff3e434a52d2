"""The input's per-wafer metadata travels into the run's output under /input/wafers/, for trace
outputs and for picture-only outputs alike, and both kinds of output give their root attributes
the same types (ranks int64 everywhere).
usage: check_input_metadata.py INPUT.h5 OUTPUT.h5 [INPUT.h5 OUTPUT.h5 ...]"""
import sys

import h5py
import numpy as np

ATTRIBUTE_TYPES = {"format": str, "wafermill_version": str, "git_revision": str,
                   "configuration": str, "ranks": np.int64, "policy": str, "backend": str,
                   "input": str}


def fail(msg):
    sys.exit("FAIL: " + msg)


def values(d):
    v = d[()]
    return [x.decode() if isinstance(x, bytes) else x for x in v] if d.dtype.kind in "OS" else list(v)


args = sys.argv[1:]
for inp, out in zip(args[::2], args[1::2]):
    with h5py.File(inp, "r") as i, h5py.File(out, "r") as o:
        for name, want in ATTRIBUTE_TYPES.items():
            if name not in o.attrs:
                fail(f"{out}: root attribute {name} missing")
            got = o.attrs[name]
            if want is str and not isinstance(got, (str, bytes)):
                fail(f"{out}: attribute {name} is {type(got).__name__}, expected a string")
            if want is np.int64 and not (isinstance(got, np.integer) and got.dtype == np.int64):
                fail(f"{out}: attribute {name} is {type(got).__name__}, expected int64")
        fields = sorted(i["wafers"].keys()) if "wafers" in i else []
        if not fields:
            fail(f"{inp}: the check needs an input with /wafers/*")
        copied = sorted(o["input/wafers"].keys()) if "input/wafers" in o else []
        if copied != fields:
            fail(f"{out}: /input/wafers holds {copied}, expected {fields}")
        for f in fields:
            a, b = i["wafers"][f], o["input/wafers"][f]
            if a.dtype.kind not in "OS" and a.dtype != b.dtype:
                fail(f"{out}: /input/wafers/{f} is {b.dtype}, input {a.dtype}")
            if values(a) != values(b):
                fail(f"{out}: /input/wafers/{f} differs from the input's /wafers/{f}")
        print(f"{out}: ranks={o.attrs['ranks']} (int64), /input/wafers/ = {fields}")
print("input metadata ok")
