#!/usr/bin/env bash
# What `score --update` does to the false-alarm rate (docs/MONITORING.md "score"): a model of night
# 0 (1000 good generated wafers), updated lot by lot with night 1's 40 lots, and the original
# model, both scoring clean night 2; for a fleet without drift and one whose esc_temperature_c
# drifts. Prints each model's flags on night 2 and its T² and SPE limits.
# Usage: bench/update_limits.sh BUILD_DIR WORK_DIR
set -euo pipefail
wm="${1:?BUILD_DIR}/wafermill"
d=${2:?WORK_DIR}
mpi=(mpirun -n 2)
[[ $(id -u) == 0 ]] && mpi+=(--allow-run-as-root)
rm -rf "$d"; mkdir -p "$d"
g=(--wafers 1000 --sensors 6 --steps 2 --mean-length 60 --anomaly-fraction 0 --seed 9)
for fleet in drift0 planted; do
  opts=(--drift 0)
  [[ $fleet == planted ]] && opts=(--drift 0.0002 --drift-sensor esc_temperature_c)
  for k in 0 1 2; do "$wm" generate -o "$d/${fleet}_n$k.h5" "${g[@]}" "${opts[@]}" --night "$k" > /dev/null; done
  "${mpi[@]}" "$wm" fit --input "$d/${fleet}_n0.h5" --output "$d/${fleet}_m.h5" --false-alarm-rate 0.05 --scoring full --quiet
  cp "$d/${fleet}_m.h5" "$d/${fleet}_u.h5"
  for lot in $(seq 40 79); do
    "$wm" score --model "$d/${fleet}_u.h5" --input "$d/${fleet}_n1.h5" --select "lot_id == $lot" --update --quiet > /dev/null
  done
  for m in m u; do
    echo "$fleet, $([[ $m == m ]] && echo fitted || echo updated) model, night 2: $("$wm" score --model "$d/${fleet}_$m.h5" --input "$d/${fleet}_n2.h5" | head -1)"
    /usr/bin/python3 -c "import h5py, sys; f = h5py.File(sys.argv[1]); print('  limits: T2', f['t2_limit'][()], 'SPE', f['spe_limit'][()])" "$d/${fleet}_$m.h5"
  done
done
