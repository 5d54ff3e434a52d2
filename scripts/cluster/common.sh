# Shared settings of the local test cluster; sourced by up.sh, down.sh, on.sh and nsrsh.
#
# The cluster is one "head" host (slurmctld) and N compute hosts (one slurmd each). Every host
# is a long-lived holder process that owns a network namespace (from `ip netns`), its own UTS
# namespace (so gethostname() differs per host) and a private mount namespace (its own /dev/shm,
# /etc/hosts and PMIx client directory). Daemons, job steps and launched commands enter a host
# with `nsenter -t HOLDER_PID`, so they all see the same namespaces. The bridge joining the hosts
# lives inside the head's network namespace: the machine's own network is never touched.

# Everything below can be overridden from the environment.
: "${WAFERMILL_CLUSTER_DIR:=/run/wafermill-cluster}"   # generated configs, state, logs, pids
: "${WAFERMILL_CLUSTER_NODES:=3}"                      # number of compute hosts
: "${WAFERMILL_CLUSTER_CPUS:=2}"                       # CPUs each compute host advertises
: "${WAFERMILL_CLUSTER_SUBNET:=10.77.0}"               # /24 prefix; head is .1, nodeK is .(10+K)
: "${WAFERMILL_CLUSTER_NETNS_PREFIX:=wmc-}"            # names of our network namespaces

CLUSTER_DIR=${WAFERMILL_CLUSTER_DIR}
CLUSTER_CONF=${CLUSTER_DIR}/etc/slurm.conf
CLUSTER_HEAD=head
CLUSTER_HEAD_ADDR=${WAFERMILL_CLUSTER_SUBNET}.1
CLUSTER_BRIDGE=wmcbr0
# Written when up.sh had to create /run/netns, so down.sh can remove it again. It lives outside
# CLUSTER_DIR on purpose: down.sh removes CLUSTER_DIR before it looks at /run/netns.
CLUSTER_NETNS_MARKER=/run/.wafermill-cluster-created-netns-dir

cluster_log() { printf '[cluster] %s\n' "$*" >&2; }
cluster_die() { printf '[cluster] ERROR: %s\n' "$*" >&2; exit 1; }

# Compute host names: node1 .. nodeN.
cluster_nodes() {
  local k
  for ((k = 1; k <= WAFERMILL_CLUSTER_NODES; k++)); do printf 'node%d\n' "$k"; done
}

# Address of a host by name (head or nodeK); an address is returned unchanged.
cluster_addr() {
  case "$1" in
    "$CLUSTER_HEAD") printf '%s\n' "$CLUSTER_HEAD_ADDR" ;;
    node[0-9]*) printf '%s.%d\n' "$WAFERMILL_CLUSTER_SUBNET" $((10 + ${1#node})) ;;
    *) printf '%s\n' "$1" ;;
  esac
}

# Host name from a name, an address or a fully qualified name (Open MPI passes any of them).
cluster_host_of() {
  local h=${1%%.*} k
  [[ $1 == "$CLUSTER_HEAD_ADDR" ]] && { printf '%s\n' "$CLUSTER_HEAD"; return; }
  for k in $(cluster_nodes); do
    if [[ $1 == "$(cluster_addr "$k")" || $h == "$k" ]]; then printf '%s\n' "$k"; return; fi
  done
  [[ $h == "$CLUSTER_HEAD" ]] && { printf '%s\n' "$CLUSTER_HEAD"; return; }
  return 1
}

cluster_netns() { printf '%s%s\n' "$WAFERMILL_CLUSTER_NETNS_PREFIX" "$1"; }

# PID of the process holding a host's namespaces, or failure when the host is not up.
cluster_holder_pid() {
  local file=${CLUSTER_DIR}/run/holder-$1.pid pid
  [[ -r $file ]] || return 1
  pid=$(<"$file")
  [[ -d /proc/$pid ]] || return 1
  printf '%s\n' "$pid"
}
