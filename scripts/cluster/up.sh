#!/usr/bin/env bash
# Bring up a small multi-node Slurm cluster on this machine, for tests of real multi-host runs.
#
#   sudo scripts/cluster/up.sh            # head + node1..node3 (WAFERMILL_CLUSTER_NODES=3)
#   scripts/cluster/on.sh head sinfo      # run a Slurm client against it
#   sudo scripts/cluster/down.sh          # remove everything again
#
# What it builds (see common.sh for the layout and the settings):
#   - munged as the munge user, with its own key and socket under the cluster directory;
#   - network namespaces wmc-head and wmc-node1..N, a bridge inside wmc-head, one veth pair per
#     node; the addresses (10.77.0.0/24 by default) exist only inside these namespaces;
#   - one holder process per host: own hostname (UTS namespace), private /dev/shm, an /etc/hosts
#     naming the cluster's hosts, a private PMIx client directory and Open MPI parameters that
#     keep its shared-memory transport off (mount namespace);
#   - a generated slurm.conf + mpi.conf, slurmctld on the head and `slurmd -N nodeK` on each node.
# It installs what is missing (slurm-wlm, munge, iproute2) with apt-get. Any stale cluster is torn
# down first, and a failed bring-up prints the daemons' logs and tears down what it made (unless
# WAFERMILL_CLUSTER_KEEP_ON_FAILURE=1, which keeps it for inspection).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
source "$here/common.sh"

[[ $EUID -eq 0 ]] || cluster_die "must run as root: it creates network namespaces and starts slurmd/slurmctld (running as uid $EUID)"

# --- what the machine must allow and have --------------------------------------------------------
if ! err=$(unshare --net --uts --mount true 2>&1); then
  cluster_die "cannot create namespaces (unshare --net --uts --mount): ${err:-no message}; the cluster needs CAP_SYS_ADMIN and a kernel/container that permits network, UTS and mount namespaces"
fi

missing=()
for cmd in slurmctld:slurmctld slurmd:slurmd sbatch:slurm-client munged:munge ip:iproute2 \
           nsenter:util-linux unshare:util-linux setsid:util-linux runuser:util-linux; do
  command -v "${cmd%%:*}" >/dev/null 2>&1 || missing+=("${cmd#*:}")
done
if ((${#missing[@]})); then
  cluster_log "installing missing packages: slurm-wlm ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || cluster_die "apt-get update failed"
  # shellcheck disable=SC2046
  apt-get install -y -qq --no-install-recommends slurm-wlm munge iproute2 util-linux \
    $(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null \
    || cluster_die "apt-get install slurm-wlm munge iproute2 failed"
fi
ls /usr/lib/*/slurm-wlm/mpi_pmix*.so >/dev/null 2>&1 \
  || cluster_die "Slurm's PMIx plugin (mpi_pmix*.so) is missing; Debian ships it in slurm-wlm-basic-plugins"

"$here/down.sh" --quiet || cluster_die "could not tear down a previous cluster; see the messages above"

on_failure() {
  local rc=$?
  trap - ERR EXIT
  ((rc != 0)) || return 0
  cluster_log "bring-up failed (exit $rc); daemon logs follow"
  local f
  for f in "$CLUSTER_DIR"/log/*.log "$CLUSTER_DIR"/munge/munged.log; do
    [[ -s $f ]] && { printf -- '--- %s (last 20 lines)\n' "$f" >&2; tail -n 20 "$f" >&2; }
  done
  if [[ ${WAFERMILL_CLUSTER_KEEP_ON_FAILURE:-0} == 1 ]]; then
    cluster_log "WAFERMILL_CLUSTER_KEEP_ON_FAILURE=1: leaving the half-made cluster for inspection; remove it with $here/down.sh"
  else
    "$here/down.sh" --quiet || true
  fi
  exit "$rc"
}
trap on_failure EXIT

# --- directories ---------------------------------------------------------------------------------
mkdir -p "$CLUSTER_DIR"/{etc,run,log,ctld,pmix,munge}
: >"$CLUSTER_DIR/.wafermill-cluster"   # down.sh removes only a directory carrying this
chmod 0755 "$CLUSTER_DIR"
for n in $(cluster_nodes); do mkdir -p "$CLUSTER_DIR/nodes/$n"/{spool,pmix}; done

# --- munge: own key and socket, so a munged the machine may already run is left alone -------------
munge_dir=$CLUSTER_DIR/munge
munge_socket=$munge_dir/munge.socket.2
dd if=/dev/urandom of="$munge_dir/munge.key" bs=1024 count=1 status=none
chown -R munge:munge "$munge_dir"
chmod 0700 "$munge_dir"; chmod 0400 "$munge_dir/munge.key"
chmod 0755 "$munge_dir"   # clients (sbatch as any user) must reach the socket
runuser -u munge -- munged --socket="$munge_socket" --key-file="$munge_dir/munge.key" \
  --pid-file="$munge_dir/munged.pid" --log-file="$munge_dir/munged.log" \
  --seed-file="$munge_dir/munged.seed" </dev/null >/dev/null 2>&1
munge -S "$munge_socket" -n | unmunge -S "$munge_socket" >/dev/null \
  || cluster_die "munged does not answer on $munge_socket"

# --- network: namespaces, a bridge inside the head's namespace, one veth pair per node ------------
if [[ ! -d /run/netns ]]; then : >"$CLUSTER_NETNS_MARKER"; fi
head_ns=$(cluster_netns "$CLUSTER_HEAD")
ip netns add "$head_ns"
ip -n "$head_ns" link set lo up
ip -n "$head_ns" link add "$CLUSTER_BRIDGE" type bridge
ip -n "$head_ns" addr add "$CLUSTER_HEAD_ADDR/24" dev "$CLUSTER_BRIDGE"
ip -n "$head_ns" link set "$CLUSTER_BRIDGE" up
for n in $(cluster_nodes); do
  ns=$(cluster_netns "$n")
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip -n "$head_ns" link add "v$n" type veth peer name eth0 netns "$ns"
  ip -n "$head_ns" link set "v$n" master "$CLUSTER_BRIDGE" up
  ip -n "$ns" addr add "$(cluster_addr "$n")/24" dev eth0
  ip -n "$ns" link set eth0 up
done

# /etc/hosts of every cluster host: the machine's own entries plus the cluster's names.
{
  printf '127.0.0.1\tlocalhost\n'
  printf '%s\t%s\n' "$CLUSTER_HEAD_ADDR" "$CLUSTER_HEAD"
  for n in $(cluster_nodes); do printf '%s\t%s\n' "$(cluster_addr "$n")" "$n"; done
} >"$CLUSTER_DIR/etc/hosts"

# Open MPI's system-wide parameters as the cluster's hosts see them: the machine's own, with the
# shared-memory transport off. Ranks of two "nodes" share one kernel, and with `srun --mpi=pmix`
# about one run in twenty-five crashed in vader's segment setup ("open(2): No such file or
# directory", then SIGSEGV), also with single-copy off; with `btl = self,tcp` 0 of 60 did. So on
# this cluster ranks on one node talk TCP too; a real cluster keeps its own settings.
ompi_params=/etc/openmpi/openmpi-mca-params.conf
{
  [[ -r $ompi_params ]] && grep -vE '^[[:space:]]*btl[[:space:]]*=' "$ompi_params"
  printf '# Added by scripts/cluster/up.sh for the local cluster (see there).\nbtl = self,tcp\n'
} >"$CLUSTER_DIR/etc/openmpi-mca-params.conf"

# --- holders: one process per host that owns its UTS and mount namespaces -------------------------
# Arguments: host name, directory bound over the shared PMIx client directory (empty: none).
start_holder() {
  local host=$1 pmix_private=$2 pidfile=$CLUSTER_DIR/run/holder-$1.pid
  setsid -f nsenter --net="/run/netns/$(cluster_netns "$host")" \
    unshare --uts --mount --propagation private /bin/sh -c '
      set -e
      hostname "$1"
      mount -t tmpfs -o mode=1777,size=1g tmpfs /dev/shm
      mount --bind "$2" /etc/hosts
      if [ -n "$3" ]; then mount --bind "$3" "$4"; fi
      if [ -e "$7" ]; then mount --bind "$6" "$7"; fi
      echo $$ > "$5"
      exec sleep infinity' holder "$host" "$CLUSTER_DIR/etc/hosts" "$pmix_private" \
      "$CLUSTER_DIR/pmix" "$pidfile" "$CLUSTER_DIR/etc/openmpi-mca-params.conf" "$ompi_params" </dev/null >>"$CLUSTER_DIR/log/holder-$host.log" 2>&1
  local i
  for ((i = 0; i < 50; i++)); do
    cluster_holder_pid "$host" >/dev/null && return 0
    sleep 0.1
  done
  cluster_die "host $host did not come up; see $CLUSTER_DIR/log/holder-$host.log"
}
start_holder "$CLUSTER_HEAD" ""
for n in $(cluster_nodes); do start_holder "$n" "$CLUSTER_DIR/nodes/$n/pmix"; done

# --- Slurm configuration --------------------------------------------------------------------------
node_list="node[1-${WAFERMILL_CLUSTER_NODES}]"
{
  cat <<EOF
# Generated by scripts/cluster/up.sh; removed by scripts/cluster/down.sh.
ClusterName=wafermill-local
SlurmctldHost=${CLUSTER_HEAD}(${CLUSTER_HEAD_ADDR})
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=${munge_socket}
# The nodes share one kernel and no cgroup hierarchy of their own.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# The nodes advertise the CPUs configured here, not the machine's.
SlurmdParameters=config_overrides
MpiDefault=none
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=1,sched_interval=2,sched_min_interval=100000
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
StateSaveLocation=${CLUSTER_DIR}/ctld
SlurmdSpoolDir=${CLUSTER_DIR}/nodes/%n/spool
SlurmctldPidFile=${CLUSTER_DIR}/run/slurmctld.pid
SlurmdPidFile=${CLUSTER_DIR}/run/slurmd-%n.pid
SlurmctldLogFile=${CLUSTER_DIR}/log/slurmctld.log
SlurmdLogFile=${CLUSTER_DIR}/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MailProg=/bin/true
# Fast turnaround for tests; finished jobs stay visible to scontrol for 10 minutes.
MessageTimeout=20
KillWait=10
MinJobAge=600
InactiveLimit=0
EOF
  for n in $(cluster_nodes); do
    printf 'NodeName=%s NodeAddr=%s NodeHostname=%s CPUs=%d RealMemory=2048 State=UNKNOWN\n' \
      "$n" "$(cluster_addr "$n")" "$n" "$WAFERMILL_CLUSTER_CPUS"
  done
  printf 'PartitionName=local Nodes=%s Default=YES MaxTime=INFINITE State=UP\n' "$node_list"
} >"$CLUSTER_CONF"
# Each node binds its own directory over this one (see start_holder): with one shared directory
# a second node's `srun --mpi=pmix` fails with "Cannot create directory ... File exists".
printf 'PMIxCliTmpDirBase=%s\n' "$CLUSTER_DIR/pmix" >"$CLUSTER_DIR/etc/mpi.conf"

# --- daemons ---------------------------------------------------------------------------------------
# Enters a host's namespaces and runs a command there, detached from our terminal and pipes.
in_host_detached() {
  local host=$1; shift
  setsid -f nsenter -t "$(cluster_holder_pid "$host")" --net --uts --mount --wd=/ -- "$@" \
    </dev/null >>"$CLUSTER_DIR/log/start-$host.log" 2>&1
}
in_host_detached "$CLUSTER_HEAD" slurmctld -f "$CLUSTER_CONF" -i
for n in $(cluster_nodes); do in_host_detached "$n" slurmd -f "$CLUSTER_CONF" -N "$n"; done

export SLURM_CONF=$CLUSTER_CONF
on() { "$here/on.sh" "$CLUSTER_HEAD" "$@"; }
ready=0
for ((i = 0; i < 60; i++)); do
  idle=$(on sinfo -h -N -t idle -o '%N' 2>/dev/null | sort -u | wc -l) || idle=0
  if ((idle == WAFERMILL_CLUSTER_NODES)); then ready=1; break; fi
  sleep 0.5
done
((ready)) || { on sinfo -N -l >&2 || true; cluster_die "not all $WAFERMILL_CLUSTER_NODES nodes became idle within 30 s"; }

mpi_list=$(on srun --mpi=list 2>&1) || cluster_die "srun --mpi=list failed: $mpi_list"
grep -q pmix <<<"$mpi_list" || cluster_die "srun --mpi=list shows no pmix plugin: $mpi_list"

trap - EXIT
cluster_log "up: head $CLUSTER_HEAD ($CLUSTER_HEAD_ADDR), nodes $node_list, config $CLUSTER_CONF"
cluster_log "use: $here/on.sh head sbatch ...   (or any host: $here/on.sh node2 hostname)"
