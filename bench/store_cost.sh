#!/usr/bin/env bash
# The result store's price (issue 18 item 6): the report's wall of `wafermill run` at P = 1 with
# the default store and with `--store none`, runs interleaved, page cache warm, median of N.
# usage: bench/store_cost.sh INPUT [N=3] [BIN=build/wafermill ...]
# Prints per binary: the median wall with the store, without, and the difference; the same for
# the CPU seconds (user + system) of the whole `mpirun`, which a busy shared machine disturbs
# less than the wall.
set -euo pipefail
input=$1
n=${2:-3}
shift $(($# < 2 ? $# : 2))
bins=("$@")
((${#bins[@]})) || bins=(build/wafermill)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat "$input" >/dev/null  # warm the page cache
wall() {  # wall BIN [run options]: the report's parallel.wall_s, then the CPU seconds
  local bin=$1
  shift
  rm -rf "$work/o.h5" "$work/o.h5.wmstore"
  /usr/bin/time -o "$work/time" -f "%U %S" mpirun -np 1 --allow-run-as-root "$bin" run \
    --input "$input" --output "$work/o.h5" --report "$work/r.json" --baseline none --force \
    --quiet "$@"
  /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["parallel"]["wall_s"])' \
    "$work/r.json"
  awk '{print $1 + $2}' "$work/time"
}
declare -A with without cpu_with cpu_without
for ((i = 0; i < n; ++i)); do
  for b in "${bins[@]}"; do
    read -r -d '' w c < <(wall "$b") || true
    with[$b]+="$w "
    cpu_with[$b]+="$c "
    read -r -d '' w c < <(wall "$b" --store none) || true
    without[$b]+="$w "
    cpu_without[$b]+="$c "
  done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END{print (NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2}'; }
for b in "${bins[@]}"; do
  s=$(echo "${with[$b]}" | median)
  o=$(echo "${without[$b]}" | median)
  awk -v b="$b" -v s="$s" -v o="$o" -v ws="${with[$b]}" -v wo="${without[$b]}" 'BEGIN{
    printf "%s: store %.3f s, --store none %.3f s, cost %.3f s (%.1f %%)\n  store runs: %s\n  none runs:  %s\n",
      b, s, o, s - o, 100 * (s - o) / o, ws, wo}'
  s=$(echo "${cpu_with[$b]}" | median)
  o=$(echo "${cpu_without[$b]}" | median)
  awk -v s="$s" -v o="$o" -v ws="${cpu_with[$b]}" -v wo="${cpu_without[$b]}" 'BEGIN{
    printf "  CPU: store %.3f s, --store none %.3f s, cost %.3f s (%.1f %%)\n  store CPU: %s\n  none CPU:  %s\n",
      s, o, s - o, 100 * (s - o) / o, ws, wo}'
done
