#!/bin/bash
# Only new work (issue "A night's data"): a night of 30 files is run with a result store; the
# next night holds the same 30 files and one new file in the middle. With --resume only the new
# file's blocks may be computed, the 30 files must be reused whole (their blocks do not move
# when a file is inserted before them), and the output must equal a run without a store.
# Usage: check_night_reuse.sh DIR  (environment: WM, MPIEXEC, MPI_FLAGS)
set -euo pipefail
dir=$1
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"
run() { "$MPIEXEC" -n 2 $MPI_FLAGS "$WM" run --quiet --baseline none --block-size 8 "$@"; }
"$WM" generate --output base.h5 --wafers 390 --sensors 4 --steps 2 --mean-length 40 \
  --length-sigma 0.5 --seed 31 > /dev/null
"$WM" generate --output extra.h5 --wafers 26 --sensors 4 --steps 2 --mean-length 40 \
  --length-sigma 0.5 --seed 32 > /dev/null
mapfile -t night < <(/usr/bin/python3 "$here/split_traces.py" base.h5 night 30)
run --input "${night[@]}" --output n1.h5 --store store --report n1.json
next=("${night[@]:0:15}" extra.h5 "${night[@]:15}")
run --input "${next[@]}" --output n2.h5 --store store --resume --report n2.json
run --input "${next[@]}" --output n2_fresh.h5 --store none --report n2_fresh.json
"$WM" compare n2_fresh.h5 n2.h5
# Night 3: one old file changed in place (one sample of its first wafer); --rehash reads all.
/usr/bin/python3 -c "import h5py; f = h5py.File('${night[3]}', 'r+'); v = f['traces/values']; v[0, 0] = v[0, 0] + 1.0"
run --input "${next[@]}" --output n3.h5 --store store --resume --report n3.json
run --input "${next[@]}" --output n3_fresh.h5 --store none --report n3_fresh.json
"$WM" compare n3_fresh.h5 n3.h5
run --input "${next[@]}" --output n3_rehash.h5 --store store --resume --rehash --report n3_rehash.json
/usr/bin/python3 - <<'PY'
import json
n1, n2 = (json.load(open(f))["parallel"] for f in ("n1.json", "n2.json"))
print("night 1:", n1["files"], "files,", n1["blocks_computed"], "blocks computed")
print("night 2:", n2["files"], "files,", n2["files_reused"], "reused whole,",
      n2["blocks_reused"], "blocks reused,", n2["blocks_computed"], "computed")
assert n1["files"] == 30 and n1["blocks_reused"] == 0, n1
assert n2["files"] == 31, n2
assert n2["files_reused"] == 30, "every old file must be reused whole"
assert n2["blocks_reused"] == n1["blocks_computed"], "every old block must be reused"
assert n2["blocks_computed"] == 4, "only the new file's 26 wafers (4 blocks of 8) are computed"
assert n2["blocks_unread"] == n1["blocks_computed"], "unchanged files are not read to be hashed"
n3, rh = (json.load(open(f))["parallel"] for f in ("n3.json", "n3_rehash.json"))
print("night 3:", n3["blocks_reused"], "reused,", n3["blocks_computed"], "computed,",
      n3["blocks_unread"], "unread; rehash:", rh["blocks_reused"], "reused,", rh["blocks_unread"], "unread")
assert n3["blocks_computed"] == 1, "only the changed wafer's block is computed"
assert n3["blocks_unread"] == n2["blocks_reused"] + n2["blocks_computed"] - 2, \
    "the changed file (2 blocks) is read again, no other"
assert rh["blocks_unread"] == 0 and rh["blocks_computed"] == 0, "--rehash reads every file"
print("ok night reuse")
PY
