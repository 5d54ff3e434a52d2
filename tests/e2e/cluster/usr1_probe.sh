#!/bin/bash
# Stand-in for the wafermill binary in the signal test of slurm/run.sbatch (it is called as
# `usr1_probe.sh run --config FILE ...`). First attempt: record that the task started, wait for
# USR1, record that it arrived, wait until every task of the step has recorded it (wafermill's
# ranks agree on a stop before any of them exits; a task that exited 3 at once would make
# `srun --kill-on-bad-exit` terminate a task whose USR1 was still on its way) and exit 3, like a
# run stopped before it finished. After a requeue (SLURM_RESTART_COUNT >= 1): record the restart
# and exit 0.
# Writes to the directory named by PROBE_DIR.
set -u
rank=${SLURM_PROCID:-${OMPI_COMM_WORLD_RANK:-x}}
host=$(hostname)
attempt=$((${SLURM_RESTART_COUNT:-0} + 1))
if ((attempt > 1)); then
  echo "rank $rank on $host attempt $attempt: resumed" >>"$PROBE_DIR/resumed.log"
  exit 0
fi
tasks=${SLURM_NTASKS:-1}
on_usr1() {
  echo "rank $rank on $host: USR1" >>"$PROBE_DIR/usr1.log"
  for ((j = 0; j < 100; j++)); do
    (($(grep -c ': USR1$' "$PROBE_DIR/usr1.log" 2>/dev/null) >= tasks)) && break
    sleep 0.1
  done
  exit 3
}
trap on_usr1 USR1
echo "rank $rank on $host" >>"$PROBE_DIR/started.log"
# Sleep in the background so bash runs the trap as soon as the signal arrives.
for ((i = 0; i < 600; i++)); do sleep 0.1 & wait $!; done
echo "rank $rank on $host: no USR1 within 60 s" >>"$PROBE_DIR/usr1.log"
exit 4
