#!/usr/bin/env bash
# Tear down the local cluster made by up.sh and leave the machine as it was: every process in the
# cluster's namespaces (holders, slurmd, slurmctld, job steps) and its munged are ended, the
# namespaces (and with them the bridge and veth pairs) are deleted, the generated configuration,
# state and logs are removed. Works on a half-made cluster too, and does nothing when none is up.
#
#   sudo scripts/cluster/down.sh [--quiet] [--keep-logs DIR]
#
# --keep-logs DIR copies the daemons' logs to DIR first (used by the tests, to show why a run
# failed). Exits non-zero, naming what is left, if anything of the cluster survives.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
source "$here/common.sh"

quiet=0 keep_logs=
while (($#)); do
  case "$1" in
    --quiet) quiet=1 ;;
    --keep-logs) keep_logs=$2; shift ;;
    *) cluster_die "usage: down.sh [--quiet] [--keep-logs DIR]" ;;
  esac
  shift
done
say() { ((quiet)) || cluster_log "$@"; }
[[ $EUID -eq 0 ]] || cluster_die "must run as root (running as uid $EUID)"

# Refuse to remove a directory up.sh did not make: CLUSTER_DIR comes from the environment.
marker=$CLUSTER_DIR/.wafermill-cluster
if [[ -e $CLUSTER_DIR && ! -e $marker ]] && [[ -n $(ls -A "$CLUSTER_DIR" 2>/dev/null) ]]; then
  cluster_die "$CLUSTER_DIR exists but was not made by up.sh (no $marker); not touching it"
fi

if [[ -n $keep_logs && -d $CLUSTER_DIR ]]; then
  mkdir -p "$keep_logs"
  cp -r "$CLUSTER_DIR"/log/. "$keep_logs"/ 2>/dev/null || true
  cp "$CLUSTER_DIR"/munge/munged.log "$keep_logs"/ 2>/dev/null || true
  cp "$CLUSTER_DIR"/etc/slurm.conf "$keep_logs"/ 2>/dev/null || true
fi

our_namespaces() { ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${WAFERMILL_CLUSTER_NETNS_PREFIX}" || true; }

# Processes of the cluster: everything inside its network namespaces, the holders by pid file,
# and any process whose command line names the cluster directory (munged, stray daemons).
our_pids() {
  local ns f pid
  for ns in $(our_namespaces); do ip netns pids "$ns" 2>/dev/null; done
  for f in "$CLUSTER_DIR"/run/*.pid "$CLUSTER_DIR"/munge/munged.pid; do
    [[ -r $f ]] && pid=$(<"$f") && [[ $pid =~ ^[0-9]+$ && -d /proc/$pid ]] || continue
    # A pid file may be stale and its number reused: only a process of ours counts.
    if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qE "sleep|slurm|munged"; then echo "$pid"; fi
  done
  local comm args
  for f in /proc/[0-9]*/comm; do
    pid=${f#/proc/}; pid=${pid%/comm}
    # Only daemons of ours: never a shell or editor that merely mentions the path.
    comm=$(<"$f") 2>/dev/null || continue
    case "$comm" in munged | slurmd | slurmctld | slurmstepd) ;; *) continue ;; esac
    mapfile -d '' args <"/proc/$pid/cmdline" 2>/dev/null || continue
    [[ " ${args[*]} " == *"$CLUSTER_DIR/"* ]] && echo "$pid"
  done
}

pids=$(our_pids | sort -un | tr '\n' ' ')
if [[ -n ${pids// /} ]]; then
  say "stopping processes: $pids"
  # shellcheck disable=SC2086
  kill -TERM $pids 2>/dev/null
  for ((i = 0; i < 50; i++)); do
    left=$(our_pids | sort -un | tr '\n' ' ')
    [[ -z ${left// /} ]] && break
    sleep 0.1
  done
  left=$(our_pids | sort -un | tr '\n' ' ')
  if [[ -n ${left// /} ]]; then
    say "killing processes that ignored SIGTERM: $left"
    # shellcheck disable=SC2086
    kill -KILL $left 2>/dev/null
    sleep 0.5
  fi
fi

for ns in $(our_namespaces); do
  say "deleting network namespace $ns"
  ip netns del "$ns" || cluster_log "could not delete network namespace $ns"
done

if [[ -e $CLUSTER_DIR ]]; then
  say "removing $CLUSTER_DIR"
  rm -rf -- "$CLUSTER_DIR"
fi

# up.sh made /run/netns: `ip netns add` turned it into a shared bind mount; undo both once empty.
if [[ -e $CLUSTER_NETNS_MARKER && -d /run/netns && -z $(ls -A /run/netns) ]]; then
  while mountpoint -q /run/netns; do umount /run/netns || break; done
  rmdir /run/netns 2>/dev/null
  rm -f "$CLUSTER_NETNS_MARKER"
elif [[ -e $CLUSTER_NETNS_MARKER && ! -d /run/netns ]]; then
  rm -f "$CLUSTER_NETNS_MARKER"
fi

# Check that nothing is left.
problems=()
left=$(our_pids | sort -un | tr '\n' ' ')
[[ -n ${left// /} ]] && problems+=("processes still running: $left")
left_ns=$(our_namespaces | tr '\n' ' ')
[[ -n ${left_ns// /} ]] && problems+=("network namespaces left: $left_ns")
[[ -e $CLUSTER_DIR ]] && problems+=("$CLUSTER_DIR still exists")
if ((${#problems[@]})); then
  cluster_log "teardown incomplete: ${problems[*]}"
  exit 1
fi
say "down: nothing of the cluster is left"
