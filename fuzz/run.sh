#!/usr/bin/env bash
# A bounded libFuzzer run over the trace-file validation and reading path (fuzz/trace_file_fuzzer.cpp).
#   fuzz/run.sh [--time SECONDS] [--build-dir DIR] [--runs N] [--seed S]
# With --seed and --runs the run is deterministic (the ctest test uses both, so CI does not turn
# red on whichever new HDF5 1.10.8 crash a random seed happens to find; exploratory runs leave
# them out).
# Installs clang and its runtimes if missing (scripts/install-deps.sh), configures a clang build
# with -DWAFERMILL_FUZZ=ON in DIR (default build-fuzz/), builds the fuzzer, and fuzzes from a copy
# of the committed seed corpus (fuzz/corpus/) so that new inputs do not land in the repository.
# Exits non-zero when the fuzzer finds a crash in wafermill's code, or one in HDF5's that the real
# `wafermill validate` (WAFERMILL_BIN) does not turn into a clean exit 2; inputs are kept in
# DIR/artifacts/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=60 build=$root/build-fuzz runs= seed=
while (($#)); do
  case $1 in
    --time) seconds=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    *) echo "fuzz/run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

"$root/scripts/install-deps.sh" clang-14 libclang-rt-14-dev
cc=$(command -v clang-14 || command -v clang) cxx=$(command -v clang++-14 || command -v clang++)
mkdir -p "$build"
cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWAFERMILL_FUZZ=ON -DWAFERMILL_BUILD_TESTS=OFF \
  -DWAFERMILL_BUILD_BENCH=OFF -DWAFERMILL_ENABLE_CUDA=OFF >"$build/configure.log" 2>&1 \
  || { cat "$build/configure.log"; exit 1; }
cmake --build "$build" --target trace_file_fuzzer -j"$(nproc)"

corpus=$build/corpus artifacts=$build/artifacts
rm -rf "$corpus" && mkdir -p "$corpus" "$artifacts"
cp "$root"/fuzz/corpus/* "$corpus/"
limits=(-max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 -malloc_limit_mb=4096
        -max_len=65536 -artifact_prefix="$artifacts/" -print_final_stats=1)
[[ -n $runs ]] && limits+=(-runs="$runs")
[[ -n $seed ]] && limits+=(-seed="$seed")
# allocator_may_return_null: HDF5 asks malloc for absurd sizes read from damaged files and
# handles the NULL (a clean error in production); ASan would otherwise abort. Leak checking is
# off: HDF5 and Open MPI keep one-time allocations for the process's life.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1:suppressions=$root/fuzz/asan.supp}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
log=$build/fuzz.log
set +e
"$build/fuzz/trace_file_fuzzer" "${limits[@]}" "$corpus" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
((rc == 0)) && exit 0

# The fuzzer stopped on an input. Debian's HDF5 1.10.8 crashes inside its own calls on some
# damaged metadata (docs/RELIABILITY.md "HDF5 findings"), which no in-process fuzz target can
# survive; the product survives them by reading metadata in a child (the input sandbox). So a
# finding counts as known only when (1) the first frame of the report that is HDF5's or
# wafermill's is HDF5's, and (2) the real `wafermill validate` (WAFERMILL_BIN) on the input exits
# 2 with a message instead of crashing. Anything else fails the run.
artifact=$(ls -t "$artifacts"/* 2>/dev/null | head -n 1)
[[ -n $artifact ]] || { echo "fuzz/run.sh: the fuzzer failed (exit $rc) without an input" >&2; exit "$rc"; }
first=$(grep -E '^ +#[0-9]+ .*(libhdf5|wafermill::)' "$log" | head -n 1)
if [[ $first != *libhdf5* ]]; then
  echo "fuzz/run.sh: a finding in wafermill's own code: $artifact" >&2
  exit "$rc"
fi
if [[ -z ${WAFERMILL_BIN:-} || ! -x $WAFERMILL_BIN ]]; then
  echo "fuzz/run.sh: HDF5 crashed on $artifact; set WAFERMILL_BIN to check that wafermill handles it" >&2
  exit "$rc"
fi
set +e
out=$(timeout 300 "$WAFERMILL_BIN" validate "$artifact" 2>&1)
vrc=$?
set -e
if ((vrc == 2)); then
  echo "fuzz/run.sh: known kind of finding: HDF5 1.10.8 failed inside its own call ($first)."
  echo "fuzz/run.sh: wafermill validate handles the input (exit 2): ${out%%$'\n'*}"
  echo "fuzz/run.sh: input kept in $artifact; add it to tests/faults/inputs if its stack is new."
  exit 0
fi
echo "fuzz/run.sh: HDF5 crashed on $artifact and wafermill validate exited $vrc:" >&2
echo "$out" >&2
exit 1
