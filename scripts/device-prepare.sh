#!/usr/bin/env bash
# Runs HERE (a Debian 12 machine with apt): downloads the Debian packages that
# scripts/device-check.sh needs on a GPU machine without a package registry, into .device/debs/,
# and prints the payload's size. The device tool then carries `.device/debs` (docs/GPU.md
# "Device check"); device-check.sh unpacks them there with `dpkg -x` (or `ar` + `tar`).
# usage: scripts/device-prepare.sh [--unpack]   (--unpack: also unpack here, to try the prefix)
#
# The list: the -dev packages the build finds (MPI, parallel HDF5, Boost.Program_options,
# nlohmann-json, GoogleTest, LAPACKE/OpenBLAS, xxHash) and every shared library that `ldd` of
# the built `wafermill`, the tests and Open MPI's and PMIx's plugins resolve to here, except the C
# and C++ runtimes (libc6, libgcc-s1, libstdc++6) that every Linux image has. On the device,
# device-check.sh puts only the libraries the system lacks on LD_LIBRARY_PATH, so the system's
# own OpenSSL, GnuTLS, curl, ... keep serving its own programs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest=$root/.device/debs
dev_packages=(
  libopenmpi-dev openmpi-bin openmpi-common
  libhdf5-openmpi-dev libhdf5-openmpi-103-1 libhdf5-openmpi-hl-100 libhdf5-openmpi-cpp-103-1
  libboost-program-options1.74-dev libboost1.74-dev
  nlohmann-json3-dev libgtest-dev libgmock-dev
  liblapacke-dev liblapacke libopenblas-dev libopenblas-pthread-dev libopenblas0-pthread
  libxxhash-dev libxxhash0
)
runtime_packages=(
  ibverbs-providers libaec0 libatomic1 libboost-program-options1.74.0 libbrotli1 libcom-err2
  libcurl4 libevent-core-2.1-7 libevent-pthreads-2.1-7 libfabric1 libffi8 libgfortran5 libgmp10
  libgnutls30 libgssapi-krb5-2 libhogweed6 libhwloc15 libibverbs1 libidn2-0 libk5crypto3
  libkeyutils1 libkrb5-3 libkrb5support0 libldap-2.5-0 libmunge2 libnettle8 libnghttp2-14
  libnl-3-200 libnl-route-3-200 libnuma1 libp11-kit0 libpmix2 libpsl5 libpsm-infinipath1
  libpsm2-2 libquadmath0 librdmacm1 librtmp1 libsasl2-2 libssh2-1 libssl3 libsz2 libtasn1-6
  libtmglib3 libucx0 libunistring2 libzstd1 libopenmpi3 zlib1g
)
mkdir -p "$dest"
cd "$dest"
rm -f ./*.deb
apt-get download "${dev_packages[@]}" "${runtime_packages[@]}" >/dev/null
echo "device-prepare: $(ls ./*.deb | wc -l) packages, $(du -cb ./*.deb | tail -1 | cut -f1) bytes in $dest"
if [[ ${1:-} == --unpack ]]; then
  rm -rf "$root/.device/root"
  mkdir -p "$root/.device/root"
  for d in ./*.deb; do dpkg -x "$d" "$root/.device/root"; done
  echo "device-prepare: unpacked into $root/.device/root ($(du -sh "$root/.device/root" | cut -f1))"
fi
