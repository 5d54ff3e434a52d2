#!/usr/bin/env bash
# Installs the Debian packages wafermill needs to build, test and run, skipping those present.
# usage: scripts/install-deps.sh [extra-package...]
set -euo pipefail
packages=(
  build-essential cmake pkg-config git procps strace
  openmpi-bin libopenmpi-dev libhdf5-openmpi-dev hdf5-tools
  libboost-program-options-dev nlohmann-json3-dev libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-h5py python3-numpy python3-dask
  liblapacke-dev libopenblas-dev
  libxxhash-dev
  "$@"
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
