#!/bin/bash
# Fault tests of the real job under mpiexec (docs/RELIABILITY.md). One case per call:
#   resume_check.sh CASE
# Environment: WM (the wafermill binary), MPIEXEC, MPI_FLAGS (launcher flags), DATA (the
# directory with in.h5 = 400 wafers, head.h5 = its first 300 wafers, ref.h5 = the reference
# output of an uninterrupted single-rank run over in.h5 with --block-size 8).
# Each case fails (exit 1, with the reason) when the promised behaviour breaks.
set -uo pipefail

case_name=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$DATA/$case_name
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
out=$work/out.h5
store=$out.wmstore
blocks=50  # 400 wafers / --block-size 8
run=(--input "$DATA/in.h5" --output "$out" --quiet --baseline none --block-size 8)

fail() { printf 'FAIL %s: %s\n' "$case_name" "$*"; exit 1; }
note() { printf '%s: %s\n' "$case_name" "$*"; }
launch() { local np=$1; shift; $MPIEXEC -n "$np" $MPI_FLAGS "$WM" run "$@"; }
# Starts mpiexec itself in the background (not a subshell: signals must reach mpiexec).
launch_bg() { local np=$1; shift; $MPIEXEC -n "$np" $MPI_FLAGS "$WM" run "$@" & launcher=$!; }
# The entries the store's packs list (one pack file per batch of blocks).
entries() { /usr/bin/python3 "$here/store_pack.py" count "$store"; }
figure() { /usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['parallel'][sys.argv[2]])" "$1" "$2"; }
# No output, no temporary output, no temporary store entry.
no_output() {
  [[ -e $out ]] && fail "an output file exists after a failed or stopped run"
  compgen -G "$out.tmp.*" >/dev/null && fail "a temporary output was left: $(ls "$out".tmp.*)"
  return 0
}
# The output must be bitwise the reference's; the store must have been cleaned of temporaries.
identical() {
  "$WM" compare "$DATA/ref.h5" "$out" || fail "the resumed output differs from an uninterrupted run"
  compgen -G "$out.tmp.*" >/dev/null && fail "temporary output left after the resume: $(ls "$out".tmp.*)"
  compgen -G "$store/*.tmp.*" >/dev/null && fail "temporary store entries left after the resume"
  return 0
}
# Resume and check that exactly the blocks the store held were reused.
resume_exactly() {
  local held=$1 np=${2:-2}
  launch "$np" "${run[@]}" --resume --report "$work/resume.json" || fail "the --resume run failed"
  local reused computed
  reused=$(figure resume.json blocks_reused) computed=$(figure resume.json blocks_computed)
  note "store held $held blocks; resume reused $reused, computed $computed"
  ((reused == held)) || fail "resume reused $reused blocks, the store held $held"
  ((computed == blocks - held)) || fail "resume computed $computed blocks, expected $((blocks - held)) (only the lost ones)"
  identical
}
# Kills a launcher and its ranks with SIGKILL, ranks first (pids of the launcher's children).
kill_all() {
  local launcher=$1 kids pid
  kids=$(pgrep -P "$launcher")
  kill -9 $kids "$launcher" 2>/dev/null
  wait "$launcher" 2>/dev/null
  for pid in $kids; do
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  done
}

case "$case_name" in
  kill_one)
    # Rank 1 dies by SIGKILL when it starts its third unit; mpirun ends the job.
    WAFERMILL_FAULT=kill:rank=1:after_units=2 launch 2 "${run[@]}" --dynamic-factor 16 2>err.txt
    rc=$?
    cat err.txt
    ((rc != 0)) || fail "the run with a killed rank exited 0"
    grep -q 'WAFERMILL_FAULT: killing this rank' err.txt || fail "the fault was not injected"
    no_output
    held=$(entries)
    ((held > 0 && held < blocks)) || fail "the store holds $held of $blocks blocks; expected some, not all"
    resume_exactly "$held"
    ;;

  kill_all)
    # SIGKILL of mpirun and every rank at a random moment of a run slowed to ~3 s.
    export WAFERMILL_FAULT=delay:rank=all:ms=120
    launch_bg 2 "${run[@]}" --dynamic-factor 16
    unset WAFERMILL_FAULT
    delay=$(( (RANDOM % 2000) + 300 ))
    sleep "$(printf '0.%03d' $((delay % 1000)))"; ((delay >= 1000)) && sleep 1
    kill_all "$launcher"
    note "killed mpirun and its ranks after ${delay} ms"
    [[ -e $out ]] && fail "an output exists although the run was killed"
    held=$(entries)
    resume_exactly "$held"
    ;;

  usr1)
    # Slurm's warning: SIGUSR1 to mpirun, which forwards it to every rank.
    export WAFERMILL_FAULT=delay:rank=all:ms=120
    launch_bg 2 "${run[@]}" --dynamic-factor 16 2>err.txt
    unset WAFERMILL_FAULT
    for ((i = 0; i < 200; i++)); do (($(entries) >= 4)) && break; sleep 0.05; done
    kill -USR1 "$launcher"
    wait "$launcher"
    rc=$?
    cat err.txt
    ((rc == 3)) || fail "exit code $rc after SIGUSR1, expected 3 (stopped early, resumable)"
    grep -q 'stopped early by SIGUSR1' err.txt || fail "no 'stopped early by SIGUSR1' message"
    grep -q 'rerun with --resume' err.txt || fail "the message does not say how to resume"
    no_output
    held=$(entries)
    ((held < blocks)) || fail "every block was done before the signal; the test proves nothing"
    resume_exactly "$held"
    ;;

  time_limit)
    # The job's own wall-clock budget.
    WAFERMILL_FAULT=delay:rank=all:ms=120 launch 2 "${run[@]}" --dynamic-factor 16 --time-limit 1 2>err.txt
    rc=$?
    cat err.txt
    ((rc == 3)) || fail "exit code $rc at the time limit, expected 3"
    grep -q 'stopped early by the --time-limit of 1 s' err.txt || fail "no time-limit message"
    no_output
    held=$(entries)
    ((held < blocks)) || fail "every block was done within the limit; the test proves nothing"
    resume_exactly "$held" 3
    ;;

  cache)
    # An unchanged input: the second run computes nothing and writes the same output.
    launch 2 "${run[@]}" || fail "the first run failed"
    launch 2 "${run[@]}" --resume --force --report "$work/again.json" || fail "the rerun failed"
    reused=$(figure again.json blocks_reused) computed=$(figure again.json blocks_computed)
    note "rerun reused $reused, computed $computed"
    ((reused == blocks && computed == 0)) || fail "the rerun over an unchanged input computed $computed blocks"
    identical
    ;;

  cache_budget)
    # The oversize path (a wafer wider than the read budget, read one column at a time) keys its
    # blocks by the same row hash as the row path: a run with the smallest budget (32 KiB of
    # reads) over wafers of 3000 rows x 8 float32 sensors (96 KB; a column 12 KB), then a rerun
    # with the default budget, reuses every block and writes what a run without a store writes.
    "$WM" generate --output "$work/wide.h5" --force --wafers 40 --sensors 8 --mean-length 3000 \
      --length-sigma 0 --seed 3 >/dev/null || fail "cannot generate the wide input"
    wide=(--input "$work/wide.h5" --output "$out" --quiet --baseline none --block-size 8)
    launch 2 "${wide[@]}" --memory-budget 0.0625 || fail "the run with the small budget failed"
    # --rehash: the keys from hashing the file, not from the first run's file records.
    launch 2 "${wide[@]}" --resume --rehash --force --report "$work/again.json" || fail "the rerun failed"
    reused=$(figure again.json blocks_reused) computed=$(figure again.json blocks_computed)
    note "budget 64 KiB then the default: reused $reused, computed $computed"
    ((reused == 5 && computed == 0)) || fail "the oversize path's keys differ from the row path's"
    launch 2 --input "$work/wide.h5" --output "$work/plain.h5" --quiet --baseline none \
      --block-size 8 --store none || fail "the run without a store failed"
    "$WM" compare "$work/plain.h5" "$out" || fail "the reused output differs from a plain run"
    # A fresh run on the row path hashes each chunk (8 wafers of 96 KB) slice by slice beside the
    # extraction (256 KiB slices: 2 wafers); a resume hashes whole chunks: the same keys.
    rm -rf "$out" "$store"
    launch 2 "${wide[@]}" || fail "the fresh run with the default budget failed"
    launch 2 "${wide[@]}" --resume --rehash --force --report "$work/sliced.json" || fail "the second rerun failed"
    reused=$(figure sliced.json blocks_reused) computed=$(figure sliced.json blocks_computed)
    note "fresh run then resume: reused $reused, computed $computed"
    ((reused == 5 && computed == 0)) || fail "the keys hashed slice by slice differ from a resume's"
    ;;

  append)
    # Nightly growth: 300 wafers, then the same file with 100 more. Blocks 0-36 are unchanged;
    # block 37 (wafers 296-303) was partial and now holds more wafers; 38-49 are new.
    launch 2 --input "$DATA/head.h5" --output "$out" --quiet --baseline none --block-size 8 \
      || fail "the run over the first 300 wafers failed"
    launch 2 "${run[@]}" --resume --force --report "$work/grown.json" || fail "the run over the grown input failed"
    reused=$(figure grown.json blocks_reused) computed=$(figure grown.json blocks_computed)
    note "grown input: reused $reused, computed $computed"
    ((reused == 37 && computed == 13)) || fail "expected 37 reused and 13 computed blocks"
    identical
    (($(entries) == blocks)) || fail "the store holds $(entries) entries after the run, expected $blocks (the old partial block pruned)"
    ;;

  corrupt_entry)
    # A damaged store entry is recomputed, never trusted.
    launch 2 "${run[@]}" || fail "the first run failed"
    victim=$(/usr/bin/python3 "$here/store_pack.py" damage "$store" 7) || fail "cannot damage entry 7"
    note "damaged the payload of entry $victim"
    launch 2 "${run[@]}" --resume --force --report "$work/again.json" 2>err.txt || fail "the rerun failed"
    cat err.txt
    grep -q 'checksum mismatch' err.txt || fail "the damaged entry was not reported"
    reused=$(figure again.json blocks_reused) computed=$(figure again.json blocks_computed)
    ((reused == blocks - 1 && computed == 1)) || fail "expected $((blocks - 1)) reused and 1 computed, got $reused and $computed"
    identical
    ;;

  torn_pack)
    # A pack cut short (an operating-system crash before its data reached the disk): the
    # entries before the cut are reused, the cut ones are recomputed, each with its reason.
    launch 2 "${run[@]}" || fail "the first run failed"
    cut=$(/usr/bin/python3 "$here/store_pack.py" tear "$store") || fail "cannot tear a pack"
    note "cut $cut entries off a pack"
    ((cut > 1)) || fail "the largest pack holds too few entries; the test proves nothing"
    launch 2 "${run[@]}" --resume --force --report "$work/again.json" 2>err.txt || fail "the rerun failed"
    cat err.txt
    (($(grep -c 'recomputed: .*truncated' err.txt) == cut)) || fail "expected $cut entries reported truncated"
    reused=$(figure again.json blocks_reused) computed=$(figure again.json blocks_computed)
    ((reused == blocks - cut && computed == cut)) || fail "expected $((blocks - cut)) reused and $cut computed, got $reused and $computed"
    identical
    # The recomputed blocks were stored again (the prune keeps their new copies): a third run
    # reuses every block.
    launch 2 "${run[@]}" --resume --force --report "$work/third.json" 2>err.txt || fail "the third run failed"
    reused=$(figure third.json blocks_reused)
    ((reused == blocks)) || fail "the third run reused $reused of $blocks blocks"
    grep -q recomputed err.txt && fail "the third run recomputed: $(cat err.txt)"
    identical
    ;;

  hang_worker | hang_rank0)
    # A rank that stops making progress: the job ends within the timeout plus a margin and the
    # message names the rank and the blocks it held.
    rank=1 expect='rank 1 sent nothing for [0-9.]+ s \(--rank-timeout 4\) while holding blocks \[[0-9]+, [0-9]+\)'
    if [[ $case_name == hang_rank0 ]]; then
      rank=0 expect='rank 0 \([^)]*\) made no progress for [0-9.]+ s \(--rank-timeout 4\) while computing, holding blocks \[[0-9]+, [0-9]+\)'
    fi
    start=$(date +%s%N)
    WAFERMILL_FAULT=hang:rank=$rank:after_units=1 timeout 60 $MPIEXEC -n 3 $MPI_FLAGS "$WM" run \
      "${run[@]}" --dynamic-factor 16 --rank-timeout 4 2>err.txt
    rc=$?
    elapsed_ms=$((($(date +%s%N) - start) / 1000000))
    cat err.txt
    note "ended after $elapsed_ms ms with exit code $rc"
    ((rc != 0 && rc != 124)) || fail "exit code $rc (124: it hung until the test's own timeout)"
    ((elapsed_ms < 12000)) || fail "took $elapsed_ms ms, more than the 4 s timeout + 8 s margin"
    grep -Eq "$expect" err.txt || fail "no message naming rank $rank and its blocks"
    no_output
    ;;

  *) fail "unknown case" ;;
esac
note ok
