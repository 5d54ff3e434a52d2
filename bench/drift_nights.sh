#!/usr/bin/env bash
# Drift night over night on generated nights (docs/MONITORING.md "Planted drift, night over night").
# planted/: nights 0..NIGHTS of one fleet with a slow drift of esc_temperature_c (0.0002 sensor
#   sigmas a wafer from wafer 0 on, no maintenance reset) and a step of 0.5 sigma of
#   rf_forward_power_w from night 3 on; the model is fitted on night 0, every later night is run
#   with --model, and `wafermill study` shows the nights side by side (planted/study/).
# clean0/, clean2/: a fleet without planted changes (--drift 0, and the generator's default
#   per-tool sawtooth --drift 0.002): model of night 0, nights 1..CLEAN run with the default
#   PSI floor (0.25) and with the floor off (--drift-threshold 1e-6: the chi-square rule alone).
# drift_nights.py prints the sensors named per night and the clean nights that named any column.
# Usage: bench/drift_nights.sh BUILD_DIR WORK_DIR [NIGHTS=5] [CLEAN=10]
set -euo pipefail
build=${1:?BUILD_DIR}
work=${2:?WORK_DIR}
nights=${3:-5}
clean=${4:-10}
wm="$build/wafermill"
mpi=(mpirun -n 2)
[[ $(id -u) == 0 ]] && mpi+=(--allow-run-as-root)
common=(--wafers 1000 --sensors 6 --steps 2 --mean-length 60 --anomaly-fraction 0 --seed 5 --force)
night() {  # night DIR K FLOOR TAG: run night K of DIR against DIR/model.h5
  "${mpi[@]}" "$wm" run --input "$1/n$2.h5" --output "$1/out.h5" --force --model "$1/model.h5" \
    --baseline none --store none --quiet --drift-threshold "$3" --report "$1/reports$4/night_$(printf %02d "$2").json"
}
series() {  # series DIR LAST FLOORS... -- GENERATOR OPTIONS
  local dir=$1 last=$2; shift 2
  local floors=()
  while [[ $1 != -- ]]; do floors+=("$1"); shift; done
  shift
  rm -rf "$dir"; mkdir -p "$dir"
  for k in $(seq 0 "$last"); do "$wm" generate -o "$dir/n$k.h5" "${common[@]}" "$@" --night "$k" > /dev/null; done
  "${mpi[@]}" "$wm" fit --input "$dir/n0.h5" --output "$dir/model.h5" --force --select 'label == 0' \
    --false-alarm-rate 0.05 --quiet
  for f in "${floors[@]}"; do
    mkdir -p "$dir/reports_$f"
    for k in $(seq 1 "$last"); do night "$dir" "$k" "$f" "_$f"; done
  done
}
series "$work/planted" "$nights" 0.25 1e-6 -- --drift 0.0002 --drift-sensor esc_temperature_c \
  --step-sensor rf_forward_power_w --step-size 0.5 --step-night 3
"$wm" study --output-dir "$work/planted/study" "$work/planted/reports_0.25" > /dev/null
series "$work/clean0" "$clean" 0.25 1e-6 -- --drift 0
series "$work/clean2" "$clean" 0.25 1e-6 -- --drift 0.002
/usr/bin/python3 "$(dirname "$0")/drift_nights.py" "$work"
