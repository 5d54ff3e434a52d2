#!/usr/bin/env bash
# The test command (README "Set up"): installs what is missing, builds from scratch and runs
# every test. CI (.ci/run) calls this.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
export BUILD_DIR=${BUILD_DIR:-$root/build-test}
rm -rf "$BUILD_DIR"
"$root/scripts/build.sh"
# Open MPI refuses root unless told; the tests also pass --allow-run-as-root where needed.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$(nproc)" "$@"
