#!/bin/bash
# The job's direct reads of a native /traces/values (docs/BENCHMARKS.md issue 18 item 3): the
# same features from pread of the file's bytes (the default), from mappings
# (WAFERMILL_READ_IN_PLACE=map, TraceReader::map_rows) and from HDF5 hyperslabs
# (WAFERMILL_READ_IN_PLACE=0), and from the hyperslab path of a compressed file.
# usage: check_read_in_place.sh WORK_DIR   (env: WM, the wafermill binary)
# Exit 77 without strace (it tells whether the mapping was used).
set -uo pipefail
work=$1
command -v strace >/dev/null || { echo "strace not found: skipped"; exit 77; }
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
"$WM" generate --output gen.h5 --force --wafers 300 --sensors 6 --steps 4 --mean-length 200 \
  --length-sigma 0.3 --nan-fraction 0.01 --seed 5 >/dev/null || fail "generate"
"$WM" generate --output gz.h5 --force --wafers 300 --sensors 6 --steps 4 --mean-length 200 \
  --length-sigma 0.3 --nan-fraction 0.01 --seed 5 --gzip 4 >/dev/null || fail "generate --gzip"
# The same file with /traces/values contiguous, as h5py writes it (8-byte aligned address).
/usr/bin/python3 - <<'PY' || fail "h5py copy"
import h5py
with h5py.File("gen.h5", "r") as src, h5py.File("contig.h5", "w") as dst:
    def copy(name, obj):
        if isinstance(obj, h5py.Group):
            g = dst.require_group(name)
            for k, v in obj.attrs.items():
                g.attrs[k] = v
        elif name != "traces/values":
            dst.copy(obj, dst.require_group(obj.parent.name), name=obj.name.split("/")[-1])
    for k, v in src.attrs.items():
        dst.attrs[k] = v
    src.visititems(copy)
    s = src["traces/values"]
    d = dst.create_dataset("traces/values", data=s[...])
    for k, v in s.attrs.items():
        d.attrs[k] = v
    assert d.id.get_offset() % 8 == 0
PY
run() {  # run INPUT OUTPUT [env]: the job alone, counting its in-place mappings
  # LeakSanitizer cannot run under ptrace (the sanitizer stage of scripts/test.sh): no leak check
  # in the traced runs; ASan's other checks stay on.
  env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" "${@:3}" \
    strace -f -e trace=mmap -o "$2.strace" "$WM" run --input "$1" --output "$2" \
    --baseline none --store none --force --quiet || fail "run $1"
  grep -c MAP_POPULATE "$2.strace" || true  # 0 mappings is an answer, not a failure
}
mapped=$(run contig.h5 mapped.h5 WAFERMILL_READ_IN_PLACE=map) || fail "$mapped"
direct=$(run contig.h5 direct.h5) || fail "$direct"
copied=$(run contig.h5 copied.h5 WAFERMILL_READ_IN_PLACE=0) || fail "$copied"
gz=$(run gz.h5 gz_out.h5 WAFERMILL_READ_IN_PLACE=map) || fail "$gz"
gen=$(run gen.h5 gen_out.h5 WAFERMILL_READ_IN_PLACE=map) || fail "$gen"
echo "in-place mappings: contiguous $mapped, by default $direct, switched off $copied, gzip $gz, generated $gen"
((mapped > 0)) || fail "the contiguous file was not read in place"
# The generator's own files: uncompressed values allocated at creation on 4 KiB pages.
((gen > 0)) || fail "the generated (chunked, uncompressed) file was not read in place"
"$WM" compare gen_out.h5 mapped.h5 || fail "the generated file's features differ"
((direct == 0)) || fail "a mapping without WAFERMILL_READ_IN_PLACE=map"
((copied == 0 && gz == 0)) || fail "a mapping where the copy was expected"
"$WM" compare direct.h5 mapped.h5 || fail "the pread features differ from the mapped ones"
"$WM" compare copied.h5 mapped.h5 || fail "the in-place features differ from the copied ones"
"$WM" compare gz_out.h5 mapped.h5 || fail "the gzip file's features differ"
echo "ok read_in_place"
