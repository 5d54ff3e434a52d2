#!/usr/bin/env bash
# False alarms of drift on groups of lots (docs/MONITORING.md "Drift", "Too few wafers"): on the
# clean nights 1-10 of bench/drift_nights.sh's clean0/ and clean2/, `score` each group of L
# consecutive lots (40 lots a night) against night 0's model and count the groups that name any
# column. Run bench/drift_nights.sh BUILD_DIR WORK_DIR first. Groups under 20 lots (500 wafers,
# model::kMinDriftWafers) are "not assessed" and count as quiet.
# Usage: bench/drift_lots.sh BUILD_DIR WORK_DIR [L...]   (default L: 20 40)
set -euo pipefail
wm="${1:?BUILD_DIR}/wafermill"
work=${2:?WORK_DIR}
shift 2
sizes=("${@:-20 40}")
for fleet in clean0 clean2; do
  for size in ${sizes[@]}; do
    alarms=0 n=0
    for k in $(seq 1 10); do
      for g in $(seq 0 "$size" 39); do
        lo=$((k * 40 + g)) hi=$((k * 40 + g + size - 1))
        out=$("$wm" score --model "$work/$fleet/model.h5" --input "$work/$fleet/n$k.h5" \
          --select "lot_id >= $lo and lot_id <= $hi" 2>&1 | tail -1)
        n=$((n + 1))
        grep -q "none of\|not assessed" <<<"$out" || alarms=$((alarms + 1))
      done
    done
    echo "$fleet, groups of $size lots: $alarms of $n name a column"
  done
done
