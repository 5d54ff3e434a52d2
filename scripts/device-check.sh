#!/usr/bin/env bash
# The GPU check (issue 18 item 7, docs/GPU.md "Device check"): in one call on a machine with a GPU
# and no package registry (nvcc, CMake and a C++ compiler are enough), builds wafermill from this
# working tree against the Debian packages that scripts/device-prepare.sh downloaded into
# .device/debs, runs the CUDA and NCCL tests, gpu_bench and the job with --backend cuda against
# the CPU output, and writes every figure to one file.
#
# usage: scripts/device-check.sh [FIGURES_FILE]
#   FIGURES_FILE  default $OUT/device-check.txt where $OUT is set, else .device/device-check.txt;
#                 the build and test logs go beside it (device-check-build.log, -tests.log).
# env:  DEVICE_CHECK_JOBS       build jobs (default: nproc)
#       DEVICE_CHECK_BUILD_DIR  default build-gpu
#       DEVICE_CHECK_NO_GPU_BUILD=1  without a GPU, still configure and build before stopping
#                                    (to check this script on a machine without one);
#                                    =configure: configure only
#       DEVICE_CHECK_SANITIZE=0  skip compute-sanitizer (default: run it on PicturesGpu.* when
#                                    it is on PATH)
# exit: 0 every step ran and passed; 1 a step failed (the figures file names it); 77 no GPU
#       visible (nothing after the configure step ran).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [[ $# -ge 1 ]]; then
  figures=$1
elif [[ -n ${OUT:-} ]]; then
  figures=$OUT/device-check.txt
else
  figures=$root/.device/device-check.txt
fi
mkdir -p "$(dirname "$figures")"
figures=$(cd "$(dirname "$figures")" && pwd)/$(basename "$figures")
logdir=$(dirname "$figures")
build_log=$logdir/device-check-build.log
test_log=$logdir/device-check-tests.log
: >"$figures"
: >"$build_log"
: >"$test_log"
build=${DEVICE_CHECK_BUILD_DIR:-build-gpu}
jobs=${DEVICE_CHECK_JOBS:-$(nproc)}
prefix=$root/.device/root
libs=$root/.device/lib
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=()

say() { printf '%s\n' "$*" | tee -a "$figures"; }
section() { say ""; say "== $*"; }
# step NAME CMD...: runs CMD with its output into the test log and the figures file; records a
# failure by name.
step() {
  local name=$1
  shift
  section "$name"
  say "\$ $*"
  local t0=$(date +%s.%N)
  "$@" >"$work/step.out" 2>&1
  local rc=$?
  local t1=$(date +%s.%N)
  cat "$work/step.out" >>"$test_log"
  tee -a "$figures" <"$work/step.out" >/dev/null
  say "-- $name: exit $rc, $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b - a}') s"
  ((rc == 0)) || failed+=("$name (exit $rc)")
  return $rc
}
finish() {
  section "summary"
  if ((${#failed[@]})); then
    say "FAILED: ${failed[*]}"
    exit 1
  fi
  say "every step passed"
  exit 0
}

section "machine ($(date -u +%FT%TZ))"
say "host $(hostname), $(nproc) CPUs, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
say "tree $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" diff --quiet 2>/dev/null || echo ' (modified)')"
for tool in nvcc cmake c++ ninja nvidia-smi compute-sanitizer; do
  if command -v "$tool" >/dev/null; then
    say "$tool: $(command -v "$tool"): $("$tool" --version 2>&1 | grep -m1 -iE 'release|version|[0-9]+\.[0-9]+' )"
  else
    say "$tool: not found"
  fi
done

# -- 1. The carried packages: unpack once, then link the libraries this system lacks. --
section "packages"
if [[ ! -d $root/.device/debs ]] && [[ ! -d $prefix ]]; then
  say "no .device/debs: run scripts/device-prepare.sh here first and carry .device/debs"
  failed+=("packages (none carried)")
  finish
fi
if [[ -d $root/.device/debs && ( ! -f $prefix/.unpacked || $root/.device/debs -nt $prefix/.unpacked ) ]]; then
  rm -rf "$prefix"
  mkdir -p "$prefix"
  for deb in "$root"/.device/debs/*.deb; do
    if command -v dpkg >/dev/null; then
      dpkg -x "$deb" "$prefix" || failed+=("unpack $(basename "$deb")")
    else  # a .deb is an ar archive holding data.tar.*
      (cd "$work" && rm -rf deb && mkdir deb && cd deb && ar x "$deb" &&
        tar -xf data.tar.* -C "$prefix") || failed+=("unpack $(basename "$deb")")
    fi
  done
  # Absolute links inside the packages point into /: point them into the prefix instead.
  while IFS= read -r -d '' link; do
    target=$(readlink "$link")
    [[ $target == /* ]] && ln -sfn "$prefix$target" "$link"
  done < <(find "$prefix" -type l -print0)
  # Debian's alternatives (mpicc, mpiexec, h5pcc, libmpi.so, ...) are made by maintainer scripts,
  # which dpkg -x does not run.
  bin=$prefix/usr/bin
  for t in mpicc mpicxx mpic++ mpiexec mpirun ompi_info orted; do
    [[ -e $bin/$t.openmpi && ! -e $bin/$t ]] && ln -s "$t.openmpi" "$bin/$t"
  done
  [[ -e $bin/h5pcc.openmpi && ! -e $bin/h5pcc ]] && ln -s h5pcc.openmpi "$bin/h5pcc"
  # h5pcc names its prefix literally; Open MPI's wrappers follow OPAL_PREFIX.
  for f in "$bin"/h5pcc*; do
    [[ -f $f && ! -L $f ]] && sed -i "s|^prefix=\"/usr\"|prefix=\"$prefix/usr\"|" "$f"
  done
  arch=$prefix/usr/lib/x86_64-linux-gnu
  [[ -e $arch/libmpi.so ]] || ln -s openmpi/lib/libmpi.so "$arch/libmpi.so"
  [[ -e $prefix/usr/include/x86_64-linux-gnu/mpi ]] ||
    { mkdir -p "$prefix/usr/include/x86_64-linux-gnu" && ln -s "$arch/openmpi/include" "$prefix/usr/include/x86_64-linux-gnu/mpi"; }
  # OpenBLAS and LAPACK are alternatives too (libblas.so.3 -> openblas-pthread/...).
  for lib in "$arch"/openblas-pthread/lib*.so*; do
    [[ -e $lib ]] && ln -sfn "$lib" "$arch/$(basename "$lib")"
  done
  touch "$prefix/.unpacked"
fi
say "prefix $prefix: $(find "$prefix" -type f | wc -l) files"
# Only what the system lacks goes on LD_LIBRARY_PATH: its own OpenSSL, curl, ... stay its own.
rm -rf "$libs"
mkdir -p "$libs"
have=$(ldconfig -p 2>/dev/null | awk '{print $1}' | sort -u)
n_linked=0
while IFS= read -r -d '' so; do
  name=$(basename "$so")
  [[ -e $libs/$name ]] && continue
  if ! grep -qxF "$name" <<<"$have"; then
    ln -s "$so" "$libs/$name"
    n_linked=$((n_linked + 1))
  fi
done < <(find "$prefix/usr/lib/x86_64-linux-gnu" "$prefix/lib" -maxdepth 3 -name 'lib*.so.*' \
  \( -type f -o -type l \) -not -path '*/openmpi3/*' -not -path '*/pmix/*' -print0 2>/dev/null)
# FindHDF5 takes h5pcc's -lcrypto -lcurl -lsz -lz as libraries to find: give each a dev link to
# the system's or the carried runtime library where no libX.so is installed.
for x in crypto curl sz z; do
  [[ -e /usr/lib/x86_64-linux-gnu/lib$x.so || -e /usr/lib64/lib$x.so ]] && continue
  so=$(ldconfig -p 2>/dev/null | awk -v n="lib$x.so" '$1 ~ ("^" n "\\.[0-9]+$") {print $NF; exit}')
  [[ -z $so ]] && so=$(ls "$libs"/lib$x.so.[0-9]* 2>/dev/null | head -1)
  [[ -n $so ]] && ln -sfn "$so" "$libs/lib$x.so"
done
say "$n_linked carried libraries the system lacks, linked in $libs"
export PATH=$prefix/usr/bin:$PATH
export LD_LIBRARY_PATH=$libs:$prefix/usr/lib/x86_64-linux-gnu/openmpi/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export PKG_CONFIG_LIBDIR=$prefix/usr/lib/x86_64-linux-gnu/pkgconfig:$prefix/usr/share/pkgconfig
export PKG_CONFIG_SYSROOT_DIR=$prefix  # the carried .pc files name /usr
export OPAL_PREFIX=$prefix/usr  # Open MPI's relocation: wrappers, help files, plugins
export PMIX_INSTALL_PREFIX=$prefix/usr
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none  # containers often forbid CMA
say "mpicc --showme: $(mpicc --showme 2>&1 | head -1)"
say "h5pcc -show: $(h5pcc -show 2>&1 | head -1)"

# NCCL: the toolkit's, else the one Python's nvidia-nccl package brings (libnccl.so.2 only).
nccl_args=()
nccl_inc=""
nccl_lib=""
for d in "${CUDA_HOME:-/usr/local/cuda}/include" /usr/include /usr/local/include; do
  [[ -f $d/nccl.h ]] && { nccl_inc=$d; break; }
done
py_nccl=$(python3 -c 'import nvidia.nccl, os; print(list(nvidia.nccl.__path__)[0])' 2>/dev/null || true)
if [[ -z $nccl_inc && -n $py_nccl && -f $py_nccl/include/nccl.h ]]; then
  nccl_inc=$py_nccl/include
fi
for d in "${CUDA_HOME:-/usr/local/cuda}/lib64" /usr/lib/x86_64-linux-gnu /usr/local/lib ${py_nccl:+$py_nccl/lib}; do
  for f in "$d"/libnccl.so "$d"/libnccl.so.2; do
    [[ -e $f ]] && { nccl_lib=$f; break 2; }
  done
done
if [[ -n $nccl_inc && -n $nccl_lib ]]; then
  if [[ $nccl_lib == *.so.2 ]]; then  # find_library wants libnccl.so
    mkdir -p "$root/.device/nccl"
    ln -sfn "$nccl_lib" "$root/.device/nccl/libnccl.so"
    export LD_LIBRARY_PATH=$(dirname "$nccl_lib"):$LD_LIBRARY_PATH
    nccl_lib=$root/.device/nccl/libnccl.so
  fi
  nccl_args=(-DWAFERMILL_NCCL_INCLUDE_DIR="$nccl_inc" -DWAFERMILL_NCCL_LIBRARY="$nccl_lib")
  say "NCCL: $nccl_inc, $nccl_lib"
else
  say "NCCL: not found (the NCCL tests will not be built)"
fi

# -- 2. GPU? --
section "GPU"
gpu=0
if command -v nvidia-smi >/dev/null && nvidia-smi -L >"$work/gpus" 2>&1 && grep -q '^GPU' "$work/gpus"; then
  gpu=1
  tee -a "$figures" <"$work/gpus" >/dev/null
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem \
    --format=csv 2>&1 | tee -a "$figures" >/dev/null
else
  say "no GPU visible: $(head -c 300 "$work/gpus" 2>/dev/null || echo 'nvidia-smi not found')"
  if [[ ${DEVICE_CHECK_NO_GPU_BUILD:-0} != 1 ]]; then
    say "stopping before the build (DEVICE_CHECK_NO_GPU_BUILD=1 builds anyway)"
  fi
fi

# -- 3. Configure and build. --
if ((gpu)) || [[ ${DEVICE_CHECK_NO_GPU_BUILD:-0} != 0 ]]; then
  generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  cuda_arch=()
  ((gpu)) && cuda_arch=(-DCMAKE_CUDA_ARCHITECTURES=native)
  step configure cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$prefix/usr" -DCMAKE_LIBRARY_PATH="$libs" \
    -DMPI_C_COMPILER="$prefix/usr/bin/mpicc" -DMPIEXEC_EXECUTABLE="$prefix/usr/bin/mpiexec" \
    -DHDF5_C_COMPILER_EXECUTABLE="$prefix/usr/bin/h5pcc" \
    -DCMAKE_BUILD_RPATH="$libs" "${cuda_arch[@]}" "${nccl_args[@]}" || finish
  grep -E "^(MPI_C_LIB_NAMES|MPI_mpi_LIBRARY|MPIEXEC_EXECUTABLE|HDF5_C_LIBRARY_[a-z]+|Boost_DIR|boost_program_options_DIR|nlohmann_json_DIR|GTest_DIR|WAFERMILL_[A-Z_]+|CMAKE_CUDA_COMPILER):" \
    "$build/CMakeCache.txt" | tee -a "$figures" >/dev/null
  targets=(wafermill features_cuda_test pictures_gpu_test)
  grep -q '^WAFERMILL_NCCL_LIBRARY:.*nccl' "$build/CMakeCache.txt" &&
    targets+=(features_cuda_nccl_reduce_test)
  grep -q 'gpu_bench' "$build/bench/gpu/Makefile" "$build/build.ninja" 2>/dev/null &&
    targets+=(gpu_bench)
  section "build"
  say "\$ cmake --build $build -j$jobs --target ${targets[*]}"
  if [[ ${DEVICE_CHECK_NO_GPU_BUILD:-0} == configure ]] && ((!gpu)); then
    say "configure only (DEVICE_CHECK_NO_GPU_BUILD=configure): not built"
  else
    t0=$(date +%s)
    if ! cmake --build "$build" -j"$jobs" --target "${targets[@]}" >>"$build_log" 2>&1; then
      tail -40 "$build_log" | tee -a "$figures" >/dev/null
      failed+=("build")
      finish
    fi
    say "built in $(($(date +%s) - t0)) s"
    ldd "$build/wafermill" | grep -E "mpi|hdf5|boost|xxhash|openblas|lapacke|not found" |
      tee -a "$figures" >/dev/null
  fi
fi
if ((!gpu)); then
  section "summary"
  say "no GPU: stopped where the GPU is needed (exit 77)"
  exit 77
fi

# -- 4. Tests (docs/GPU.md "For a session with a GPU", docs/PICTURES.md "Checking on a GPU"). --
step "ctest Cuda|BackendRegistry|PicturesGpu" \
  ctest --test-dir "$build" -R 'Cuda|BackendRegistry|PicturesGpu' --output-on-failure --timeout 300
# no_skips BINARY FILTER: the gtest binary passes and skips nothing (a skip means no device).
no_skips() {
  local out rc
  out=$("$1" --gtest_filter="$2" 2>&1)
  rc=$?
  printf '%s\n' "$out"
  ((rc == 0)) || return "$rc"
  if grep -q '^\[  SKIPPED \]' <<<"$out"; then
    echo "some cases skipped"
    return 3
  fi
}
step "pictures_gpu_test (none skipped)" no_skips "$build/tests/pictures/pictures_gpu_test" 'PicturesGpu.*'
step "features_cuda_test (none skipped)" no_skips "$build/tests/features/features_cuda_test" 'Cuda*'

if [[ ${DEVICE_CHECK_SANITIZE:-1} != 0 ]] && command -v compute-sanitizer >/dev/null; then
  step "compute-sanitizer memcheck PicturesGpu" timeout 300 compute-sanitizer --tool memcheck \
    --error-exitcode 9 "$build/tests/pictures/pictures_gpu_test" --gtest_filter='PicturesGpu.*'
  step "compute-sanitizer racecheck PicturesGpu.HandMade*" timeout 300 compute-sanitizer \
    --tool racecheck --error-exitcode 9 "$build/tests/pictures/pictures_gpu_test" \
    --gtest_filter='PicturesGpu.HandMade*'
fi

# -- 5. Figures: gpu_bench (kernels vs device-to-device copy, end to end vs pinned H2D, E_GPU). --
if [[ -x $build/bench/gpu/gpu_bench ]]; then
  step "gpu_bench (float32, 16 sensors, 4 steps, all features)" "$build/bench/gpu/gpu_bench"
  step "gpu_bench without the median" "$build/bench/gpu/gpu_bench" --features mean,std,min,max,slope
  step "gpu_bench long segments" "$build/bench/gpu/gpu_bench" --rows 200000 --wafers 20
  step "gpu_bench float64" "$build/bench/gpu/gpu_bench" --float64
else
  section "gpu_bench"
  say "gpu_bench was not built"
  failed+=("gpu_bench (not built)")
fi

# -- 6. The job end to end on both backends; compare is bitwise with wafers of <= 1024 rows. --
wm=$build/wafermill
data=$work/job
mkdir -p "$data"
step "generate" "$wm" generate --output "$data/t.h5" --wafers 20000 --sensors 16 --steps 4 \
  --mean-length 300 --length-sigma 0.3 --nan-fraction 0.01 --empty-fraction 0.02 --seed 1
for backend in cpu cuda; do
  step "run --backend $backend" /usr/bin/time -f "wall %e s, peak RSS %M KB" "$wm" run \
    --input "$data/t.h5" --output "$data/$backend.h5" --report "$data/$backend.json" \
    --backend "$backend" --baseline none --force --quiet
  [[ -f $data/$backend.json ]] && python3 - "$data/$backend.json" <<'PY' | tee -a "$figures" >/dev/null
import json, sys
p = json.load(open(sys.argv[1]))["parallel"]
keys = ["backend", "wall_s", "throughput_mb_per_s", "gpu_utilisation_percent", "kernel_busy_fraction", "bytes"]
print("report: " + ", ".join(f"{k} {p.get(k)}" for k in keys))
PY
done
step "compare cpu cuda" "$wm" compare "$data/cpu.h5" "$data/cuda.h5"
# The MPI job with two ranks on the one GPU (NCCL is refused there; the MPI path sums).
step "mpiexec -n 2 run --backend cuda" mpiexec -n 2 --oversubscribe "$wm" run --input "$data/t.h5" \
  --output "$data/cuda2.h5" --backend cuda --baseline none --force --quiet
step "compare cpu cuda(P=2)" "$wm" compare "$data/cpu.h5" "$data/cuda2.h5"
finish
