#!/usr/bin/env bash
# Opens a study page in a real headless browser (Debian's chromium) and checks that it renders
# and that every chart is drawn: the page's own load handler counts the <svg> charts that have
# a non-empty box and marks, and writes the counts into #render-check.
#   browser_check.sh STUDY_PAGE_DRIVER WORK_DIR
set -euo pipefail
driver=$1 work=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
fail() { printf 'browser_check: FAIL: %s\n' "$*" >&2; exit 1; }

browser=$(command -v chromium || command -v chromium-browser || true)
if [[ -z $browser ]]; then
  echo "browser_check: no chromium; installing it (scripts/install-deps.sh chromium)"
  "$root/scripts/install-deps.sh" chromium >&2 || fail "chromium is missing and could not be installed"
  browser=$(command -v chromium) || fail "chromium still missing after installation"
fi

rm -rf "$work" && mkdir -p "$work"
"$driver" reports "$work/reports"
"$driver" study "$work/study" "$work/reports"
page=$work/study/study.html
[[ -s $page ]] || fail "no page written"

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
flags=(--headless --disable-gpu --disable-background-networking --disable-component-update --disable-sync
       --no-first-run --no-default-browser-check --user-data-dir="$profile" --virtual-time-budget=5000)
[[ $(id -u) -eq 0 ]] && flags+=(--no-sandbox)

timeout 90 "$browser" "${flags[@]}" --dump-dom "file://$page" >"$work/dom.html" 2>"$work/chromium.log" \
  || fail "chromium --dump-dom failed: $(tail -5 "$work/chromium.log")"
expected=$(grep -o '<svg' "$page" | wc -l)
((expected > 0)) || fail "the page has no <svg> chart"
charts=$(sed -n 's/.*id="render-check"[^>]*data-charts="\([0-9]*\)".*/\1/p' "$work/dom.html")
drawn=$(sed -n 's/.*id="render-check"[^>]*data-drawn="\([0-9]*\)".*/\1/p' "$work/dom.html")
[[ -n $charts && -n $drawn ]] || fail "the page's render check did not run (no data-charts/data-drawn in the DOM)"
[[ $charts == "$expected" ]] || fail "the browser saw $charts charts, the page has $expected <svg>"
[[ $drawn == "$expected" ]] || fail "only $drawn of $expected charts were drawn with a non-empty box"
grep -q 'REGRESSED:' "$work/dom.html" || fail "the regression verdict is not on the rendered page"

timeout 90 "$browser" "${flags[@]}" --window-size=1280,3000 --screenshot="$work/study.png" "file://$page" \
  >>"$work/chromium.log" 2>&1 || fail "chromium --screenshot failed"
size=$(stat -c %s "$work/study.png" 2>/dev/null || echo 0)
# A blank 1280x3000 page compresses to a few KB; charts, tables and text make it far larger.
((size > 40000)) || fail "the screenshot is only $size bytes: the page looks blank"
echo "browser_check: $drawn of $expected charts drawn; screenshot $work/study.png ($size bytes)"
