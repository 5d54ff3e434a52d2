#!/usr/bin/env bash
# `wafermill study` end to end: outputs, the regression gate's exit codes and messages.
#   study_cli_check.sh WAFERMILL STUDY_PAGE_DRIVER WORK_DIR
set -euo pipefail
wm=$1 driver=$2 work=$3
fail() { printf 'study_cli_check: FAIL: %s\n' "$*" >&2; exit 1; }
expect() {  # expect CODE DESCRIPTION -- command...
  local want=$1 what=$2; shift 3
  set +e; "$@" >"$work/out.txt" 2>"$work/err.txt"; local got=$?; set -e
  [[ $got == "$want" ]] || fail "$what: exit $got, expected $want; stderr: $(cat "$work/err.txt")"
}
rm -rf "$work" && mkdir -p "$work"
"$driver" reports "$work/ref-runs" 1.0 >/dev/null
"$driver" reports "$work/slow-runs" 1.2 >/dev/null
"$driver" reports "$work/ok-runs" 1.05 >/dev/null

expect 0 "reference study" -- "$wm" study --output-dir "$work/ref" "$work/ref-runs"
for f in study.md study.html study.json; do [[ -s $work/ref/$f ]] || fail "no $f"; done
grep -q '"kind": "strong"' "$work/ref/study.json" || fail "study.json lacks the kind"

expect 1 "20 % slower" -- "$wm" study --output-dir "$work/slow" --baseline-study "$work/ref" "$work/slow-runs"
grep -q 'regressed: dynamic/cpu P=4 time_s' "$work/err.txt" || fail "the regressed metric is not named: $(cat "$work/err.txt")"
grep -q 'REGRESSED' "$work/slow/study.md" || fail "study.md lacks the verdict"

expect 0 "5 % slower" -- "$wm" study --output-dir "$work/ok" --baseline-study "$work/ref/study.json" "$work/ok-runs"
grep -q 'PASS' "$work/out.txt" || fail "no PASS line"

printf '[time_s]\nupper = 0.25\n[throughput_wafers_per_s]\nlower = -0.25\n' >"$work/loose.ini"
expect 0 "20 % slower within a 25 % tolerance" -- "$wm" study --output-dir "$work/loose" \
  --baseline-study "$work/ref" --tolerances "$work/loose.ini" "$work/slow-runs"

expect 2 "missing report" -- "$wm" study --output-dir "$work/bad" "$work/nowhere.json"
[[ ! -e $work/bad/study.json ]] || fail "bad input left a study behind"
expect 2 "bad kind" -- "$wm" study --output-dir "$work/bad" --kind medium "$work/ref-runs"
printf '[time_s]\nlower = 0.5\n' >"$work/bad.ini"
expect 2 "bad tolerances" -- "$wm" study --output-dir "$work/bad" --tolerances "$work/bad.ini" \
  --baseline-study "$work/ref" "$work/ref-runs"
expect 2 "no reports" -- "$wm" study --output-dir "$work/bad"
echo "study_cli_check: ok"
