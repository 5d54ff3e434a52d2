#!/usr/bin/env bash
# Run a command on one host of the local cluster, in the current directory, with SLURM_CONF set:
#
#   scripts/cluster/on.sh head sbatch -N 3 slurm/run.sbatch jobs/cluster.ini
#   scripts/cluster/on.sh node2 hostname
#
# The arguments are passed as they are (no shell in between); compare nsrsh, which joins them
# into one shell command as ssh does.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
source "$here/common.sh"

(($# >= 2)) || cluster_die "usage: on.sh HOST COMMAND [ARG...]   (HOST: head or node1..node$WAFERMILL_CLUSTER_NODES)"
host=$(cluster_host_of "$1") || cluster_die "unknown cluster host '$1'"
shift
pid=$(cluster_holder_pid "$host") \
  || cluster_die "cluster host $host is not up (no holder process); run scripts/cluster/up.sh"
export SLURM_CONF=$CLUSTER_CONF
exec nsenter -t "$pid" --net --uts --mount --wd="$PWD" -- "$@"
