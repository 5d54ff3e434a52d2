#!/usr/bin/env bash
# The demo (README "Set up"): installs what is missing, builds, and runs the job on 2 ranks on
# the committed sample, printing the report.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
export BUILD_DIR=${BUILD_DIR:-$root/build}
"$root/scripts/build.sh" -DWAFERMILL_BUILD_TESTS=OFF
mkdir -p "$root/out"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cd "$root"
mpirun -np 2 --oversubscribe "$BUILD_DIR/wafermill" run --config jobs/demo.ini
echo "report: out/demo_report.json  features: out/demo_features.h5"
