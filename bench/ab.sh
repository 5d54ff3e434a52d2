#!/usr/bin/env bash
# Side-by-side runs of two or more wafermill binaries on one input (docs/BENCHMARKS.md): the
# report's wall and each rank-0 phase, runs interleaved so that a noisy machine slows every
# binary alike, page cache warm; default settings (result store on) and `--baseline none`.
# usage: bench/ab.sh INPUT N BIN...   (env: NP ranks, default 1; EXTRA more run options)
# Prints per binary the median wall (min-max), then the medians of read / compute / reduce /
# scoring seconds of rank 0 and the largest peak RSS per rank (MiB).
set -euo pipefail
input=$1
n=$2
shift 2
(($# > 0)) || { echo "usage: bench/ab.sh INPUT N BIN..." >&2; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat "$input" >/dev/null
for ((i = 0; i < n; ++i)); do
  for bin in "$@"; do
    rm -rf "$work/o.h5" "$work/o.h5.wmstore"
    # shellcheck disable=SC2086  # EXTRA is a list of options
    mpirun -np "${NP:-1}" --oversubscribe "$bin" run --input "$input" --output "$work/o.h5" \
      --report "$work/r.json" --baseline none --force --quiet ${EXTRA:-}
    /usr/bin/python3 - "$work/r.json" "$bin" >>"$work/runs" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))["parallel"]
q = p["per_rank"][0]
print(sys.argv[2], p["wall_s"], q["read_s"], q["compute_s"], q["reduce_s"], p["scoring_s"],
      p["peak_rss_max_bytes"] >> 20)
PY
  done
done
/usr/bin/python3 - "$work/runs" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    f = line.split()
    runs[f[0]].append([float(x) for x in f[1:]])
for bin, rows in runs.items():
    c = list(zip(*rows))
    print(f"{bin}: wall {statistics.median(c[0]):.3f} ({min(c[0]):.3f}-{max(c[0]):.3f}) "
          f"read {statistics.median(c[1]):.3f} compute {statistics.median(c[2]):.3f} "
          f"reduce {statistics.median(c[3]):.3f} scoring {statistics.median(c[4]):.3f} "
          f"peak RSS {max(c[5]):.0f} MiB ({len(rows)} runs)")
PY
