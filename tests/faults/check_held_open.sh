#!/bin/bash
# A file held open by a live SWMR writer, through the real CLI (docs/RELIABILITY.md
# "Hostile input"): check_held_open.sh validate|run DIR
# Starts tests/faults/make_files.py swmr_writer on DIR/swmr_held_MODE.h5, waits until the file
# is written and in SWMR mode, runs check_hostile.sh on it (exit code 2, the message naming the
# file and saying it is open for writing), checks the writer was alive throughout, then stops it.
# Environment: as check_hostile.sh.
set -uo pipefail
mode=$1 dir=$2
here=$(dirname "$0")
file=$dir/swmr_held_$mode.h5
rm -f "$file"
coproc WRITER { exec /usr/bin/python3 "$here/make_files.py" swmr_writer "$file"; }
writer=$WRITER_PID
line=
read -r -t 30 line <&"${WRITER[0]}"
if [[ $line != ready ]]; then
  echo "FAIL: the SWMR writer did not start"
  kill "$writer" 2>/dev/null
  exit 1
fi
"$here/check_hostile.sh" "$mode" "$file" 2 \
  "swmr_held_$mode.h5: the file is marked open for writing .*: another process is writing it"
rc=$?
if ! kill -0 "$writer" 2>/dev/null; then
  echo "FAIL: the writer had ended: this did not test a live writer"
  rc=1
fi
kill "$writer" 2>/dev/null
wait "$writer" 2>/dev/null
exit $rc
