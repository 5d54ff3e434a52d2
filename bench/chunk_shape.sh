#!/bin/bash
# What the chunk shape of /traces/values costs `wafermill run` (docs/BENCHMARKS.md "Chunk shape").
#   bench/chunk_shape.sh WAFERMILL DIR SENSORS LAYOUT...
# Generates DIR/base_sSENSORS.h5 (16000/SENSORS wafers of 500 float32 rows: 32 MB, uncompressed),
# rewrites it with `h5repack -l /traces/values:LAYOUT` for each LAYOUT (CONTI, CHUNK=RxC), runs
# `mpirun -n 1 wafermill run -q --baseline none --store none` three times on each and prints the
# median report's wall_s and rank 0's read_s, then all three.
# Example: bench/chunk_shape.sh build/wafermill /tmp/cs 16 CONTI CHUNK=1x16 CHUNK=256x16 CHUNK=4096x1
set -euo pipefail
WM=$1 D=$2 S=$3
shift 3
mkdir -p "$D"
base=$D/base_s$S.h5
[[ -f $base ]] || "$WM" generate --output "$base" --wafers $((16000 / S)) --sensors "$S" \
  --mean-length 500 --seed 7 --gzip 0 >/dev/null
for lay in "$@"; do
  f=$D/s${S}_${lay//[=x]/_}.h5
  [[ -f $f ]] || h5repack -l "/traces/values:$lay" "$base" "$f"
  rows=()
  for rep in 1 2 3; do
    rm -f "$D/out.h5" "$D/r.json"
    mpirun --allow-run-as-root -n 1 "$WM" run -q --baseline none --store none --input "$f" \
      --output "$D/out.h5" --report "$D/r.json" >/dev/null 2>&1
    rows+=("$(/usr/bin/python3 -c "import json, sys; p = json.load(open(sys.argv[1]))['parallel']; \
print('%.3f %.3f' % (p['wall_s'], p['per_rank'][0]['read_s']))" "$D/r.json")")
  done
  med=$(printf '%s\n' "${rows[@]}" | sort -n | sed -n 2p)
  echo "S=$S $lay wall_s read_s: $med | all: ${rows[*]}"
done
