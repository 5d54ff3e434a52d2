#!/usr/bin/env bash
# Maps and images through `wafermill run` (docs/BENCHMARKS.md "Maps and images"): generated
# die maps and inspection images, each rank count run REPS times with the sequential baseline,
# and the median of every figure the report's "pictures" section holds (maps/s, images/s, MB/s,
# latency percentiles, speedup over the single-rank child, results identical).
#
#   bench/pictures.sh [--out DIR] [--ranks "1 2"] [--reps 3] [--maps 50000] [--images 3000]
#                     [--side 256] [--backend cpu|cuda]
#
# Environment: WAFERMILL_BIN (default build/wafermill), MPIRUN (default mpirun),
# MPIRUN_ARGS (default --oversubscribe, plus --allow-run-as-root as root).
# Exit code: 0 when every run succeeded and every result was identical to the baseline's; 1
# otherwise; 2 for bad options.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=bench-pictures ranks="1 2" reps=3 maps=50000 images=3000 side=256 backend=cpu
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --ranks) ranks=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --maps) maps=$2; shift 2 ;;
    --images) images=$2; shift 2 ;;
    --side) side=$2; shift 2 ;;
    --backend) backend=$2; shift 2 ;;
    *) echo "bench/pictures.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
wm=${WAFERMILL_BIN:-$root/build/wafermill}
[ -x "$wm" ] || { echo "bench/pictures.sh: no wafermill at $wm (set WAFERMILL_BIN)" >&2; exit 2; }
mpirun=${MPIRUN:-mpirun}
args=${MPIRUN_ARGS:---oversubscribe}
[ "$(id -u)" = 0 ] && args="$args --allow-run-as-root"
mkdir -p "$out"
"$wm" generate --output "$out/maps.h5" --maps "$maps" --seed 3 --force
"$wm" generate --output "$out/images.h5" --images "$images" --image-height "$side" --image-width "$side" \
  --defect-fraction 0.1 --seed 4 --force
for kind in maps images; do
  for np in $ranks; do
    for rep in $(seq 1 "$reps"); do
      # shellcheck disable=SC2086
      "$mpirun" -n "$np" $args "$wm" run --input "$out/$kind.h5" --output "$out/$kind.out.h5" \
        --report "$out/$kind.p$np.r$rep.json" --baseline run --backend "$backend" --force -q < /dev/null
    done
  done
done
/usr/bin/python3 - "$out" <<'EOF'
import glob, json, statistics, sys
out = sys.argv[1]
ok = True
print("| kind | P | wall s | items/s | MB/s | latency p50 / p95 / p99 ms | T_seq s | speedup | efficiency | identical |")
print("|---|---|---|---|---|---|---|---|---|---|")
for kind, rate in (("maps", "maps_per_s"), ("images", "images_per_s")):
    by_p = {}
    for path in glob.glob(f"{out}/{kind}.p*.r*.json"):
        p = json.load(open(path))["pictures"]
        by_p.setdefault(p["ranks"], []).append(p[kind])
    for P in sorted(by_p):
        runs = by_p[P]
        med = lambda f: statistics.median(f(r) for r in runs)
        ident = all(r["sequential"]["identical"] for r in runs)
        ok = ok and ident
        print(f"| {kind} | {P} | {med(lambda r: r['wall_s']):.3f} | {med(lambda r: r[rate]):,.0f} | "
              f"{med(lambda r: r['mb_per_s']):.1f} | {med(lambda r: r['latency']['p50_s'])*1e3:.3f} / "
              f"{med(lambda r: r['latency']['p95_s'])*1e3:.3f} / {med(lambda r: r['latency']['p99_s'])*1e3:.3f} | "
              f"{med(lambda r: r['sequential']['wall_s']):.3f} | {med(lambda r: r['sequential']['speedup']):.2f} | "
              f"{med(lambda r: r['sequential']['efficiency']):.2f} | {'yes' if ident else 'NO'} |")
print(f"(median of {len(runs)} runs each)")
sys.exit(0 if ok else 1)
EOF
