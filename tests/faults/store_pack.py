#!/usr/bin/python3
"""The trace result store's pack files (src/job/store/result_store.hpp), for the fault tests.

  store_pack.py count STORE     the number of entries the packs' tables list
  store_pack.py damage STORE N  flips one byte in the payload of the N-th entry (1-based; packs
                                by name, entries in table order) and prints its key
  store_pack.py tear STORE      cuts the pack with the most entries inside the payload of its
                                middle entry (an operating-system crash before the data reached
                                the disk) and prints how many of its entries were cut
"""
import glob
import os
import struct
import sys

PACK_MAGIC = b"WMPACK04"
HEADER_BYTES = 11 * 8  # an entry's header


def entries(store):
    """(path, key, offset, length) of every entry of every pack, packs sorted by name."""
    out = []
    for path in sorted(glob.glob(os.path.join(store, "pack-" + "[0-9a-f]" * 16 + ".wmb"))):
        with open(path, "rb") as f:
            head = f.read(32)
            if len(head) < 32 or head[:8] != PACK_MAGIC:
                continue
            n = struct.unpack_from("<Q", head, 8)[0]
            table = f.read(24 * n)
            if len(table) < 24 * n:
                continue
            for i in range(n):
                key, offset, length = struct.unpack_from("<QQQ", table, 24 * i)
                out.append((path, key, offset, length))
    return out


def main():
    what, store = sys.argv[1], sys.argv[2]
    if what == "count":
        print(len(entries(store)))
    elif what == "damage":
        path, key, offset, length = entries(store)[int(sys.argv[3]) - 1]
        at = offset + HEADER_BYTES + (length - HEADER_BYTES) // 2  # mid-payload
        with open(path, "r+b") as f:
            f.seek(at)
            byte = f.read(1)
            f.seek(at)
            f.write(bytes([byte[0] ^ 0x55]))
        print("%016x" % key)
    elif what == "tear":
        packs = {}
        for e in entries(store):
            packs.setdefault(e[0], []).append(e)
        rows = max(packs.values(), key=len)
        middle = len(rows) // 2
        path, _, offset, length = rows[middle]
        os.truncate(path, offset + length // 2)
        print(len(rows) - middle)
    else:
        sys.exit("usage: store_pack.py count|damage|tear STORE [N]")


if __name__ == "__main__":
    main()
