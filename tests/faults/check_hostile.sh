#!/bin/bash
# One hostile input through the real CLI (docs/RELIABILITY.md "Hostile input"):
#   check_hostile.sh validate|run FILE EXPECTED_RC REGEX
# validate: `wafermill validate FILE`; run: `wafermill run` under mpiexec with 2 ranks.
# Checks the exit code, that the message matches REGEX (extended), and, for run, that no
# output, temporary output or result store was left. Environment: WM, MPIEXEC, MPI_FLAGS;
# OUT_DIR (where the run's output would go; default: beside FILE); RUN_ARGS (more run options).
set -uo pipefail
mode=$1 file=$2 want_rc=$3 regex=$4
dir=${OUT_DIR:-$(dirname "$file")}
name=$(basename "$file" .h5)
out=$dir/out_${name}_$mode.h5
rm -rf "$out" "$out".tmp.* "$out.wmstore"

if [[ $mode == validate ]]; then
  msg=$(timeout 60 "$WM" validate "$file" 2>&1)
  rc=$?
else
  msg=$(timeout 60 $MPIEXEC -n 2 $MPI_FLAGS "$WM" run --input "$file" --output "$out" --quiet \
    --baseline none ${RUN_ARGS:-} 2>&1)
  rc=$?
fi
printf '%s\n' "$msg"
fail() { printf 'FAIL %s %s: %s\n' "$mode" "$name" "$*"; exit 1; }
((rc == want_rc)) || fail "exit code $rc, expected $want_rc"
grep -Eq -- "$regex" <<<"$msg" || fail "no message matching: $regex"
if [[ $mode == run ]]; then
  if ((want_rc == 0)); then
    [[ -s $out ]] || fail "no output although the run succeeded"
  else
    [[ -e $out ]] && fail "an output file exists"
    [[ -e $out.wmstore ]] && fail "a result store was left"
  fi
  compgen -G "$out.tmp.*" >/dev/null && fail "a temporary output was left"
fi
echo "ok: $mode $name exit $rc"
exit 0
