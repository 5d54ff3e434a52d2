#!/usr/bin/env bash
# Exit codes, error messages and INI precedence of the wafermill command line.
# usage: cli_check.sh WAFERMILL WORKDIR MPIEXEC [mpiexec flags...]
set -uo pipefail
wm=$1 work=$2 mpiexec=$3
inputs=$(cd "$(dirname "$0")/../../faults/inputs" && pwd)
shift 3
mpi=("$mpiexec" "$@")
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
failures=0
expect() {  # expect NAME CODE REGEX -- command...
  local name=$1 code=$2 regex=$3
  shift 4
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  if [[ $rc -ne $code ]]; then
    echo "FAIL $name: exit $rc, expected $code"; echo "$out" | tail -5; failures=$((failures + 1)); return
  fi
  if [[ -n $regex ]] && ! grep -Eq -- "$regex" <<<"$out"; then
    echo "FAIL $name: output does not match /$regex/"; echo "$out" | tail -5; failures=$((failures + 1)); return
  fi
  echo "ok   $name"
}

"$wm" generate --output in.h5 --wafers 60 --sensors 2 --steps 0 --mean-length 30 --seed 3 >/dev/null || exit 1

expect help 0 "usage: wafermill <command>" -- "$wm" --help
expect run-help 0 "--policy" -- "$wm" run --help
expect no-command 2 "usage" -- "$wm"
expect unknown-command 2 'unknown command "frobnicate"' -- "$wm" frobnicate
expect unknown-option 2 "unrecognised option|unrecognized option" -- "$wm" run --input in.h5 --output o.h5 --bogus
expect missing-input 2 "--input is required" -- "$wm" run --output o.h5
expect bad-policy 2 'unknown partition policy|policy' -- "$wm" run --input in.h5 --output o.h5 --policy fastest
expect bad-feature 2 "unknown feature 'medain'" -- "$wm" run --input in.h5 --output o.h5 --features mean,medain
expect no-such-file 2 "nothere.h5" -- "${mpi[@]}" -n 2 "$wm" run --input nothere.h5 --output o.h5 --baseline none -q
[[ ! -e o.h5 ]] && echo "ok   no output after bad input" || { echo "FAIL output written after bad input"; failures=$((failures + 1)); }
expect not-hdf5 2 "not an HDF5 file" -- bash -c "echo hello > text.h5; ${mpi[*]} -n 2 '$wm' run --input text.h5 --output o.h5 --baseline none -q"

# An existing output is kept without --force.
echo precious > kept.h5
expect no-force 2 "exists; pass --force" -- "${mpi[@]}" -n 2 "$wm" run --input in.h5 --output kept.h5 --baseline none -q
[[ $(cat kept.h5) == precious ]] && echo "ok   existing output untouched" || { echo "FAIL existing output overwritten"; failures=$((failures + 1)); }

# INI values apply; the command line wins over them.
cat > job.ini <<INI
[run]
input = in.h5
output = from_ini.h5
policy = static
threshold = 4.5
baseline = none
quiet = true
INI
expect ini-run 0 "" -- "${mpi[@]}" -n 2 "$wm" run --config job.ini --policy weighted --report r.json
expect ini-precedence 0 "" -- /usr/bin/python3 -c "
import json; r = json.load(open('r.json')); c = r['config']
assert c['policy'] == 'weighted', c['policy']          # command line wins
assert c['threshold'] == 4.5, c['threshold']           # INI applies
assert c['output'] == 'from_ini.h5' and r['parallel']['policy'] == 'weighted'"
expect ini-unknown-key 2 'unknown key "polcy"' -- bash -c "printf '[run]\npolcy = static\n' > bad.ini; '$wm' run --config bad.ini --input in.h5 --output x.h5"
expect validate-ok 0 "in.h5: valid" -- "$wm" validate in.h5
expect validate-bad 2 "text.h5: 1 problem" -- "$wm" validate text.h5
# A file on which HDF5 1.10.8 itself segfaults: validate reads it in a child and reports it.
expect validate-hdf5-crash 2 "HDF5 crashed \\(Segmentation fault\\)" -- "$wm" validate "$inputs/hdf5_local_heap_segv.h5"

((failures == 0)) || { echo "$failures CLI check(s) failed"; exit 1; }
echo "all CLI checks passed"
