#!/usr/bin/env bash
# A scaling study on a workstation: `wafermill run` under mpirun at P = 1, 2, 4, ... for each
# policy, N repetitions, the single-rank baseline first; then `wafermill study` over the reports
# (study.md, study.html, study.json; with a reference study, the regression gate).
#
#   scripts/study.sh                                   # settings from jobs/study.ini
#   scripts/study.sh --ranks "1 2" --repetitions 5 --out out/s2 jobs/study.ini
#   scripts/study.sh --baseline-study out/last-night/study jobs/study.ini   # exit 1 on regression
#
# Options (override the INI file's [study] section):
#   --input SPEC            trace input; {P} in it is replaced by the rank count (weak scaling).
#                           Repeat it for several: files, directories, globs (quoted), @MANIFEST
#                           (as `wafermill run --input`, docs/FORMAT.md "Several input files")
#   --ranks "1 2 4"         rank counts (1 is added and run first when missing)
#   --repetitions N         runs per (policy, P)
#   --policies "static weighted dynamic"
#   --warmup N              untimed single-rank runs first
#   --out DIR               where reports/ and study/ go
#   --kind strong|weak|auto
#   --baseline-study DIR    reference study for the gate;  --tolerances FILE  its tolerances
#   --drift-reports DIR     the nights' `run --model --report` files (named in night order): the
#                           study adds "Drift night over night" (docs/MONITORING.md "Drift")
# Environment: WAFERMILL_BIN (default build/wafermill, then PATH), MPIRUN (default mpirun).
# Exit code: that of `wafermill study` (0 ok, 1 regression, 2 bad input); 2 for bad options here.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
die() { printf 'study.sh: %s\n' "$*" >&2; exit 2; }

# ini_get FILE SECTION KEY: the value of KEY in [SECTION], empty when absent.
ini_get() {
  awk -v section="$2" -v key="$3" '
    /^[ \t]*[#;]/ { next }
    /^[ \t]*\[/ { gsub(/[][ \t]/, ""); in_section = ($0 == section); next }
    in_section {
      eq = index($0, "="); if (!eq) next
      k = substr($0, 1, eq - 1); v = substr($0, eq + 1)
      gsub(/^[ \t]+|[ \t]+$/, "", k); gsub(/^[ \t]+|[ \t]+$/, "", v)
      if (k == key) { print v; exit }
    }' "$1"
}

# ini_get_all FILE SECTION KEY: every value of KEY in [SECTION], one per line.
ini_get_all() {
  awk -v section="$2" -v key="$3" '
    /^[ \t]*[#;]/ { next }
    /^[ \t]*\[/ { gsub(/[][ \t]/, ""); in_section = ($0 == section); next }
    in_section {
      eq = index($0, "="); if (!eq) next
      k = substr($0, 1, eq - 1); v = substr($0, eq + 1)
      gsub(/^[ \t]+|[ \t]+$/, "", k); gsub(/^[ \t]+|[ \t]+$/, "", v)
      if (k == key && v != "") print v
    }' "$1"
}

declare -A opt=()
inputs=()  # every --input, in order
while (($#)); do
  case "$1" in
    --input)
      (($# >= 2)) || die "$1 needs a value"
      inputs+=("$2"); shift 2 ;;
    --ranks | --repetitions | --policies | --warmup | --out | --kind | --baseline-study | --tolerances | --drift-reports)
      (($# >= 2)) || die "$1 needs a value"
      opt[${1#--}]=$2; shift 2 ;;
    -h | --help) sed -n '2,24p' "$0"; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) break ;;
  esac
done
(($# <= 1)) || die "usage: study.sh [options] [JOB.ini]"
config=${1:-$root/jobs/study.ini}
[[ -r $config ]] || die "cannot read the job configuration '$config'"
setting() {  # setting KEY DEFAULT: command line, then [study], then the default
  local v=${opt[$1]:-}
  [[ -n $v ]] || v=$(ini_get "$config" study "$1")
  printf '%s' "${v:-$2}"
}

# The INI's inputs: every `input =` line of [study], when the command line gave none.
if ((${#inputs[@]} == 0)); then
  while IFS= read -r line; do [[ -n $line ]] && inputs+=("$line"); done < <(ini_get_all "$config" study input)
fi
ranks=$(setting ranks "1 2 4")
repetitions=$(setting repetitions 3)
policies=$(setting policies "static weighted dynamic")
warmup=$(setting warmup 1)
out=$(setting output-dir out/study)
[[ -n ${opt[out]:-} ]] && out=${opt[out]}
kind=$(setting kind auto)
reference=$(setting baseline-study "")
tolerances=$(setting tolerances "")
drift_reports=$(setting drift-reports "")
read -r -a mpirun_args <<<"$(setting mpirun-args --oversubscribe)"

((${#inputs[@]} > 0)) || die "no input: set input in [study] of $config or pass --input"
[[ $repetitions =~ ^[1-9][0-9]*$ ]] || die "repetitions '$repetitions' is not a positive count"
[[ $warmup =~ ^[0-9]+$ ]] || die "warmup '$warmup' is not a count"
for p in $ranks; do [[ $p =~ ^[1-9][0-9]*$ ]] || die "ranks: '$p' is not a rank count"; done
# The single-rank baseline first, then ascending P.
ranks=$(printf '%s\n' 1 $ranks | sort -n -u | tr '\n' ' ')
# inputs_for P: the inputs with {P} replaced, into the array `for_p`.
inputs_for() { for_p=(); local i; for i in "${inputs[@]}"; do for_p+=("${i//\{P\}/$1}"); done; }
# A file, directory or manifest must be readable, a pattern must match (wafermill says the rest).
for p in $ranks; do
  inputs_for "$p"
  for i in "${for_p[@]}"; do
    target=${i#@}
    if [[ $i != @* && ! -e $i && $i == *[\*\?\[]* ]]; then
      compgen -G "$i" > /dev/null || die "input pattern '$i' matches no file (P=$p)"
    else
      [[ -r $target ]] || die "cannot read input '$target' (P=$p)"
    fi
  done
done
[[ -z $drift_reports || -d $drift_reports ]] || die "--drift-reports '$drift_reports' is not a directory"

bin=${WAFERMILL_BIN:-}
[[ -z $bin && -x $root/build/wafermill ]] && bin=$root/build/wafermill
[[ -z $bin ]] && bin=$(command -v wafermill || true)
[[ -n $bin && -x $bin ]] || die "no wafermill executable: build it (scripts/build.sh) or set WAFERMILL_BIN"
mpirun=${MPIRUN:-mpirun}
[[ $(id -u) -eq 0 ]] && mpirun_args+=(--allow-run-as-root)

mkdir -p "$out/reports"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/wafermill-study.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

run() {  # run P POLICY REPORT: one job; the features file is scratch
  inputs_for "$1"
  "$mpirun" -np "$1" "${mpirun_args[@]}" "$bin" run --config "$config" --input "${for_p[@]}" \
    --output "$scratch/features.h5" --force --quiet --baseline none --policy "$2" --report "$3"
}

for ((i = 0; i < warmup; i++)); do
  printf 'study.sh: warm-up run %d\n' "$((i + 1))"
  run 1 "${policies%% *}" "$scratch/warmup.json"
done
for p in $ranks; do
  for ((rep = 1; rep <= repetitions; rep++)); do
    for policy in $policies; do
      report=$out/reports/$policy-P$p-r$rep.json
      start=$EPOCHREALTIME
      run "$p" "$policy" "$report"
      printf 'study.sh: P=%d %-8s repetition %d: %s s -> %s\n' "$p" "$policy" "$rep" \
        "$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')" "$report"
    done
  done
done

args=(study --output-dir "$out/study" --kind "$kind")
[[ -n $reference ]] && args+=(--baseline-study "$reference")
[[ -n $tolerances ]] && args+=(--tolerances "$tolerances")
set +e
"$bin" "${args[@]}" "$out/reports" ${drift_reports:+"$drift_reports"}
code=$?
set -e
printf 'study.sh: study in %s/study (study.md, study.html, study.json), exit %d\n' "$out" "$code"
exit "$code"
