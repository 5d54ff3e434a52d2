#!/usr/bin/env bash
# The benchmark suite (docs/BENCHMARKS.md): on generated workloads, the job (`wafermill run`
# under mpirun) side by side with its I/O floor (bench/io_floor: the same ranks read the same
# rows, nothing else) and two peers that compute the same features (numpy + h5py, Dask), on the
# same files, with the peers' features checked against the job's. Then bench/summarize.py turns
# the runs into results.json and results.md (tables, ratios, targets met or missed).
#
#   bench/run.sh                          # settings from jobs/bench.ini [bench]
#   bench/run.sh --repetitions 5 --target-mb 2000 --keep jobs/bench.ini
#   bench/run.sh --smoke                  # tiny inputs, one repetition ([bench-smoke] on top)
#
# Options (override the INI file's [bench] section; see jobs/bench.ini for each):
#   --out DIR --data-dir DIR --ranks "1 2" --repetitions N --target-mb MB --large-mb MB
#   --peer-wafers N --peer-repetitions N --policies "static weighted dynamic" --policy NAME
#   --max-load L --mpirun-args "..." --store-none-too true|false --keep --smoke
# Environment: WAFERMILL_BIN (default build/wafermill, then PATH), IO_FLOOR_BIN (default
# build/bench/io_floor), MPIRUN (default mpirun), PYTHON (default /usr/bin/python3, which needs
# python3-numpy python3-h5py python3-dask: scripts/install-deps.sh python3-dask).
# Exit code: 0 when every step ran and every check passed (peers agree with the job within
# compare.py's tolerance, the I/O floor read the job's rows); 1 when a check failed; 2 for bad
# options or a missing tool. Targets missed are reported, not failed: they are measurements.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
die() { printf 'bench/run.sh: %s\n' "$*" >&2; exit 2; }
say() { printf 'bench: %s\n' "$*"; }

# ini_get FILE SECTION KEY: the value of KEY in [SECTION], empty when absent (as scripts/study.sh).
ini_get() {
  awk -v section="$2" -v key="$3" '
    /^[ \t]*[#;]/ { next }
    /^[ \t]*\[/ { gsub(/[][ \t]/, ""); in_section = ($0 == section); next }
    in_section {
      eq = index($0, "="); if (!eq) next
      k = substr($0, 1, eq - 1); v = substr($0, eq + 1)
      gsub(/^[ \t]+|[ \t]+$/, "", k); gsub(/^[ \t]+|[ \t]+$/, "", v)
      if (k == key) { print v; found = 1; exit }
    }
    END { if (!found) exit 1 }' "$1"
}

declare -A opt=()
smoke=0
while (($#)); do
  case "$1" in
    --out | --data-dir | --ranks | --repetitions | --target-mb | --large-mb | --peer-wafers | \
      --peer-repetitions | --policies | --policy | --max-load | --mpirun-args | --store-none-too)
      (($# >= 2)) || die "$1 needs a value"
      opt[${1#--}]=$2; shift 2 ;;
    --keep) opt[keep]=true; shift ;;
    --smoke) smoke=1; shift ;;
    -h | --help) sed -n '2,22p' "$0"; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) break ;;
  esac
done
(($# <= 1)) || die "usage: run.sh [options] [JOB.ini]"
config=${1:-$root/jobs/bench.ini}
[[ -r $config ]] || die "cannot read the configuration '$config'"
# setting KEY DEFAULT: command line, then [bench-smoke] in smoke mode, then [bench], then DEFAULT.
setting() {
  local v
  if [[ -n ${opt[$1]+x} ]]; then printf '%s' "${opt[$1]}"; return; fi
  if ((smoke)) && v=$(ini_get "$config" bench-smoke "$1"); then printf '%s' "$v"; return; fi
  v=$(ini_get "$config" bench "$1" || true)
  printf '%s' "${v:-$2}"
}

out=$(setting output-dir out/bench)
[[ -n ${opt[out]:-} ]] && out=${opt[out]}
data_dir=$(setting data-dir "")
ranks=$(setting ranks "1 2")
repetitions=$(setting repetitions 3)
target_mb=$(setting target-mb 1000)
large_mb=$(setting large-mb 4000)
sensors=$(setting sensors 16)
mean_length=$(setting mean-length 500)
sigma=$(setting lognormal-sigma 1.0)
gzip_level=$(setting gzip-level 1)
steps=$(setting steps 0)
policies=$(setting policies "static weighted dynamic")
policy=$(setting policy dynamic)
budget=$(setting memory-budget 256)
peer_wafers=$(setting peer-wafers 0)
peer_reps=$(setting peer-repetitions 1)
max_load=$(setting max-load 0)
load_wait=$(setting load-wait-s 60)
keep=$(setting keep false)
store_none=$(setting store-none-too true)
read -r -a mpirun_args <<<"$(setting mpirun-args --oversubscribe)"

for n in "$repetitions" "$peer_reps"; do [[ $n =~ ^[1-9][0-9]*$ ]] || die "'$n' is not a positive count"; done
for n in "$target_mb" "$large_mb" "$sensors" "$mean_length" "$peer_wafers" "$budget" "$steps"; do
  [[ $n =~ ^[0-9]+$ ]] || die "'$n' is not a count"
done
for p in $ranks; do [[ $p =~ ^[1-9][0-9]*$ ]] || die "ranks: '$p' is not a rank count"; done
ranks=$(printf '%s\n' $ranks | sort -n -u | tr '\n' ' ')
p_max=$(printf '%s\n' $ranks | tail -n 1)

bin=${WAFERMILL_BIN:-}
[[ -z $bin && -x $root/build/wafermill ]] && bin=$root/build/wafermill
[[ -z $bin ]] && bin=$(command -v wafermill || true)
[[ -n $bin && -x $bin ]] || die "no wafermill executable: build it or set WAFERMILL_BIN"
floor=${IO_FLOOR_BIN:-$root/build/bench/io_floor}
[[ -x $floor ]] || die "no io_floor executable at '$floor': build target io_floor or set IO_FLOOR_BIN"
mpirun=${MPIRUN:-mpirun}
command -v "$mpirun" >/dev/null || die "no mpirun ('$mpirun')"
[[ $(id -u) -eq 0 ]] && mpirun_args+=(--allow-run-as-root)
python=${PYTHON:-/usr/bin/python3}
"$python" -c 'import numpy, h5py, dask.array' 2>/dev/null ||
  die "$python lacks numpy, h5py or dask: apt-get install -y python3-numpy python3-h5py python3-dask (or scripts/install-deps.sh python3-dask)"

mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -rf "$out/runs" && mkdir -p "$out/runs"
manifest=$out/runs/manifest.jsonl
: >"$manifest"
scratch_data=0
if [[ -z $data_dir ]]; then
  data_dir=$(mktemp -d "$out/data.XXXXXX")
  keep=false
  scratch_data=1
fi
mkdir -p "$data_dir"
cleanup() {
  [[ $keep == true ]] || rm -f "$data_dir"/bench-*.h5 "$data_dir"/bench-*.params
  ((scratch_data)) && rmdir "$data_dir" 2>/dev/null
  return 0
}
trap cleanup EXIT
failures=0
fail() { printf 'bench: CHECK FAILED: %s\n' "$*" >&2; failures=$((failures + 1)); }

# record KIND WORKLOAD P POLICY REP LOAD FILE: one line of the manifest summarize.py reads.
record() {
  printf '{"kind":"%s","workload":"%s","ranks":%s,"policy":"%s","rep":%s,"load1":%s,"file":"%s"}\n' \
    "$@" >>"$manifest"
}

# load_before_run: waits (bounded) for a quiet machine, prints the 1-minute load average seen.
load_before_run() {
  local load waited=0
  load=$(cut -d' ' -f1 /proc/loadavg)
  if [[ $max_load != 0 ]]; then
    while awk -v l="$load" -v m="$max_load" 'BEGIN { exit !(l >= m) }' && ((waited < load_wait)); do
      sleep 5
      waited=$((waited + 5))
      load=$(cut -d' ' -f1 /proc/loadavg)
    done
  fi
  printf '%s' "$load"
}

# generate NAME MB SIGMA GZIP: the workload file (reused when kept from an earlier run with the
# same parameters).
generate() {
  local file=$data_dir/bench-$1.h5
  local params="mb=$2 sigma=$3 gzip=$4 sensors=$sensors steps=$steps mean=$mean_length seed=1"
  if [[ -r $file && -r ${file%.h5}.params && $(cat "${file%.h5}.params") == "$params" ]]; then
    say "reusing $file ($params)"
  else
    say "generating $file ($params)"
    "$bin" generate --output "$file" --force --sensors "$sensors" --steps "$steps" \
      --mean-length "$mean_length" --length-sigma "$3" --gzip "$4" --target-mb "$2" --seed 1 >/dev/null
    printf '%s' "$params" >"${file%.h5}.params"
  fi
}

job() {  # job P POLICY INPUT OUTPUT REPORT [run options]: a fresh result store each time
  local p=$1 pol=$2 input=$3 output=$4 report=$5
  shift 5
  rm -rf "$output.wmstore"
  "$mpirun" -np "$p" "${mpirun_args[@]}" "$bin" run --input "$input" --output "$output" \
    --report "$report" --policy "$pol" --memory-budget "$budget" --baseline none --force --quiet "$@"
}
io_floor() {  # io_floor P INPUT JSON [extra]
  local p=$1 input=$2 json=$3
  shift 3
  "$mpirun" -np "$p" "${mpirun_args[@]}" "$floor" --input "$input" --memory-budget "$budget" \
    --json "$json" "$@" >/dev/null
}

# measure WORKLOAD: the job and its I/O floor at each P, interleaved, repeated; then the
# extra policies at the largest P on lognormal inputs; then the peers and their checks.
measure() {
  local w=$1 input=$data_dir/bench-$1.h5 p rep load f
  io_floor 1 "$input" "$out/runs/warmup.json"  # page cache warm, untimed
  for p in $ranks; do
    for ((rep = 1; rep <= repetitions; rep++)); do
      load=$(load_before_run)
      f=$out/runs/floor-$w-P$p-r$rep.json
      io_floor "$p" "$input" "$f"
      record floor "$w" "$p" weighted "$rep" "$load" "$f"
      load=$(load_before_run)
      f=$out/runs/job-$w-P$p-$policy-r$rep.json
      job "$p" "$policy" "$input" "$out/runs/features-$w.h5" "$f"
      record job "$w" "$p" "$policy" "$rep" "$load" "$f"
      say "$w P=$p rep $rep: load $load, floor $(mbps "$out/runs/floor-$w-P$p-r$rep.json"), job $(mbps "$f") MB/s"
      if [[ $store_none == true ]]; then
        load=$(load_before_run)
        f=$out/runs/job-$w-P$p-$policy+store-none-r$rep.json
        job "$p" "$policy" "$input" "$out/runs/scratch-features.h5" "$f" --store none
        record job "$w" "$p" "$policy+store-none" "$rep" "$load" "$f"
        say "$w P=$p rep $rep: load $load, job --store none $(mbps "$f") MB/s"
      fi
    done
  done
  if [[ $w == lognormal-* ]] && ((p_max > 1)); then
    for ((rep = 1; rep <= repetitions; rep++)); do
      for pol in $policies; do
        [[ $pol == "$policy" ]] && continue
        load=$(load_before_run)
        f=$out/runs/job-$w-P$p_max-$pol-r$rep.json
        job "$p_max" "$pol" "$input" "$out/runs/scratch-features.h5" "$f"
        record job "$w" "$p_max" "$pol" "$rep" "$load" "$f"
        say "$w P=$p_max $pol rep $rep: imbalance $(jq_num "$f" '["parallel"]["load_balance"]["imbalance"]')"
      done
    done
  fi
  peers "$w" "$input"
  # The I/O floor must have read exactly the rows the job read; with --checksum its per-sensor
  # sums of finite samples must equal the job's sum over wafers of count * mean.
  f=$out/runs/floor-$w-checksum.json
  io_floor "$p_max" "$input" "$f" --checksum
  "$python" "$here/summarize.py" --check-floor "$f" "$out/runs/job-$w-P$p_max-$policy-r1.json" \
    "$out/runs/features-$w.h5" || fail "$w: the I/O floor and the job read different data"
}

peers() {  # peers WORKLOAD INPUT
  local w=$1 input=$2 rep load f n=()
  ((peer_wafers > 0)) && n=(--wafers "$peer_wafers")
  for ((rep = 1; rep <= peer_reps; rep++)); do
    load=$(load_before_run)
    f=$out/runs/numpy-$w-r$rep.h5
    "$python" "$here/peers/numpy_features.py" "$input" "$f" "${n[@]}" >"${f%.h5}.json"
    record numpy "$w" 1 none "$rep" "$load" "${f%.h5}.json"
    load=$(load_before_run)
    f=$out/runs/dask-$w-r$rep.h5
    "$python" "$here/peers/dask_features.py" "$input" "$f" "${n[@]}" --workers "$p_max" >"${f%.h5}.json"
    record dask "$w" "$p_max" none "$rep" "$load" "${f%.h5}.json"
    say "$w peers rep $rep: numpy $(mbps "$out/runs/numpy-$w-r$rep.json"), dask $(mbps "${f%.h5}.json") MB/s"
  done
  for peer in numpy dask; do
    f=$out/runs/compare-$peer-$w.json
    "$python" "$here/peers/compare.py" "$out/runs/features-$w.h5" "$out/runs/$peer-$w-r1.h5" \
      --json "$f" >/dev/null || fail "$w: $peer features disagree with the job's (see $f)"
    record compare "$w" 0 none 1 0 "$f"
    # The peers' feature files are as large as the job's output: keep the checks, not them.
    rm -f "$out/runs/$peer-$w-r"*.h5
  done
}

jq_num() { "$python" -c "import json,sys; print(round(json.load(open(sys.argv[1]))$2, 3))" "$1"; }
mbps() {
  "$python" -c "import json,sys; j=json.load(open(sys.argv[1])); j=j.get('parallel', j); print(round(j['throughput_mb_per_s'], 1))" "$1"
}

say "$(date -u +%FT%TZ) on $(hostname): $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $bin"
{
  printf '{"started_utc":"%s","host":"%s","smoke":%s,"config":"%s","ranks":"%s","repetitions":%s,' \
    "$(date -u +%FT%TZ)" "$(hostname)" "$smoke" "$config" "$ranks" "$repetitions"
  printf '"target_mb":%s,"large_mb":%s,"sensors":%s,"steps":%s,"gzip_level":%s,"lognormal_sigma":%s,' \
    "$target_mb" "$large_mb" "$sensors" "$steps" "$gzip_level" "$sigma"
  printf '"memory_budget_mib":%s,"policy":"%s","peer_wafers":%s,"wafermill_version":"%s"}\n' \
    "$budget" "$policy" "$peer_wafers" "$("$bin" --version 2>&1 | head -n 1)"
} >"$out/runs/settings.json"

for spec in "uniform-raw 0 0" "uniform-gzip 0 $gzip_level" "lognormal-raw $sigma 0" "lognormal-gzip $sigma $gzip_level"; do
  read -r name s z <<<"$spec"
  generate "$name" "$target_mb" "$s" "$z"
  measure "$name"
  rm -rf "$out/runs/features-$name.h5" "$out/runs/features-$name.h5.wmstore" \
    "$out/runs/scratch-features.h5" "$out/runs/scratch-features.h5.wmstore"
  [[ $keep == true ]] || rm -f "$data_dir/bench-$name.h5" "$data_dir/bench-$name.params"
done

# Memory flatness: the same job on a larger uniform input, at each P (peak RSS per rank).
generate large-raw "$large_mb" 0 0
io_floor 1 "$data_dir/bench-large-raw.h5" "$out/runs/warmup.json"
for p in $ranks; do
  load=$(load_before_run)
  f=$out/runs/job-large-raw-P$p-$policy-r1.json
  job "$p" "$policy" "$data_dir/bench-large-raw.h5" "$out/runs/features-large.h5" "$f"
  record job large-raw "$p" "$policy" 1 "$load" "$f"
  say "large-raw P=$p: load $load, job $(mbps "$f") MB/s"
done
rm -rf "$out/runs/features-large.h5" "$out/runs/features-large.h5.wmstore" "$out/runs/warmup.json"

"$python" "$here/summarize.py" --runs "$out/runs" --out "$out" || fail "summarize.py failed"
say "results: $out/results.md, $out/results.json"
if ((failures)); then
  say "$failures check(s) failed"
  exit 1
fi
