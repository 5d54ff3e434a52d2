#!/usr/bin/env bash
# The cluster tests (ctest label "cluster"): `check.sh CASE [ARGS]`, one case per ctest test.
#
# Environment, set by tests/e2e/cluster/CMakeLists.txt:
#   REPO       source tree (scripts/cluster, slurm/, jobs/)
#   WORK       this test's own scratch directory (emptied first)
#   SHARED     scratch shared by the tests of one ctest run (logs, the generated input)
#   MPI_HOSTS  the tests' MPI program (mpi_hosts.c)
#   WAFERMILL  the wafermill executable
# Each case prints what it checks and exits non-zero with the reason when a check fails.
set -uo pipefail

: "${REPO:?}" "${WORK:?}" "${SHARED:?}"
case_name=${1:?usage: check.sh CASE [ARGS]}
shift
rm -rf "$WORK" && mkdir -p "$WORK" "$SHARED" || exit 1
cd "$WORK" || exit 1

# Runs as root here (CI does); Open MPI's mpirun refuses root unless told.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cluster=$REPO/scripts/cluster
# shellcheck source=../../../scripts/cluster/common.sh
source "$cluster/common.sh"

# True while a process runs (a zombie has ended; only its parent has not reaped it yet).
running() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }   # the state follows "(comm) ", and comm may hold spaces
  [[ ${stat%% *} != Z ]]
}
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
note() { printf -- '-- %s\n' "$*"; }
on_head() { "$cluster/on.sh" head "$@"; }

# The state of the machine that bring-up changes and teardown must restore. Other clusters
# (another build tree's tests) may come and go meanwhile: only our own names count.
machine_state() {
  local ours others
  ours=$(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${WAFERMILL_CLUSTER_NETNS_PREFIX}" | sort | tr '\n' ' ')
  others=$(ip netns list 2>/dev/null | awk '{print $1}' | grep -vcE "^${WAFERMILL_CLUSTER_NETNS_PREFIX}")
  printf 'our netns: %s\n' "$ours"
  if ((others == 0)); then
    printf '/run/netns: %s\n' "$( [[ -d /run/netns ]] && echo present || echo absent)"
  fi
  printf 'links: %s\n' "$(ip -o link show | awk -F': ' '{print $2}' | sort | tr '\n' ' ')"
  printf 'addresses: %s\n' "$(ip -o addr show | awk '{print $2, $4}' | sort | tr '\n' ' ')"
  printf 'our daemons: %s\n' "$(our_daemons | wc -l)"
  printf 'cluster dir: %s\n' "$( [[ -e $CLUSTER_DIR ]] && echo present || echo absent)"
}

# munged/slurm processes running from this cluster's directory (zombies have ended already).
our_daemons() {
  local f pid args
  for f in /proc/[0-9]*/comm; do
    pid=${f#/proc/}; pid=${pid%/comm}
    case "$(cat "$f" 2>/dev/null)" in munged | slurmd | slurmctld | slurmstepd) ;; *) continue ;; esac
    running "$pid" || continue
    mapfile -d '' args <"/proc/$pid/cmdline" 2>/dev/null || continue
    [[ " ${args[*]} " == *"$CLUSTER_DIR/"* ]] && echo "$pid"
  done
  return 0
}

# Submits a batch job and waits for it; prints its output. Usage: submit OUT [sbatch args...]
submit() {
  local out=$1 rc
  shift
  on_head sbatch --wait --output="$out" "$@"
  rc=$?
  note "job output ($out):"
  cat "$out" 2>/dev/null
  return "$rc"
}

# Checks mpi_hosts output: RANKS rank lines on exactly HOSTS distinct cluster hosts, allreduce ok.
expect_hosts() {
  local out=$1 ranks=$2 hosts=$3 got_ranks got_hosts
  got_ranks=$(grep -c '^rank [0-9]* of ' "$out")
  got_hosts=$(sed -n 's/^rank [0-9]* of [0-9]* on \(.*\)$/\1/p' "$out" | sort -u | tr '\n' ' ')
  ((got_ranks == ranks)) || fail "expected $ranks ranks, got $got_ranks"
  (($(wc -w <<<"$got_hosts") == hosts)) || fail "expected ranks on $hosts different hosts, got: $got_hosts"
  for h in $got_hosts; do
    [[ $h =~ ^node[0-9]+$ ]] || fail "rank on host '$h', which is not a cluster node: did it leave the namespaces?"
  done
  grep -q '^allreduce: ok' "$out" || fail "MPI_Allreduce across the hosts gave a wrong result"
  grep -q "^hosts: $hosts\$" "$out" || fail "ranks disagree on the number of hosts"
  note "ok: $ranks ranks on hosts $got_hosts; the allreduce across them is right"
}

# Bytes a node's veth (on the head's bridge) has carried, both directions.
link_bytes() {
  ip -n "$(cluster_netns head)" -s -j link show "v$1" |
    python3 -c 'import json,sys; s=json.load(sys.stdin)[0]["stats64"]; print(s["rx"]["bytes"] + s["tx"]["bytes"])'
}

# Checks a wafermill report: RANKS ranks on HOSTS distinct cluster hosts.
expect_report() {
  local report=$1 ranks=$2 hosts=$3
  [[ -s $report ]] || fail "no report at $report"
  python3 - "$report" "$ranks" "$hosts" <<'EOF' || fail "report $report does not show the expected ranks/hosts"
import json, re, sys
report, ranks, hosts = json.load(open(sys.argv[1])), int(sys.argv[2]), int(sys.argv[3])
per_rank = report["per_rank"]
names = sorted({r["host"] for r in per_rank})
print(f"report: ranks={report['ranks']} per_rank={len(per_rank)} hosts={names}")
assert report["ranks"] == ranks, f"ranks {report['ranks']} != {ranks}"
assert sorted(r["rank"] for r in per_rank) == list(range(ranks)), "per_rank does not list every rank once"
assert len(names) == hosts, f"{len(names)} hosts, expected {hosts}"
assert all(re.fullmatch(r"node[0-9]+", h) for h in names), f"hosts outside the cluster: {names}"
EOF
}

case "$case_name" in
  up)
    [[ $EUID -eq 0 ]] || fail "the cluster tests need root (network namespaces, slurmd, munged); running as uid $EUID"
    # A cluster left over from an interrupted run is not part of the machine's own state.
    "$cluster/down.sh" --quiet || fail "could not remove a leftover cluster"
    machine_state >"$SHARED/machine-before.txt"
    "$cluster/up.sh" || fail "bring-up failed (its messages above say why)"
    on_head sinfo -N || fail "sinfo failed"
    on_head srun --mpi=list || fail "srun --mpi=list failed"
    on_head srun --mpi=list 2>&1 | grep -q pmix || fail "srun --mpi=list shows no pmix"
    ;;

  down)
    "$cluster/down.sh" --keep-logs "$SHARED/cluster-logs" || fail "teardown left something behind (see above)"
    machine_state >"$WORK/machine-after.txt"
    if [[ -r $SHARED/machine-before.txt ]]; then
      diff -u "$SHARED/machine-before.txt" "$WORK/machine-after.txt" \
        || fail "the machine differs from before bring-up (diff above)"
      note "ok: machine state after teardown equals the state before bring-up"
    fi
    ;;

  srun-pmix)
    # Direct launch by Slurm: PMIx wires the ranks up, no mpirun.
    # One retry when a rank crashed while Open MPI started (seen once in ~100 runs here, on a
    # loaded VM: a SIGSEGV at address 0 in MPI_Init, docs/CLUSTER.md); a second failure fails.
    if ! on_head srun --mpi=pmix -N 3 -n 6 "$MPI_HOSTS" >hosts.out 2>srun.err; then
      cat hosts.out srun.err
      grep -q 'Segmentation fault' srun.err || fail "srun --mpi=pmix failed"
      note "retrying once after a rank crashed in Open MPI's start-up (see above)"
      on_head srun --mpi=pmix -N 3 -n 6 "$MPI_HOSTS" | tee hosts.out || fail "srun --mpi=pmix failed twice"
    else
      cat hosts.out
    fi
    expect_hosts hosts.out 6 3
    ;;

  sbatch-hosts)
    # slurm/run.sbatch itself, with mpi_hosts standing in for wafermill: LAUNCHER NODES.
    # One retry when a rank crashed in Open MPI's start-up, as for srun-pmix (seen again on
    # 2026-12-07 in a clean-clone CI run on a loaded VM: SIGSEGV at address 0, then a refused
    # TCP connect, docs/CLUSTER.md); a second failure fails.
    launcher=$1 nodes=$2
    printf 'policy=static\n' >job.ini
    if ! WAFERMILL_BIN=$MPI_HOSTS WAFERMILL_LAUNCHER=$launcher \
      submit job.out -N "$nodes" --ntasks-per-node=2 "$REPO/slurm/run.sbatch" job.ini; then
      grep -q 'Segmentation fault' job.out || fail "sbatch -N $nodes slurm/run.sbatch ($launcher) failed"
      note "retrying once after a rank crashed in Open MPI's start-up (see above)"
      # Slurm appends to an existing --output file: the retry's ranks are counted alone.
      mv job.out job.attempt1.out
      WAFERMILL_BIN=$MPI_HOSTS WAFERMILL_LAUNCHER=$launcher \
        submit job.out -N "$nodes" --ntasks-per-node=2 "$REPO/slurm/run.sbatch" job.ini \
        || fail "sbatch -N $nodes slurm/run.sbatch ($launcher) failed twice"
    fi
    grep -q "^run.sbatch: $launcher " job.out || fail "the step was not started with $launcher"
    expect_hosts job.out $((2 * nodes)) "$nodes"
    ;;

  mpirun-agent)
    # Plain mpirun across the namespace hosts, without Slurm, launched through nsrsh. The payload
    # must show up on every node's link: Open MPI's TCP transport really crosses the namespaces.
    payload=$((8 << 20))
    declare -A before
    for n in node1 node2 node3; do before[$n]=$(link_bytes "$n") || fail "cannot read link counters"; done
    on_head mpirun --mca plm_rsh_agent "$cluster/nsrsh" --host node1:2,node2:2,node3:2 -np 6 \
      "$MPI_HOSTS" --bytes "$payload" | tee hosts.out || fail "mpirun --host with the nsrsh agent failed"
    expect_hosts hosts.out 6 3
    for n in node1 node2 node3; do
      carried=$(($(link_bytes "$n") - before[$n]))
      note "link of $n carried $carried bytes (payload per rank: $payload)"
      ((carried >= payload)) || fail "$n's link carried only $carried bytes: the ranks did not talk over TCP between namespaces"
    done
    ;;

  usr1-requeue)
    # The time-limit warning as Slurm sends it (`--signal=B:USR1`: to the batch shell only):
    # run.sbatch must forward it to every task of the step, then requeue the job.
    # One retry of the whole case when Slurm itself marked the requeued job FAILED before its
    # batch script ran (seen once on a loaded 2-core VM: the first attempt had stopped correctly
    # on all three nodes; a race of the one-machine cluster's requeue, not of run.sbatch).
    export PROBE_DIR=$WORK
    printf 'policy=static\n' >job.ini
    usr1_attempt() {
      rm -f started.log usr1.log resumed.log job.out
      id=$(WAFERMILL_BIN=$REPO/tests/e2e/cluster/usr1_probe.sh WAFERMILL_MAX_REQUEUES=1 \
        on_head sbatch --parsable -N 3 --ntasks-per-node=1 --output="$WORK/job.out" \
        "$REPO/slurm/run.sbatch" job.ini) || fail "sbatch failed"
      note "job $id"
      for ((i = 0; i < 100; i++)); do
        (($(cat started.log 2>/dev/null | wc -l) >= 3)) && break
        sleep 0.2
      done
      (($(cat started.log 2>/dev/null | wc -l) >= 3)) || { cat job.out; fail "the three tasks did not start within 20 s"; }
      on_head scancel --batch --signal=USR1 "$id" || fail "scancel --batch --signal=USR1 failed"
      for ((i = 0; i < 60; i++)); do
        grep -q 'Restarts=1' <(on_head scontrol show job "$id") && break
        sleep 0.5
      done
      cat job.out
      note "tasks that received USR1:"; cat usr1.log 2>/dev/null
      (($(grep -c ': USR1$' usr1.log 2>/dev/null) == 3)) || fail "USR1 did not reach all 3 tasks"
      grep -q 'requeueing job' job.out || fail "run.sbatch did not requeue the job"
      # Slurm holds a requeued job back for 2 minutes (BeginTime); release it as soon as the first
      # attempt's step daemons have finished cleaning up: the new step reuses the id "$id.0", and
      # Slurm's PMIx plugin cannot bind its socket while the old one still exists.
      for ((i = 0; i < 60; i++)); do
        compgen -G "$CLUSTER_DIR/nodes/*/spool/stepd.slurm.pmix.$id.*" >/dev/null || break
        sleep 0.5
      done
      on_head scontrol update JobId="$id" StartTime=now || fail "scontrol update StartTime=now failed"
      for ((i = 0; i < 120; i++)); do
        state=$(on_head squeue -h -j "$id" -o %T 2>/dev/null)
        [[ -z $state || $state == COMPLETED ]] && break
        sleep 0.5
      done
      on_head scontrol show job "$id" | grep -E 'JobState|Restarts|ExitCode'
      if ! on_head scontrol show job "$id" | grep -q 'JobState=COMPLETED'; then
        # Retried only when the second attempt never started: its batch script printed nothing.
        (($(cat resumed.log 2>/dev/null | wc -l) == 0)) || fail "the requeued job did not complete"
        return 1
      fi
      (($(cat resumed.log 2>/dev/null | wc -l) == 3)) || fail "the second attempt did not run on all 3 tasks"
    }
    if ! usr1_attempt; then
      note "retrying once: Slurm ended the requeued job before its second attempt started"
      usr1_attempt || fail "the requeued job did not complete, twice"
    fi
    note "ok: USR1 forwarded to 3 tasks on 3 nodes, job requeued and completed on its second attempt"
    ;;

  half-failed)
    # A bring-up that fails half-way (an invalid subnet: after munged and the head's namespace
    # exist) and is kept, then down.sh alone must remove all of it. Its own names and directory,
    # so the cluster of the other tests is not touched.
    export WAFERMILL_CLUSTER_DIR=$CLUSTER_DIR-halftest WAFERMILL_CLUSTER_NETNS_PREFIX=${WAFERMILL_CLUSTER_NETNS_PREFIX%-}t-
    export WAFERMILL_CLUSTER_NODES=2 WAFERMILL_CLUSTER_SUBNET=10.77.300 WAFERMILL_CLUSTER_KEEP_ON_FAILURE=1
    source "$cluster/common.sh"
    if "$cluster/up.sh"; then "$cluster/down.sh"; fail "bring-up with subnet 10.77.300 succeeded"; fi
    ip netns list | grep -q "^${WAFERMILL_CLUSTER_NETNS_PREFIX}head" || fail "the failed bring-up made no namespace; the test needs a half-made cluster"
    munged_pid=$(<"$WAFERMILL_CLUSTER_DIR/munge/munged.pid") || fail "the failed bring-up started no munged"
    running "$munged_pid" || fail "munged of the half-made cluster is not running"
    note "half-made cluster: namespaces $(ip netns list | awk '{print $1}' | grep "^$WAFERMILL_CLUSTER_NETNS_PREFIX" | tr '\n' ' '), munged pid $munged_pid"
    "$cluster/down.sh" || fail "down.sh failed on a half-made cluster"
    ip netns list | grep -q "^$WAFERMILL_CLUSTER_NETNS_PREFIX" && fail "namespaces left: $(ip netns list | grep "^$WAFERMILL_CLUSTER_NETNS_PREFIX")"
    running "$munged_pid" && fail "munged (pid $munged_pid) still runs"
    [[ -e $WAFERMILL_CLUSTER_DIR ]] && fail "$WAFERMILL_CLUSTER_DIR still exists"
    note "ok: down.sh removed the half-made cluster"
    ;;

  generate)
    # A small input shared by the wafermill cases.
    "$WAFERMILL" generate --output "$SHARED/input.h5" --wafers 60 --sensors 3 --steps 4 \
      --mean-length 200 --length-sigma 0.3 --seed 11 --force || fail "wafermill generate failed"
    [[ -s $SHARED/input.h5 ]] || fail "wafermill generate wrote no file"
    ;;

  wafermill)
    # The real job through slurm/run.sbatch: LAUNCHER NODES.
    launcher=$1 nodes=$2
    WAFERMILL_BIN=$WAFERMILL WAFERMILL_LAUNCHER=$launcher \
      submit job.out -N "$nodes" --ntasks-per-node=2 "$REPO/slurm/run.sbatch" "$REPO/jobs/cluster.ini" \
      --input "$SHARED/input.h5" --output "$WORK/features.h5" --report "$WORK/report.json" --force \
      || fail "sbatch -N $nodes slurm/run.sbatch jobs/cluster.ini ($launcher) failed"
    [[ -s $WORK/features.h5 ]] || fail "no output file"
    expect_report "$WORK/report.json" $((2 * nodes)) "$nodes"
    ;;

  study)
    # slurm/study.sh end to end: runs on 1, 2 and 3 nodes, then the dependent study job.
    WAFERMILL_BIN=$WAFERMILL on_head "$REPO/slurm/study.sh" --nodes "1 2 3" --sequential \
      --ntasks-per-node 2 --out "$WORK/study" --wait "$REPO/jobs/cluster.ini" -- --input "$SHARED/input.h5"
    rc=$?
    for f in "$WORK"/study/*.out; do note "$f:"; cat "$f"; done
    ((rc == 0)) || fail "slurm/study.sh failed (exit $rc)"
    for n in 1 2 3; do expect_report "$WORK/study/report-N$n.json" $((2 * n)) "$n"; done
    ls "$WORK"/study/study/*.md >/dev/null 2>&1 || fail "the study wrote no Markdown in $WORK/study/study"
    ls "$WORK"/study/study/*.html >/dev/null 2>&1 || fail "the study wrote no HTML in $WORK/study/study"
    note "ok: study written: $(ls "$WORK"/study/study | tr '\n' ' ')"
    ;;

  *) fail "unknown case '$case_name'" ;;
esac
