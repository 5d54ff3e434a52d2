#!/bin/bash
# Files the user owns (docs/RELIABILITY.md "Files the user owns"): no run may destroy a file it
# was not asked to overwrite, two jobs may not share an output, a store touches only its own
# files, a hung rank in the picture pass ends the job, a full store disk loses nothing.
#   user_files_check.sh CASE
# Environment: WM, MPIEXEC, MPI_FLAGS, DATA (in.h5: 400 wafers of traces; ref.h5: its
# reference output with --block-size 8) and PICTURES (a maps + images file).
# Every file the case names that the run was not asked to overwrite is checked byte for byte.
set -uo pipefail

case_name=$1
work=$DATA/user_files/$case_name
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
cp "$DATA/in.h5" in.h5
run=(--baseline none --block-size 8 --quiet)

fail() { printf 'FAIL %s: %s\n' "$case_name" "$*"; exit 1; }
note() { printf '%s: %s\n' "$case_name" "$*"; }
launch() { local np=$1; shift; $MPIEXEC -n "$np" $MPI_FLAGS "$WM" run "$@" < /dev/null; }
launch_bg() { local np=$1; shift; $MPIEXEC -n "$np" $MPI_FLAGS "$WM" run "$@" < /dev/null & launcher=$!; }
sum() { sha256sum "$@" | awk '{print $1}'; }
# expect_exit RC REGEX CMD...: CMD exits RC and its stderr matches REGEX.
expect_exit() {
  local want=$1 regex=$2; shift 2
  "$@" 2> err.txt; local rc=$?
  cat err.txt
  ((rc == want)) || fail "exit $rc, expected $want: $*"
  grep -Eq -- "$regex" err.txt || fail "message does not match '$regex'"
}
# A run that would die at its first unit exits 2 instead: the check came before any work.
before_work() { WAFERMILL_FAULT=kill:rank=all:after_units=0 "$@"; }
unchanged() { [[ $(sum "$1") == "$2" ]] || fail "$1 was changed"; }

case "$case_name" in
  report_is_input)
    before=$(sum in.h5)
    expect_exit 2 "--input in.h5 and --report in.h5 are the same file" \
      before_work launch 2 --input in.h5 --output o.h5 --report in.h5 "${run[@]}"
    unchanged in.h5 "$before"; [[ ! -e o.h5 ]] || fail "an output was written"
    # The report named as the (existing) output, even with --force.
    launch 1 --input in.h5 --output o.h5 --store none "${run[@]}" || fail "the first run failed"
    out_before=$(sum o.h5)
    expect_exit 2 "--output o.h5 and --report ./o.h5 are the same file" \
      before_work launch 2 --input in.h5 --output o.h5 --report ./o.h5 --force "${run[@]}"
    unchanged o.h5 "$out_before"; unchanged in.h5 "$before"
    # `export` may not write its CSV over the output it reads, nor over a file without --force.
    expect_exit 2 "the output ./o.h5 and the input o.h5 are the same file" "$WM" export --input o.h5 --output ./o.h5
    unchanged o.h5 "$out_before"
    "$WM" export --input o.h5 --output v.csv || fail "export failed"
    expect_exit 2 "v.csv exists; pass --force" "$WM" export --input o.h5 --output v.csv
    # Any other file that is not a report needs --force; a report is replaced.
    printf 'my notes\n' > notes.txt; notes=$(sum notes.txt)
    expect_exit 2 "--report notes.txt: exists and is not a report" \
      before_work launch 2 --input in.h5 --output o2.h5 --report notes.txt "${run[@]}"
    unchanged notes.txt "$notes"
    launch 2 --input in.h5 --output o2.h5 --report r.json "${run[@]}" || fail "a run with a new report failed"
    launch 2 --input in.h5 --output o2.h5 --report r.json --force "${run[@]}" || fail "rewriting a report failed"
    note "input, output and a foreign file kept; reports are replaced"
    ;;

  input_spellings)
    before=$(sum in.h5)
    ln -s in.h5 link.h5
    mkdir sub
    for spelling in ./in.h5 "$work/in.h5" link.h5 sub/../in.h5; do
      expect_exit 2 "are the same file" \
        before_work launch 2 --input in.h5 --output "$spelling" --force "${run[@]}"
      unchanged in.h5 "$before"
    done
    ln in.h5 hard.h5
    expect_exit 2 "are the same file" before_work launch 2 --input hard.h5 --output in.h5 --force "${run[@]}"
    expect_exit 2 "--input in.h5 and --store ./in.h5 are the same file" \
      before_work launch 2 --input in.h5 --output o.h5 --store ./in.h5 "${run[@]}"
    unchanged in.h5 "$before"
    note "4 spellings of the input, a hard link and a store named as the input: exit 2, input kept"
    ;;

  output_checked_first)
    mkdir outdir
    expect_exit 2 "--output outdir: is a directory" \
      before_work launch 2 --input in.h5 --output outdir --force "${run[@]}"
    expect_exit 2 "--report missing_dir/r.json: the directory missing_dir does not exist" \
      before_work launch 2 --input in.h5 --output o.h5 --report missing_dir/r.json "${run[@]}"
    [[ ! -e o.h5 ]] || fail "an output was left by a run that exited 2"
    mkdir ro && chmod 555 ro
    if [[ $(id -u) -ne 0 ]]; then
      expect_exit 2 "--report ro/r.json: cannot create files in ro" \
        before_work launch 2 --input in.h5 --output o.h5 --report ro/r.json "${run[@]}"
    fi
    note "a directory as output and an unwritable report: exit 2 before any unit"
    ;;

  store_foreign)
    # A directory with files of others is refused; nothing in it is touched.
    mkdir mine
    for f in maps-notes.txt scores-2025.csv 'draft.tmp.123' block-1.wmb README; do printf '%s\n' "$f" > "mine/$f"; done
    before=$(cd mine && sha256sum *)
    expect_exit 2 "--store mine: the directory holds 5 file\\(s\\) that are not a wafermill result store's" \
      before_work launch 2 --input in.h5 --output o.h5 --store mine "${run[@]}"
    [[ $(cd mine && sha256sum *) == "$before" ]] || fail "files in the refused directory changed"
    # The output's own directory as store: refused too (it holds the input).
    expect_exit 2 "not a wafermill result store's" \
      before_work launch 2 --input in.h5 --output o.h5 --store . --resume "${run[@]}"
    # A store of its own, with files of others added later: a run, a --resume and a picture
    # run with the same store touch none of them.
    launch 2 --input in.h5 --output o.h5 --store st "${run[@]}" || fail "a run with a new store failed"
    [[ -e st/WAFERMILL-STORE ]] || fail "the store has no marker"
    for f in maps-notes.txt scores-x-y.wmp 'draft.tmp.123' 'block-7.wmb.tmp.9'; do printf '%s\n' "$f" > "st/$f"; done
    keep=$(cd st && sha256sum maps-notes.txt scores-x-y.wmp draft.tmp.123 block-7.wmb.tmp.9)
    touch st/block-00000000000000000001-00000000000000aa.wmb.tmp.77
    launch 2 --input in.h5 --output o.h5 --store st --resume --force "${run[@]}" || fail "--resume failed"
    "$WM" compare "$DATA/ref.h5" o.h5 || fail "the output differs from the reference"
    [[ ! -e st/block-00000000000000000001-00000000000000aa.wmb.tmp.77 ]] || fail "the store's own stale temporary was kept"
    launch 2 --input "$PICTURES" --output p.h5 --store st "${run[@]}" || fail "a picture run with the store failed"
    [[ $(cd st && sha256sum maps-notes.txt scores-x-y.wmp draft.tmp.123 block-7.wmb.tmp.9) == "$keep" ]] ||
      fail "the store removed or changed files that are not its own"
    note "foreign directories refused; 4 foreign files in a store kept through a run, a resume and a picture run"
    ;;

  lock)
    # Job A (slowed) holds the output; job B on the same output ends at once with exit 2
    # naming A; A's output is A's. Then a job killed by SIGKILL leaves no lock that blocks.
    "$WM" generate --output other.h5 --wafers 50 --sensors 4 --seed 9 > /dev/null || fail "generate failed"
    WAFERMILL_FAULT=delay:rank=all:ms=300 launch_bg 2 --input in.h5 --output o.h5 --dynamic-factor 16 "${run[@]}"
    a=$launcher
    for _ in $(seq 100); do [[ -e o.h5.lock ]] && break; sleep 0.05; done
    sleep 0.3
    expect_exit 2 "the output o.h5 is in use by another wafermill job \\(host [^ ]+ pid [0-9]+ since" \
      launch 2 --input other.h5 --output o.h5 --force "${run[@]}"
    expect_exit 2 "the result store o.h5.wmstore is in use by another wafermill job" \
      launch 1 --input other.h5 --output o3.h5 --store o.h5.wmstore "${run[@]}"
    wait "$a" || fail "job A failed"
    "$WM" compare "$DATA/ref.h5" o.h5 || fail "job A's output is not A's results"
    [[ ! -e o.h5.lock ]] || fail "the lock file stayed after the run"
    # SIGKILL of a job holding the lock: the next run takes it.
    WAFERMILL_FAULT=delay:rank=all:ms=150 launch_bg 2 --input in.h5 --output o4.h5 "${run[@]}"
    for _ in $(seq 100); do [[ -e o4.h5.lock ]] && break; sleep 0.05; done
    kids=$(pgrep -P "$launcher"); kill -9 $kids "$launcher" 2>/dev/null; wait "$launcher" 2>/dev/null
    for pid in $kids; do while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done; done
    [[ -e o4.h5.lock ]] || note "(the killed job's lock file is gone)"
    launch 2 --input in.h5 --output o4.h5 --resume "${run[@]}" || fail "the run after a killed job's lock failed"
    "$WM" compare "$DATA/ref.h5" o4.h5 || fail "the resumed output differs"
    note "second job refused with the holder named; a killed job's lock does not block"
    ;;

  picture_hang|picture_stop)
    # A hung (fault injection) or stopped (SIGSTOP) rank in the picture pass ends the job
    # within --rank-timeout, naming the rank.
    policies="dynamic static"
    [[ $case_name == picture_stop ]] && policies=dynamic  # static: one short unit per rank
    for policy in $policies; do
      rm -f err.txt
      start=$(date +%s)
      if [[ $case_name == picture_hang ]]; then
        # static hands each rank one unit per pass: rank 1 hangs in the images' first pass.
        after=3; [[ $policy == static ]] && after=1
        WAFERMILL_FAULT=hang:rank=1:after_units=$after launch 2 --input "$PICTURES" --output p.h5 --force \
          --policy "$policy" --rank-timeout 4 --dynamic-factor 16 "${run[@]}" 2> err.txt
        rc=$?
      else
        WAFERMILL_FAULT=delay:rank=all:ms=100 launch_bg 2 --input "$PICTURES" --output p.h5 --force \
          --policy "$policy" --rank-timeout 4 --dynamic-factor 16 "${run[@]}" 2> err.txt
        sleep 1.5
        victim=""
        for pid in $(pgrep -P "$launcher"); do
          tr '\0' '\n' < /proc/$pid/environ 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1' && victim=$pid
        done
        [[ -n $victim ]] || fail "rank 1's process not found"
        kill -STOP "$victim"
        wait "$launcher"; rc=$?
        kill -CONT "$victim" 2>/dev/null; kill -9 "$victim" 2>/dev/null
      fi
      took=$(( $(date +%s) - start ))
      cat err.txt
      ((rc != 0)) || fail "$policy: the job with a hung rank exited 0"
      ((took < 40)) || fail "$policy: the job took $took s to end with --rank-timeout 4"
      grep -Eq "rank [0-9]+ (sent nothing|\\(.*\\) made no progress) for [0-9.]+ s \\(--rank-timeout 4\\)" err.txt ||
        fail "$policy: the message does not name the hung rank"
      [[ ! -e p.h5 ]] || fail "$policy: an output was written"
      note "$policy: ended after $took s, exit $rc"
    done
    ;;

  store_full)
    # The store on a disk that fills up during the run: a warning, the run goes on and its
    # output is complete; --resume does the same. Trace pass and picture pass alike.
    mkdir small
    if ! mount -t tmpfs -o size=96k tmpfs small 2>/dev/null; then
      echo "SKIP: cannot mount a small tmpfs here (needs root and CAP_SYS_ADMIN)"; exit 77
    fi
    trap 'umount "$work/small" 2>/dev/null' EXIT
    expect_exit 0 "the result store small/st cannot be written \\(.*No space left on device\\).*goes on without it" \
      launch 2 --input in.h5 --output o.h5 --store small/st "${run[@]}"
    "$WM" compare "$DATA/ref.h5" o.h5 || fail "the output differs from the reference"
    compgen -G "small/st/*.tmp.*" > /dev/null && fail "temporary entries left in the full store"
    expect_exit 0 "cannot be written" launch 2 --input in.h5 --output o.h5 --store small/st --resume --force \
      --report r.json "${run[@]}"
    "$WM" compare "$DATA/ref.h5" o.h5 || fail "the resumed output differs from the reference"
    grep -q '"store_failure"' r.json || fail "the report does not say the store failed"
    rm -rf small/st
    launch 1 --input "$PICTURES" --output pref.h5 --store none "${run[@]}" || fail "picture reference failed"
    expect_exit 0 "the result store small/ps cannot be written" \
      launch 2 --input "$PICTURES" --output p.h5 --store small/ps "${run[@]}"
    "$WM" compare pref.h5 p.h5 || fail "the picture output differs from the reference"
    note "a full store disk: warned, outputs complete and identical"
    ;;

  sigterm)
    # SIGTERM to mpirun: the job says it was terminated and what --resume will reuse.
    WAFERMILL_FAULT=delay:rank=all:ms=300 launch_bg 2 --input in.h5 --output o.h5 --dynamic-factor 16 \
      "${run[@]}" 2> err.txt
    sleep 2.5
    kill -TERM "$launcher"; wait "$launcher"; rc=$?
    sleep 0.5
    cat err.txt
    ((rc != 0)) || fail "a terminated job exited 0"
    grep -Eq "terminated \\(SIGTERM\\); no output was written\\. The result store o.h5.wmstore keeps [0-9]+ finished block\\(s\\): rerun with --resume" err.txt ||
      fail "no message saying the job was terminated and what --resume reuses"
    [[ ! -e o.h5 ]] && ! compgen -G "o.h5.tmp.*" > /dev/null || fail "output or temporary output left"
    said=$(grep -Eo 'keeps [0-9]+' err.txt | awk '{print $2}')
    launch 2 --input in.h5 --output o.h5 --resume --report r.json "${run[@]}" || fail "--resume failed"
    reused=$(/usr/bin/python3 -c "import json; print(json.load(open('r.json'))['parallel']['blocks_reused'])")
    ((reused >= said && said > 0)) || fail "the message said $said blocks, --resume reused $reused"
    "$WM" compare "$DATA/ref.h5" o.h5 || fail "the resumed output differs"
    note "message said $said blocks kept; --resume reused $reused"
    ;;

  *) fail "unknown case" ;;
esac
echo "ok $case_name"
