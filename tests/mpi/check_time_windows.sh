#!/bin/bash
# `run --time-windows N` and `fit --time-windows N` (docs/MONITORING.md "Time windows") on traces
# that record no recipe steps:
# - the features equal those of the same traces with the windows written as /traces/step by
#   h5py (row i of n in window floor(i * N / n), computed here with numpy), for P = 1 and 3, for
#   one file and for two files read as one input;
# - the output and the model record N; `run --model` needs the same N (exit 2 naming the model
#   and what to pass otherwise) and then scores as the model fit on the h5py-stepped file does;
#   `score --time-windows N` flags the wafers `run` flags;
# - a file that has /traces/step, or an N out of range, is exit 2 with no output.
# Usage: check_time_windows.sh DIR  (environment: WM, MPIEXEC, MPI_FLAGS)
set -euo pipefail
dir=$1
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"
fail() { echo "FAIL: $*"; exit 1; }
run() { local np=$1; shift; "$MPIEXEC" -n "$np" $MPI_FLAGS "$WM" run --quiet --baseline none \
  --store none --block-size 8 --force "$@"; }
"$WM" generate --output plain.h5 --wafers 240 --sensors 3 --steps 0 --mean-length 60 \
  --length-sigma 0.7 --empty-fraction 0.02 --nan-fraction 0.01 --anomaly-fraction 0.05 \
  --seed 41 >/dev/null
"$WM" generate --output plain2.h5 --wafers 90 --sensors 3 --steps 0 --mean-length 30 \
  --length-sigma 0.4 --seed 42 >/dev/null
# The same traces with 5 windows as recipe steps, written by h5py.
/usr/bin/python3 - <<'PY'
import h5py, numpy as np
for name in ["plain.h5", "plain2.h5"]:
    out = name.replace("plain", "stepped")
    with h5py.File(name, "r") as src, h5py.File(out, "w") as dst:
        for k, v in src.attrs.items():
            dst.attrs[k] = v
        for key in src:
            src.copy(src[key], dst, name=key)
        off = src["traces/offsets"][...].astype(np.int64)
        step = np.zeros(off[-1], dtype=np.int32)
        for a, b in zip(off[:-1], off[1:]):
            n = b - a
            step[a:b] = (np.arange(n, dtype=np.int64) * 5) // max(n, 1)
        d = dst.create_dataset("traces/step", data=step)
        d.attrs["n_steps"] = np.int64(5)
PY
for np_ in 1 3; do
  run "$np_" --input plain.h5 --time-windows 5 --output w$np_.h5
done
run 2 --input stepped.h5 --output s.h5
"$WM" compare s.h5 w1.h5 || fail "--time-windows 5 differs from the h5py windows (P = 1)"
"$WM" compare s.h5 w3.h5 || fail "--time-windows 5 differs from the h5py windows (P = 3)"
run 2 --input plain.h5 plain2.h5 --time-windows 5 --output w_two.h5
run 1 --input stepped.h5 stepped2.h5 --output s_two.h5
"$WM" compare s_two.h5 w_two.h5 || fail "two files with --time-windows differ"
/usr/bin/python3 -c "
import h5py, sys
f = h5py.File('w1.h5')
assert f.attrs['time_windows'] == 5, dict(f.attrs)
assert f['features/by_step'].shape[1] == 5
assert 'time_windows' not in h5py.File('s.h5').attrs
" || fail "the output does not record the windows"

# Models: fit over the windows, and over the h5py steps; both score the same.
sel='index % 2 == 0'
"$MPIEXEC" -n 2 $MPI_FLAGS "$WM" fit --input plain.h5 --time-windows 5 --output mw.h5 \
  --select "$sel" --quiet --force
"$MPIEXEC" -n 2 $MPI_FLAGS "$WM" fit --input stepped.h5 --output ms.h5 --select "$sel" --quiet \
  --force
/usr/bin/python3 -c "
import h5py
assert h5py.File('mw.h5').attrs['time_windows'] == 5
assert 'time_windows' not in h5py.File('ms.h5').attrs
" || fail "the model does not record the windows"
run 2 --input plain.h5 --time-windows 5 --model mw.h5 --output vw.h5
run 2 --input stepped.h5 --model ms.h5 --output vs.h5
/usr/bin/python3 -c "
import h5py, numpy as np
a, b = h5py.File('vw.h5'), h5py.File('vs.h5')
for k in ['t2', 'spe', 'flag']:
    assert np.array_equal(a['wafers'][k][...], b['wafers'][k][...]), k
print('flagged', int(a['wafers']['flag'][...].sum()))
" || fail "the windows model scores differently"

# `score` of the lot with the same windows: the run's verdicts.
"$WM" score --model mw.h5 --input plain.h5 --time-windows 5 --output sw.h5 --force >/dev/null
/usr/bin/python3 -c "
import h5py, numpy as np
a, b = h5py.File('sw.h5'), h5py.File('vw.h5')
assert np.array_equal(a['wafers/flag'][...], b['wafers/flag'][...])
" || fail "score --time-windows flags other wafers than run --time-windows"
set +e
"$WM" score --model mw.h5 --input plain.h5 --output sw_bad.h5 2>err.txt
rc=$?
set -e
[ $rc -eq 2 ] && grep -q "run with --time-windows 5" err.txt && [ ! -e sw_bad.h5 ] ||
  fail "score without the model's windows: exit $rc"

# Mismatches: exit 2, naming the model or the file, no output.
expect2() {  # expect2 PATTERN run-arguments...
  local pattern=$1; shift
  rm -f bad.h5
  set +e
  run 1 "$@" --output bad.h5 2>err.txt
  local rc=$?
  set -e
  cat err.txt
  [ $rc -eq 2 ] || fail "exit $rc, not 2: $*"
  grep -q -- "$pattern" err.txt || fail "no '$pattern' in the error: $*"
  [ ! -e bad.h5 ] || fail "an output was written: $*"
}
expect2 "mw.h5: .*5 time windows.*run with --time-windows 5" --input plain.h5 --model mw.h5
expect2 "mw.h5: .*this run's steps are 3 time windows: run with --time-windows 5" \
  --input plain.h5 --time-windows 3 --model mw.h5
expect2 "ms.h5: .*recipe steps.*leave out --time-windows" --input plain.h5 --time-windows 5 \
  --model ms.h5
expect2 "stepped.h5: /traces/step holds recipe steps" --input stepped.h5 --time-windows 5
expect2 "time-windows must be in" --input plain.h5 --time-windows 5000
echo "time windows checks passed"
