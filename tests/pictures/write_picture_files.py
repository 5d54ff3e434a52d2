#!/usr/bin/python3
"""Writes picture files for the tests into DIR: valid ones written by h5py (uint16 RGB images,
which wafermill's own generator does not write) and hostile ones, each listed in
DIR/hostile.tsv with the part of the error message it must produce."""
import os
import sys

import h5py
import numpy as np

out = sys.argv[1]
os.makedirs(out, exist_ok=True)


def maps(f, shapes, cells=None, offsets=None, shape_dtype="i4"):
    g = f.create_group("maps")
    shapes = np.asarray(shapes, dtype=shape_dtype).reshape(-1, 2)
    sizes = [int(r) * int(c) for r, c in shapes]
    if offsets is None:
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype("i8")
    if cells is None:
        cells = np.ones(int(sum(sizes)), dtype="u1")
    g["cells"] = cells
    g["shape"] = shapes
    g["offsets"] = np.asarray(offsets)


def images(f, pixels, wafer=None):
    g = f.create_group("images")
    pixels = np.asarray(pixels)
    g.create_dataset("pixels", data=pixels, chunks=(1,) + pixels.shape[1:])
    g["wafer"] = np.arange(pixels.shape[0], dtype="i8") if wafer is None else np.asarray(wafer)


# A valid file: two maps of different shapes, three uint16 RGB images.
with h5py.File(os.path.join(out, "valid_u16_rgb.h5"), "w") as f:
    maps(f, [(2, 3), (3, 2)], cells=np.array([0, 1, 2, 1, 1, 2, 2, 2, 1, 0, 1, 1], dtype="u1"))
    px = (np.arange(3 * 4 * 5 * 3, dtype="i8") * 997 % 65536).astype("u2").reshape(3, 4, 5, 3)
    images(f, px, wafer=np.array([1, 0, 1], dtype="i8"))

hostile = []


def case(name, expected, body):
    with h5py.File(os.path.join(out, name + ".h5"), "w") as f:
        body(f)
    hostile.append((name, expected))


case("cells_value_3", "/maps/cells[4] = 3 (wafer 0), expected 0 (no die), 1 (pass) or 2 (fail)",
     lambda f: maps(f, [(2, 3)], cells=np.array([1, 1, 1, 2, 3, 0], dtype="u1")))
case("offsets_disagree", "/maps/offsets[2] = 11 but offsets[1] = 6 and wafer 1 has shape (2, 2)",
     lambda f: maps(f, [(2, 3), (2, 2)], cells=np.ones(11, dtype="u1"), offsets=np.array([0, 6, 11], "i8")))
case("offsets_short", "/maps/offsets: has 2 entries, expected n_wafers + 1 = 3",
     lambda f: maps(f, [(2, 3), (2, 2)], cells=np.ones(10, dtype="u1"), offsets=np.array([0, 6], "i8")))
case("offsets_past_cells", "/maps/offsets[1] = 6, expected the length of /maps/cells = 5",
     lambda f: maps(f, [(2, 3)], cells=np.ones(5, dtype="u1")))
case("shape_negative", "/maps/shape[0] = (-2, 3), expected rows and cols in 1..4096",
     lambda f: maps(f, [(-2, 3)], cells=np.ones(0, dtype="u1"), offsets=np.array([0, -6], "i8")))
case("shape_huge", "/maps/shape[0] = (100000, 100000), expected rows and cols in 1..4096",
     lambda f: maps(f, [(100000, 100000)], cells=np.ones(4, dtype="u1"), offsets=np.array([0, 4], "i8")))
case("shape_three_columns", "/maps/shape: has shape [1, 3], expected [n_wafers, 2]",
     lambda f: (f.create_group("maps"), f["maps"].create_dataset("cells", data=np.ones(6, "u1")),
                f["maps"].create_dataset("shape", data=np.array([[2, 3, 1]], "i4")),
                f["maps"].create_dataset("offsets", data=np.array([0, 6], "i8"))))
case("cells_int16", "/maps/cells: has type int16, expected uint8",
     lambda f: maps(f, [(2, 3)], cells=np.ones(6, dtype="i2")))
case("offsets_int32", "/maps/offsets: has type int32, expected int64 or uint64",
     lambda f: maps(f, [(2, 3)], offsets=np.array([0, 6], "i4")))
case("maps_missing_offsets", "/maps/offsets: missing (required dataset)",
     lambda f: (f.create_group("maps"), f["maps"].create_dataset("cells", data=np.ones(6, "u1")),
                f["maps"].create_dataset("shape", data=np.array([[2, 3]], "i4"))))
case("maps_not_group", "/maps: is not a group", lambda f: f.create_dataset("maps", data=np.ones(3)))


def external_cells(f):
    maps(f, [(2, 3)])
    del f["maps/cells"]
    f["maps/cells"] = h5py.ExternalLink("elsewhere.h5", "/cells")


case("cells_external_link", "/maps/cells: is an external link", external_cells)
case("pixels_float", "/images/pixels: has type float32, expected uint8 or uint16",
     lambda f: images(f, np.zeros((2, 4, 4), "f4")))
case("pixels_int8", "/images/pixels: has type int8, expected uint8 or uint16",
     lambda f: images(f, np.zeros((2, 4, 4), "i1")))
case("pixels_four_channels", "/images/pixels: has shape [2, 4, 4, 4], expected",
     lambda f: images(f, np.zeros((2, 4, 4, 4), "u1")))
case("pixels_rank2", "/images/pixels: has rank 2 [2, 4], expected rank 3",
     lambda f: images(f, np.zeros((2, 4), "u1")))
case("pixels_zero_width", "/images/pixels: has shape [2, 4, 0]: height and width must be",
     lambda f: (f.create_group("images"), f["images"].create_dataset("pixels", shape=(2, 4, 0), dtype="u1"),
                f["images"].create_dataset("wafer", data=np.arange(2, dtype="i8"))))
case("wafer_negative", "/images/wafer[1] = -4, expected a wafer id >= 0",
     lambda f: images(f, np.zeros((2, 4, 4), "u1"), wafer=np.array([0, -4], "i8")))
case("wafer_beyond_maps", "/images/wafer[2] = 2, expected a wafer id >= 0 and below the 2 wafers of /maps",
     lambda f: (maps(f, [(2, 3), (2, 2)]), images(f, np.zeros((3, 4, 4), "u1"), wafer=np.array([0, 1, 2], "i8"))))
case("wafer_length", "/images/wafer: has 1 entries, expected n_images = 2",
     lambda f: images(f, np.zeros((2, 4, 4), "u1"), wafer=np.array([0], "i8")))


def unwritten_pixels(f):
    g = f.create_group("images")
    g.create_dataset("pixels", shape=(4, 64, 64), dtype="u1")  # contiguous, never written
    g["padding"] = np.zeros(70000, "u1")  # so the extent alone fits in the file
    g["wafer"] = np.arange(4, dtype="i8")


case("pixels_unwritten", "/images/pixels: only 0 of 16384 bytes are stored", unwritten_pixels)

with open(os.path.join(out, "hostile.tsv"), "w") as f:
    for name, expected in hostile:
        f.write(f"{name}\t{expected}\n")
