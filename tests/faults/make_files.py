"""Input files for the fault tests, written with h5py as a user outside wafermill would.

  make_files.py prefix IN.h5 OUT.h5 N   copy the first N wafers of a traces file (an input
                                         before wafers were appended to it)
  make_files.py hostile DIR             write every hostile input of tests/faults/CMakeLists.txt
                                         into DIR (one file per case, named CASE.h5)
  make_files.py swmr_writer FILE        write a valid FILE in SWMR mode, print "ready" and keep
                                         it open until killed

Run with Debian's /usr/bin/python3 (python3-h5py, python3-numpy).
"""
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np


def prefix(src, dst, n):
    with h5py.File(src, "r") as f, h5py.File(dst, "w") as g:
        offsets = f["traces/offsets"][: n + 1]
        rows = int(offsets[-1])
        for k, v in f.attrs.items():
            g.attrs[k] = v
        for name in ("traces/values", "traces/step"):
            if name in f:
                d = f[name]
                out = g.create_dataset(name, data=d[:rows])
                for k, v in d.attrs.items():
                    out.attrs[k] = v
        g.create_dataset("traces/offsets", data=offsets)
        if "wafers" in f:
            for name, d in f["wafers"].items():
                g.create_dataset("wafers/" + name, data=d[:n], dtype=d.dtype)


def valid(path, rows=(5, 0, 17, 9), n_sensors=4, n_steps=3, values=None, libver=None):
    """A small valid file; keyword arguments make it less so."""
    offsets = np.concatenate([[0], np.cumsum(rows)]).astype(np.int64)
    n = int(offsets[-1])
    if values is None:
        r = np.arange(n, dtype=np.float64)[:, None]
        s = np.arange(n_sensors, dtype=np.float64)[None, :]
        values = (r * 8 + s + 0.25).astype(np.float32)
    f = h5py.File(path, "w", libver=libver) if libver else h5py.File(path, "w")
    v = f.create_dataset("traces/values", data=values)
    v.attrs["sensor_names"] = np.array([f"s{i}" for i in range(n_sensors)], dtype="S")
    f.create_dataset("traces/offsets", data=offsets)
    st = f.create_dataset("traces/step", data=((np.arange(n) * 7) % n_steps).astype(np.int16))
    st.attrs["n_steps"] = n_steps
    return f


def hostile(d):
    os.makedirs(d, exist_ok=True)
    p = lambda name: os.path.join(d, name + ".h5")

    with open(p("not_hdf5"), "w") as f:
        f.write("wafer,sensor,value\n1,2,3\n" * 100)
    open(p("empty"), "w").close()

    valid(p("good")).close()
    data = open(p("good"), "rb").read()
    with open(p("truncated"), "wb") as f:
        f.write(data[: len(data) // 2])
    # Bytes 0-7 are the signature; the superblock and the root group's header follow.
    bad = bytearray(data)
    for i in range(8, 200):
        bad[i] ^= 0x5A
    with open(p("corrupted"), "wb") as f:
        f.write(bytes(bad))

    f = valid(p("missing_values"))
    del f["traces/values"]
    f.close()
    f = valid(p("missing_offsets"))
    del f["traces/offsets"]
    f.close()
    with h5py.File(p("missing_traces"), "w") as f:
        f.create_dataset("wafers/label", data=np.zeros(4, np.uint8))

    f = valid(p("values_wrong_rank"))
    del f["traces/values"]
    f.create_dataset("traces/values", data=np.zeros(31, np.float32))
    f.close()
    f = valid(p("values_wrong_type"))
    del f["traces/values"]
    f.create_dataset("traces/values", data=np.zeros((31, 4), np.int32))
    f.close()
    f = valid(p("offsets_wrong_type"))
    del f["traces/offsets"]
    f.create_dataset("traces/offsets", data=np.array([0, 5, 5, 22, 31], np.float64))
    f.close()
    f = valid(p("offsets_wrong_rank"))
    del f["traces/offsets"]
    f.create_dataset("traces/offsets", data=np.array([[0, 5], [22, 31]], np.int64))
    f.close()

    def offsets_case(name, offsets):
        f = valid(p(name))
        del f["traces/offsets"]
        f.create_dataset("traces/offsets", data=np.array(offsets, np.int64))
        f.close()

    offsets_case("offsets_out_of_range", [0, 5, 5, 22, 40])
    offsets_case("offsets_non_monotonic", [0, 5, 3, 22, 31])
    offsets_case("offsets_short_of_samples", [0, 5, 5, 22, 30])
    offsets_case("offsets_negative", [0, -5, 5, 22, 31])
    offsets_case("offsets_not_from_zero", [2, 5, 5, 22, 31])

    # 2^62 rows: chunked, so HDF5 allocates nothing and the file stays small.
    with h5py.File(p("absurd_samples"), "w") as f:
        f.create_dataset("traces/values", shape=(2**62, 4), dtype="f4", chunks=(1024, 4))
        f.create_dataset("traces/offsets", data=np.array([0, 2**62], np.int64))
    with h5py.File(p("absurd_sensors"), "w") as f:
        f.create_dataset("traces/values", shape=(4, 2**40), dtype="f4", chunks=(1, 1024))
        f.create_dataset("traces/offsets", data=np.array([0, 4], np.int64))

    # A 17 MiB sensor_names attribute (dense attribute storage needs the newer format).
    f = valid(p("huge_attribute"), libver="latest")
    f["traces/values"].attrs["sensor_names"] = np.array([b"x" * (17 << 18)] * 4)
    f.close()
    f = valid(p("attribute_wrong_count"))
    f["traces/values"].attrs["sensor_names"] = np.array([b"a", b"b", b"c"])
    f.close()
    f = valid(p("attribute_wrong_type"))
    f["traces/values"].attrs["sensor_names"] = np.arange(4, dtype=np.int32)
    f.close()
    f = valid(p("n_steps_malformed"))
    f["traces/step"].attrs["n_steps"] = "three"
    f.close()
    f = valid(p("n_steps_absurd"))
    f["traces/step"].attrs["n_steps"] = np.int64(2**40)
    f.close()
    f = valid(p("step_out_of_range"))
    f["traces/step"][3] = 7  # n_steps is 3
    f.close()
    f = valid(p("step_wrong_length"))
    del f["traces/step"]
    f.create_dataset("traces/step", data=np.zeros(30, np.int16)).attrs["n_steps"] = 3
    f.close()

    # Every sample NaN: a valid file (docs/RELIABILITY.md "All-NaN data").
    valid(p("all_nan"), values=np.full((31, 4), np.nan, np.float32)).close()

    # Valid but slow: one-row chunks of /traces/values (16 bytes each), 2000 rows.
    rows = (500, 0, 1000, 500)
    f = valid(p("slow_chunks"), rows=rows)
    data = f["traces/values"][:]
    del f["traces/values"]
    f.create_dataset("traces/values", data=data, chunks=(1, 4))
    f.close()

    # A SWMR writer killed by SIGKILL: the superblock keeps its "open for write" flags.
    writer = subprocess.Popen([sys.executable, __file__, "swmr_writer", p("swmr_crashed")],
                              stdout=subprocess.PIPE)
    assert writer.stdout.readline().strip() == b"ready", "the SWMR writer did not start"
    writer.send_signal(signal.SIGKILL)
    writer.wait()


def swmr_writer(path):
    """Writes a valid file in SWMR mode (the 1.10 format), says "ready" on stdout and keeps it
    open until killed: a writer that is still running, or, killed, one that crashed."""
    f = valid(path, libver="latest")
    f.swmr_mode = True
    f.flush()
    print("ready", flush=True)
    while True:
        time.sleep(1)


if __name__ == "__main__":
    if sys.argv[1] == "prefix":
        prefix(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif sys.argv[1] == "hostile":
        hostile(sys.argv[2])
    elif sys.argv[1] == "swmr_writer":
        swmr_writer(sys.argv[2])
    else:
        sys.exit("usage: make_files.py prefix IN OUT N | hostile DIR")
