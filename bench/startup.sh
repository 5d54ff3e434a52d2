#!/usr/bin/env bash
# Start-up (issue 18 item 4): the whole process's wall (`mpirun -np P wafermill run`) against the
# report's wall on a small input, so that the difference is what lies outside the job's timer
# (launch, MPI_Init, the input check, teardown). Runs interleaved over the binaries given.
# usage: bench/startup.sh INPUT [N=5] [P=1] [BIN=build/wafermill ...]
set -euo pipefail
input=$1
n=${2:-5}
p=${3:-1}
shift $(($# < 3 ? $# : 3))
bins=("$@")
((${#bins[@]})) || bins=(build/wafermill)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat "$input" >/dev/null
declare -A outside
for ((i = 0; i < n; ++i)); do
  for b in "${bins[@]}"; do
    rm -rf "$work/o.h5" "$work/o.h5.wmstore"
    t0=$(date +%s.%N)
    mpirun -np "$p" --allow-run-as-root --oversubscribe "$b" run --input "$input" \
      --output "$work/o.h5" --report "$work/r.json" --baseline none --force --quiet
    t1=$(date +%s.%N)
    w=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["parallel"]["wall_s"])' "$work/r.json")
    outside[$b]+="$(awk -v a="$t0" -v b="$t1" -v w="$w" 'BEGIN{printf "%.3f", b - a - w}') "
  done
done
for b in "${bins[@]}"; do
  echo "$b: outside the job's timer (process wall - report wall), s: ${outside[$b]}"
  echo "${outside[$b]}" | tr ' ' '\n' | grep . | sort -g |
    awk '{v[NR]=$1} END{printf "  median %.3f s over %d runs\n", (NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2, NR}'
done
