#!/bin/bash
# Several input files through the real CLI under mpiexec (issue 19; docs/FORMAT.md "Several input
# files"): a bad file among good ones ends the job with exit 2 naming it and leaves nothing; with
# --skip-bad-files the run finishes and its report lists the file; every way of naming the same
# files (files, a directory, a glob, a manifest, INI lines, slurm/run.sbatch, scripts/study.sh)
# gives the same output.
#   many_inputs_check.sh CASE      CASE: bad_file | skip | forms | named_twice
# Environment: WM, MPIEXEC, MPI_FLAGS, DATA (DATA/hostile from faults.generate), SOURCE (the
# source tree, for tests/faults/inputs).
set -uo pipefail

case_name=$1
work=$DATA/many_inputs/$case_name
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
PY=/usr/bin/python3
run=(--baseline none --block-size 8 --quiet)

fail() { printf 'FAIL %s: %s\n' "$case_name" "$*"; exit 1; }
note() { printf '%s: %s\n' "$case_name" "$*"; }
launch() { local np=$1; shift; $MPIEXEC -n "$np" $MPI_FLAGS "$WM" run "$@" < /dev/null; }
# expect_exit RC REGEX CMD...: CMD exits RC and its stderr matches REGEX.
expect_exit() {
  local want=$1 regex=$2; shift 2
  "$@" 2> err.txt; local rc=$?
  cat err.txt
  ((rc == want)) || fail "exit $rc, expected $want: $*"
  grep -Eq -- "$regex" err.txt || fail "message does not match '$regex'"
}
nothing_left() {  # nothing_left OUT: no output, temporary output or store
  [[ -e $1 ]] && fail "an output $1 was written"
  [[ -e $1.wmstore ]] && fail "a result store $1.wmstore was left"
  compgen -G "$1.tmp.*" > /dev/null && fail "a temporary output was left"
  return 0
}
# make_night DIR: three small trace files, named out of order of their seeds.
make_night() {
  mkdir -p "$1"
  local seed=1
  for name in lot-b lot-a lot-c; do
    "$WM" generate --output "$1/$name.h5" --wafers $((30 + 7 * seed)) --sensors 3 --steps 2 \
      --mean-length 60 --seed $((seed + 40)) > /dev/null || fail "generate $name"
    seed=$((seed + 1))
  done
}

case "$case_name" in
  bad_file)
    make_night night
    cp "$SOURCE/tests/faults/inputs/hdf5_local_heap_segv.h5" night/lot-crash.h5
    cp "$DATA/hostile/offsets_negative.h5" night/lot-negative.h5
    # HDF5 crashes on lot-crash.h5 in the middle of a rank's share: the file is named, exit 2.
    for np in 1 2; do
      expect_exit 2 "night/lot-crash.h5: HDF5 crashed \(Segmentation fault\) reading the file's metadata" \
        launch $np --input night/lot-a.h5 night/lot-crash.h5 night/lot-b.h5 night/lot-c.h5 \
        --output out.h5 --report r.json "${run[@]}"
      grep -q -- "--skip-bad-files" err.txt || fail "the message does not say how to go on"
      nothing_left out.h5
      [[ -e r.json ]] && fail "a report was written"
    done
    # A file that is not wafermill traces: file, dataset and index.
    expect_exit 2 "^wafermill: error: night/lot-negative.h5: /traces/offsets\[1\] = -5: offsets must not be negative" \
      launch 2 --input night/lot-a.h5 night/lot-negative.h5 night/lot-b.h5 --output out.h5 "${run[@]}"
    # Both in a directory (in name order: lot-a, lot-b, lot-c, lot-crash, lot-negative): the
    # first named in full, both counted.
    expect_exit 2 "^wafermill: error: night/lot-crash.h5: HDF5 crashed" \
      launch 2 --input night --output out.h5 "${run[@]}"
    grep -qF "(2 of the 5 input files are bad: night/lot-crash.h5 night/lot-negative.h5)" err.txt ||
      fail "the message does not count both bad files"
    nothing_left out.h5
    # `wafermill validate` takes the same forms: every file checked, each bad one named, counted.
    "$WM" validate night > val.txt; rc=$?
    cat val.txt
    ((rc == 2)) || fail "validate of the directory: exit $rc, expected 2"
    grep -q "^night/lot-crash.h5: 1 problem" val.txt || fail "validate does not name lot-crash.h5"
    grep -q "offsets must not be negative" val.txt || fail "validate does not say what is wrong with lot-negative.h5"
    grep -qx "5 files: 3 valid, 2 with problems" val.txt || fail "validate does not count the files"
    printf 'night/lot-b.h5\nnight/lot-a.h5\n' > good.txt
    "$WM" validate @good.txt 'night/lot-c.*' > val.txt || fail "validate of good files failed"
    grep -qx "3 files: 3 valid, 0 with problems" val.txt || fail "validate of a manifest and a glob"
    expect_exit 2 "^wafermill: error: night/none\*.h5: the pattern matches no file" "$WM" validate 'night/none*.h5'
    note "a crashing and a malformed file among good ones: exit 2 naming them, nothing written (P=1, 2); validate names and counts them"
    ;;

  skip)
    make_night night
    cp "$SOURCE/tests/faults/inputs/hdf5_local_heap_segv.h5" night/lot-crash.h5
    cp "$DATA/hostile/offsets_negative.h5" night/lot-negative.h5
    launch 2 --input night --output out.h5 --report r.json --skip-bad-files \
      --baseline none --block-size 8 > summary.txt 2> err.txt || { cat err.txt; fail "the run with --skip-bad-files failed"; }
    cat err.txt summary.txt
    for f in lot-crash lot-negative; do
      grep -q "wafermill: warning: skipping a bad input file (--skip-bad-files): night/$f.h5: " err.txt ||
        fail "no warning for $f.h5"
    done
    grep -q "^skipped 2 bad input files (--skip-bad-files):" summary.txt || fail "the summary does not list them"
    # Without them: the same output as the good files alone.
    launch 1 --input night/lot-a.h5 night/lot-b.h5 night/lot-c.h5 --output good.h5 "${run[@]}" ||
      fail "the run over the good files failed"
    "$WM" compare out.h5 good.h5 || fail "skipping changed the good files' results"
    $PY - r.json out.h5 <<'EOF' || fail "report or output"
import json, sys, h5py
r = json.load(open(sys.argv[1]))
skipped = r["skipped_files"]
assert [s["path"] for s in skipped] == ["night/lot-crash.h5", "night/lot-negative.h5"], skipped
assert "HDF5 crashed" in skipped[0]["reason"] and "offsets must not be negative" in skipped[1]["reason"], skipped
assert r["config"]["inputs"] == ["night/lot-a.h5", "night/lot-b.h5", "night/lot-c.h5"], r["config"]["inputs"]
assert r["config"]["skip_bad_files"] is True
f = h5py.File(sys.argv[2], "r")
files = [x.decode() if isinstance(x, bytes) else x for x in f["inputs/files"][:]]
assert files == r["config"]["inputs"], files
print("skipped:", [s["path"] for s in skipped], "kept:", files)
EOF
    note "two bad files skipped with a warning each, listed in the report and summary; results equal the good files'"
    ;;

  forms)
    make_night night
    printf 'lot-b.h5\n' > night/.hidden-notes.h5  # hidden: not a trace file of the directory
    mkdir -p lists
    printf '# the night, in name order\n\n../night/lot-a.h5\n  ../night/lot-b.h5\n%s\n' "$PWD/night/lot-c.h5" > lists/night.txt
    printf '../night/lot-c.h5\n' > lists/c.txt
    printf '../night/lot-b.h5\n../night/lot-c.h5\n' > lists/bc.txt
    launch 2 --input night/lot-a.h5 night/lot-b.h5 night/lot-c.h5 --output files.h5 --report files.json \
      "${run[@]}" || fail "several files"
    launch 2 --input night --output dir.h5 "${run[@]}" || fail "a directory"
    launch 2 --input 'night/lot-*.h5' --output glob.h5 "${run[@]}" || fail "a glob"
    launch 2 --input @lists/night.txt --output manifest.h5 "${run[@]}" || fail "a manifest"
    launch 1 -i night/lot-a.h5 -i night/lot-b.h5 -i night/lot-c.h5 --output repeated.h5 "${run[@]}" ||
      fail "the option repeated"
    printf '[run]\ninput = night/lot-a.h5\ninput = night/lot-b.h5\ninput = night/lot-c.h5\nblock-size = 8\n' > job.ini
    launch 2 --config job.ini --output ini.h5 --baseline none --quiet || fail "INI input lines"
    for out in dir glob manifest repeated ini; do
      "$WM" compare files.h5 $out.h5 > /dev/null || fail "$out.h5 differs from files.h5"
    done
    # The command line wins over the INI's input lines (not added to them).
    launch 1 --config job.ini --input night/lot-b.h5 --output one.h5 --report one.json --baseline none \
      --quiet || fail "an INI overridden"
    $PY - files.json one.json <<'EOF' || fail "inputs in the report"
import json, sys
files = json.load(open(sys.argv[1]))["config"]
one = json.load(open(sys.argv[2]))["config"]
assert files["inputs"] == ["night/lot-a.h5", "night/lot-b.h5", "night/lot-c.h5"], files["inputs"]
assert files["input"] == "night/lot-a.h5 night/lot-b.h5 night/lot-c.h5", files["input"]
assert one["inputs"] == ["night/lot-b.h5"], one["inputs"]
EOF
    # slurm/run.sbatch (outside Slurm, with mpirun) passes several inputs after the INI file.
    WAFERMILL_BIN=$WM WAFERMILL_LAUNCHER=mpirun WAFERMILL_MPIRUN_FLAGS="-np 2 $MPI_FLAGS" \
      bash "$SOURCE/slurm/run.sbatch" job.ini --input 'night/lot-[ab].h5' @lists/c.txt \
      --output sbatch.h5 > sbatch.log 2>&1 < /dev/null || { cat sbatch.log; fail "run.sbatch"; }
    "$WM" compare files.h5 sbatch.h5 > /dev/null || fail "sbatch.h5 differs from files.h5"
    # scripts/study.sh: --input repeated (a manifest among them), every run over the three files.
    WAFERMILL_BIN=$WM MPIRUN=$MPIEXEC bash "$SOURCE/scripts/study.sh" --input night/lot-a.h5 \
      --input @lists/bc.txt --ranks 2 --repetitions 1 --policies static --warmup 0 --out study \
      "$SOURCE/jobs/study.ini" > study.log 2>&1 < /dev/null || { cat study.log; fail "study.sh"; }
    $PY - study/reports <<'EOF' || fail "study reports"
import glob, json, os, sys
reports = sorted(glob.glob(os.path.join(sys.argv[1], "*.json")))
assert len(reports) == 2, reports
for r in reports:
    inputs = json.load(open(r))["config"]["inputs"]
    assert inputs == ["night/lot-a.h5", "lists/../night/lot-b.h5", "lists/../night/lot-c.h5"], (r, inputs)
EOF
    note "files, a directory, a glob, a manifest, the option repeated, INI lines, run.sbatch, study.sh: one output"
    ;;

  named_twice)
    make_night night
    expect_exit 2 "--input: night/lot-a.h5 is named twice: input 1 \(from 'night/lot-a.h5'\) and input 2 \(from directory 'night'\) of 4" \
      launch 2 --input night/lot-a.h5 night --output out.h5 "${run[@]}"
    nothing_left out.h5
    expect_exit 2 "--input night/lot-\*.hdf5: the pattern matches no file" \
      launch 2 --input night 'night/lot-*.hdf5' --output out.h5 "${run[@]}"
    expect_exit 2 "--input @night.txt: cannot read the manifest night.txt" \
      launch 1 --input @night.txt --output out.h5 "${run[@]}"
    expect_exit 2 "--input night/lot-a.h5 and --output night/./lot-a.h5 are the same file" \
      launch 1 --input night --output night/./lot-a.h5 --force "${run[@]}"
    nothing_left out.h5
    note "a file named twice, a glob matching nothing, a missing manifest, an input as the output: exit 2"
    ;;

  *) fail "unknown case" ;;
esac
printf 'ok %s\n' "$case_name"
