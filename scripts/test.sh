#!/usr/bin/env bash
# The test command (README "Set up"): installs what is missing, builds from scratch and runs
# every test. CI (.ci/run) calls this.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
export BUILD_DIR=${BUILD_DIR:-$root/build-test}
rm -rf "$BUILD_DIR"
# -Werror on our own targets keeps the Release build (CUDA included when found) warning-free.
"$root/scripts/build.sh" -DWAFERMILL_WERROR=ON
# Open MPI refuses root unless told; the tests also pass --allow-run-as-root where needed.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$(nproc)" "$@"

# The unit and MPI tests again under AddressSanitizer + UBSan (docs/RELIABILITY.md "Sanitizers"),
# without CUDA and benchmarks to stay within CI's time. WAFERMILL_SANITIZE_TESTS=0 skips it.
if [[ ${WAFERMILL_SANITIZE_TESTS:-1} != 0 ]]; then
  asan_dir=$BUILD_DIR-asan
  rm -rf "$asan_dir"
  BUILD_DIR=$asan_dir BUILD_TYPE=RelWithDebInfo "$root/scripts/build.sh" -DWAFERMILL_SANITIZE=ON \
    -DWAFERMILL_ENABLE_CUDA=OFF -DWAFERMILL_BUILD_BENCH=OFF
  # fast_unwind_on_malloc=0: full stacks, so scripts/lsan.supp can match Open MPI's libraries;
  # fuzz/asan.supp: only HDF5 1.10.8's own over-reads (RELIABILITY.md "HDF5 findings"). Peak-RSS
  # tests are left out: ASan's shadow memory and quarantine make RSS figures meaningless.
  ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0:suppressions=$root/fuzz/asan.supp \
  LSAN_OPTIONS=suppressions=$root/scripts/lsan.supp:print_suppressions=0 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$asan_dir" --output-on-failure -j"$(nproc)" -L "unit|mpi" \
      -E "GenerateMemory\\.PeakRss"
fi
