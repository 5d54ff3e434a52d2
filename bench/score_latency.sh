#!/usr/bin/env bash
# `wafermill score` latency for lots of 25 wafers (docs/MONITORING.md "Measured: score").
# A night of 2000 generated wafers (80 lots of 25); the model is fitted on lots 0-39; each of
# lots 40-79 is scored by its own `score` process with a report; score_latency.py then gives
# p50/p95/p99 per wafer (over every wafer), per lot and of the start-up (over the lots).
# Usage: bench/score_latency.sh BUILD_DIR WORK_DIR [SENSORS]
set -euo pipefail
build=${1:?BUILD_DIR}
work=${2:?WORK_DIR}
sensors=${3:-6}
wm="$build/wafermill"
mkdir -p "$work"
"$wm" generate --output "$work/night.h5" --force --wafers 2000 --sensors "$sensors" --steps 2 \
  --mean-length 60 --anomaly-fraction 0.05 --seed 31 > /dev/null
mpirun -n 2 "$wm" fit --input "$work/night.h5" --output "$work/model.h5" --force \
  --select 'index < 1000 and label == 0' --false-alarm-rate 0.05 --quiet
for lot in $(seq 40 79); do
  "$wm" score --model "$work/model.h5" --input "$work/night.h5" --select "lot_id == $lot" \
    --report "$work/lot_$lot.json" --force --quiet
done
/usr/bin/python3 "$(dirname "$0")/score_latency.py" "$work"/lot_*.json
