#!/usr/bin/env bash
# Many small files (issue 19 item 5): `wafermill run` over one ~1 GB file against the same wafers
# split over N files of ~0.5 MB (`generate --files N`, bit for bit the same wafers), at P = 1 and
# P = 2, with `--store none` and with the default store, page cache warm, runs interleaved,
# median of REPS. Prints per case the report's parallel.wall_s and index_s (and every other
# parallel.*_s the report has), the whole `mpirun`'s wall and CPU (user + system), and the ratio
# many/one (issue target: ≤ 1.5); ranks_read_s etc. are the per-rank read, compute, reduce and
# wait seconds of the report summed over the ranks. SWEEP adds other file counts of the same wafers (P = 1,
# --store none) and prints the per-file cost: (many − one) / N in ms, for the process wall, the
# report's wall and index_s. Prints figures; asserts nothing.
#
# usage: bench/many_files.sh [N_FILES=2000] [REPS=3] [MB=1000] [BIN=build/wafermill]
# environment:
#   DIR=/path     scratch directory (default: a new one under ${TMPDIR:-/tmp}, removed at the end
#                 unless KEEP=1); an existing DIR's generated files are reused when complete
#   KEEP=1        keep DIR (the generated files) for the next run
#   RANKS="1 2"   the P values
#   STORES="none default"  --store none and/or the default store
#   SWEEP="200 20000"  more file counts for the per-file cost (default none; "" skips)
#   INPUTS=manifest    how the set is named to run: manifest (--input @SET.list), args (--input
#                 f1 f2 ... fN, run in the set's directory) or dir (--input the set's directory)
#   SEED=11       generator seed
set -euo pipefail
n_files=${1:-2000}
reps=${2:-3}
mb=${3:-1000}
bin=$(realpath "${4:-build/wafermill}")
ranks=${RANKS:-1 2}
stores=${STORES:-none default}
sweep=${SWEEP:-}
inputs=${INPUTS:-manifest}
seed=${SEED:-11}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
py=/usr/bin/python3

if [[ -n ${DIR:-} ]]; then
  dir=$DIR
  mkdir -p "$dir"
else
  dir=$(mktemp -d "${TMPDIR:-/tmp}/many_files.XXXXXX")
fi
[[ ${KEEP:-0} == 1 || -n ${DIR:-} ]] || trap 'rm -rf "$dir"' EXIT
work=$(mktemp -d "$dir/work.XXXXXX")
results=$dir/runs.jsonl
: >"$results"

echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/2^20}' /proc/meminfo), $(uname -r)"
echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "binary: $bin ($(git -C "$(dirname "$bin")" rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo "scratch: $dir"

# --- the data: one file, and the same wafers as sets of N files ---
gen() {  # gen OUTPUT [generate options]: generates unless the output (or set manifest) exists
  local out=$1 done=$1
  shift
  [[ " $* " == *" --files "* ]] && done=${out%.h5}.list
  if [[ -e $done ]]; then
    echo "reusing $done"
    return
  fi
  mkdir -p "$(dirname "$out")"
  local t0 t1
  t0=$(date +%s.%N)
  "$bin" generate --output "$out" --target-mb "$mb" --seed "$seed" --force "$@"
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN{printf "  generated in %.1f s\n", b - a}'
}
gen "$dir/one.h5"
counts=("$n_files")
for n in $sweep; do [[ $n == "$n_files" ]] || counts+=("$n"); done
for n in "${counts[@]}"; do gen "$dir/set$n/night.h5" --files "$n"; done
for n in "${counts[@]}"; do
  echo "set$n: $(wc -l <"$dir/set$n/night.list") files, $(du -sb "$dir/set$n" | awk '{printf "%.1f MB", $1/1e6}'), median file $(
    find "$dir/set$n" -name 'night-*.h5' -printf '%s\n' | sort -n | awk '{v[NR]=$1} END{printf "%.3f MB", v[int((NR+1)/2)]/1e6}')"
done

input_args() {  # the run's --input arguments for "one" or a file count (run from rundir)
  if [[ $1 == one ]]; then
    echo "$dir/one.h5"
    return
  fi
  case $inputs in
    manifest) echo "@$dir/set$1/night.list" ;;
    dir) echo "$dir/set$1" ;;
    args) cat "$dir/set$1/night.list" ;;  # names relative to the set: 20,000 full paths are
                                         # more than execve takes
    *) echo "INPUTS must be manifest, args or dir" >&2; exit 2 ;;
  esac
}
rundir() { if [[ $1 == one || $inputs != args ]]; then echo "$dir"; else echo "$dir/set$1"; fi; }

# run CASE P STORE REP: one `mpirun`, its figures appended to runs.jsonl
run() {
  local case=$1 p=$2 store=$3 rep=$4 t0 t1 store_args=()
  [[ $store == none ]] && store_args=(--store none)
  mapfile -t in < <(input_args "$case")
  rm -rf "$work/o.h5" "$work/o.h5.wmstore" "$work/r.json"
  local load
  load=$(cut -d' ' -f1 /proc/loadavg)
  t0=$(date +%s.%N)
  if ! (cd "$(rundir "$case")" && /usr/bin/time -o "$work/time" -f "%U %S" mpirun -np "$p" \
    --allow-run-as-root --oversubscribe "$bin" run --input "${in[@]}" --output "$work/o.h5" \
    --report "$work/r.json" --baseline none --force --quiet "${store_args[@]}") >"$work/log" 2>&1; then
    echo "run failed: case $case P=$p store $store" >&2
    tail -5 "$work/log" >&2
    exit 1
  fi
  t1=$(date +%s.%N)
  $py - "$work/r.json" "$case" "$p" "$store" "$rep" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b - a}')" \
    "$(awk '{print $1 + $2}' "$work/time")" "$load" >>"$results" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
par = r["parallel"]
row = {"case": sys.argv[2], "ranks": int(sys.argv[3]), "store": sys.argv[4], "rep": int(sys.argv[5]),
       "process_s": float(sys.argv[6]), "cpu_s": float(sys.argv[7]), "load1": float(sys.argv[8]),
       "wafers": par.get("wafers"), "bytes": par.get("bytes")}
for k, v in par.items():  # every timing the report has (wall_s, index_s, ...)
    if k.endswith("_s") and not k.startswith("throughput") and isinstance(v, (int, float)):
        row[k] = v
for k in ("read_s", "compute_s", "reduce_s", "wait_s"):  # summed over the ranks
    row["ranks_" + k] = sum(r.get(k, 0.0) for r in par.get("per_rank", []))
print(json.dumps(row))
EOF
}

find "$dir/one.h5" "${counts[@]/#/$dir/set}" -type f -exec cat {} + >/dev/null  # warm the page cache
for ((rep = 0; rep < reps; ++rep)); do
  for p in $ranks; do
    for store in $stores; do
      run one "$p" "$store" "$rep"
      run "$n_files" "$p" "$store" "$rep"
    done
  done
  for n in "${counts[@]:1}"; do
    run one 1 none "$rep"  # interleaved with the sweep's own baseline
    run "$n" 1 none "$rep"
  done
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "runs: $results"

$py - "$results" "$n_files" "${counts[*]}" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
n_main, counts = sys.argv[2], sys.argv[3].split()
med = lambda xs: statistics.median(xs) if xs else float("nan")
def pick(case, p, store):
    return [r for r in rows if r["case"] == case and r["ranks"] == p and r["store"] == store]
def fig(rs, key):
    return med([r[key] for r in rs if key in r])
keys = ["wall_s", "index_s", "process_s", "cpu_s"]
extra = sorted({k for r in rows for k in r if k.endswith("_s") and k not in keys + ["process_s"]},
               key=lambda k: (k.startswith("ranks_"), k))
print("\nmedians, seconds (wall_s, index_s and the others: the report's parallel section; "
      "process: the whole mpirun; cpu: its user + system)")
print(f"{'P':>2} {'store':>8} {'input':>12} " + " ".join(f"{k.replace('ranks_', 'Σ'):>11}" for k in keys + extra) + "  load1")
for p in sorted({r["ranks"] for r in rows}):
    for store in ("none", "default"):
        one, many = pick("one", p, store), pick(n_main, p, store)
        if not many:
            continue
        for name, rs in (("one file", one), (f"{n_main} files", many)):
            print(f"{p:>2} {store:>8} {name:>12} " + " ".join(f"{fig(rs, k):>11.3f}" for k in keys + extra)
                  + f"  {med([r['load1'] for r in rs]):.2f}")
        print(f"{p:>2} {store:>8} {'many/one':>12} " + " ".join(
            f"{fig(many, k) / fig(one, k):>11.2f}" if fig(one, k) > 0 else f"{'-':>11}" for k in keys + extra))
if len(counts) > 1 or counts:
    print("\nper-file cost at P = 1, --store none: (median with N files − median with one file) / N, ms per file")
    one = pick("one", 1, "none")
    cost = ["process_s", "cpu_s", "wall_s", "index_s", "serial_s", "ranks_read_s", "ranks_compute_s",
            "ranks_reduce_s"]
    print(f"{'N':>7} " + " ".join(f"{k.replace('ranks_', 'Σ'):>11}" for k in cost))
    for n in counts:
        many = pick(n, 1, "none")
        if many:
            print(f"{n:>7} " + " ".join(f"{(fig(many, k) - fig(one, k)) / int(n) * 1e3:>11.3f}"
                                        for k in cost))
EOF
