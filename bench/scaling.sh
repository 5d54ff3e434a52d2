#!/usr/bin/env bash
# The scale model's measurements (docs/SCALING.md): `wafermill run` at several rank counts on
# generated lognormal files of two sizes, with a warm and (as root) a cold page cache, default
# settings (result store on, dynamic policy), a fresh output each time, and per run the
# figures the model is built from: wall time, rank 0's serial phase (serial_s), each rank's
# read / compute / reduce / wait, units, and the store's cost.
#
#   bench/scaling.sh [--ranks "1 2 4"] [--sizes "320 640"] [--repetitions 3] [--cold]
#                    [--dir DIR] [--oversubscribe]
# Prints one line per run and a median table; writes DIR/scaling.json.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
wm=${WAFERMILL_BIN:-$root/build/wafermill}
ranks="1 2" sizes="320 640" reps=3 cold=0 dir=${TMPDIR:-/tmp}/wafermill-scaling extra=()
while (($#)); do
  case $1 in
    --ranks) ranks=$2; shift 2 ;;
    --sizes) sizes=$2; shift 2 ;;
    --repetitions) reps=$2; shift 2 ;;
    --cold) cold=1; shift ;;
    --dir) dir=$2; shift 2 ;;
    --oversubscribe) extra+=(--oversubscribe); shift ;;
    *) echo "bench/scaling.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -x $wm ]] || { echo "bench/scaling.sh: no wafermill binary at $wm (build first)" >&2; exit 2; }
if ((cold)) && ! { [[ $(id -u) -eq 0 ]] && [[ -w /proc/sys/vm/drop_caches ]]; }; then
  echo "bench/scaling.sh: --cold needs root (echo 3 > /proc/sys/vm/drop_caches)" >&2; exit 2
fi
mkdir -p "$dir"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
runs=$dir/runs.jsonl
: > "$runs"
for mb in $sizes; do
  input=$dir/lognormal_${mb}mb.h5
  [[ -e $input ]] || "$wm" generate --output "$input" --target-mb "$mb" --length-sigma 1.0 --seed "$mb" > /dev/null
  for rep in $(seq "$reps"); do
    for p in $ranks; do
      out=$dir/out_p$p.h5
      rm -rf "$out" "$out.wmstore" "$dir/r.json"
      if ((cold)); then sync; echo 3 > /proc/sys/vm/drop_caches; fi
      mpirun -np "$p" "${extra[@]}" "$wm" run --input "$input" --output "$out" --report "$dir/r.json" \
        --baseline none -q < /dev/null
      /usr/bin/python3 - "$dir/r.json" "$mb" "$p" "$rep" "$cold" >> "$runs" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); p = r["parallel"]
ranks = p["per_rank"]
print(json.dumps({"mb": int(sys.argv[2]), "ranks": int(sys.argv[3]), "rep": int(sys.argv[4]),
  "cold": bool(int(sys.argv[5])), "wafers": p["wafers"], "wall_s": p["wall_s"], "serial_s": p["serial_s"],
  "index_s": p["index_s"], "scoring_s": p["scoring_s"], "units": [q["units"] for q in ranks],
  "read_s": [q["read_s"] for q in ranks], "compute_s": [q["compute_s"] for q in ranks],
  "reduce_s": [q["reduce_s"] for q in ranks], "wait_s": [q["wait_s"] for q in ranks]}))
PY
      tail -1 "$runs"
    done
  done
done
/usr/bin/python3 - "$runs" "$dir/scaling.json" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
groups = {}
for r in runs: groups.setdefault((r["mb"], r["cold"], r["ranks"]), []).append(r)
rows = []
print("\n| MB | cache | P | T(P) s | S | Karp-Flatt e | rank 0 serial s | % of T(1) | rank 0 read+compute+reduce s | wait s (max) |")
print("|---|---|---|---|---|---|---|---|---|---|")
for (mb, cold, p), g in sorted(groups.items()):
    med = lambda k: statistics.median(x[k] for x in g)
    t1 = statistics.median(x["wall_s"] for x in groups.get((mb, cold, 1), g))
    t = med("wall_s"); s = t1 / t
    e = (1 / s - 1 / p) / (1 - 1 / p) if p > 1 else None
    r0 = statistics.median(x["read_s"][0] + x["compute_s"][0] + x["reduce_s"][0] for x in g)
    wait = statistics.median(max(x["wait_s"]) for x in g)
    row = {"mb": mb, "cold": cold, "ranks": p, "wall_s": t, "speedup": s, "karp_flatt": e,
           "serial_s": med("serial_s"), "serial_share_of_t1": med("serial_s") / t1, "rank0_busy_s": r0,
           "wait_max_s": wait, "repetitions": len(g)}
    rows.append(row)
    print(f"| {mb} | {'cold' if cold else 'warm'} | {p} | {t:.3f} | {s:.2f} | {'' if e is None else f'{e:.3f}'} | "
          f"{row['serial_s']:.4f} | {100 * row['serial_share_of_t1']:.2f} | {r0:.3f} | {wait:.3f} |")
json.dump({"runs": runs, "medians": rows}, open(sys.argv[2], "w"), indent=1)
PY
