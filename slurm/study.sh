#!/usr/bin/env bash
# A scaling study through Slurm: one run per node count (slurm/run.sbatch), then one job that
# waits for all of them (--dependency=afterok) and runs `wafermill study` over their reports.
#
#   slurm/study.sh jobs/nightly.ini                          # nodes 1 2 4 8, results in study-<date>/
#   slurm/study.sh --nodes "1 2 3" --sequential --out out/study --wait jobs/cluster.ini
#
# Options (before the INI file):
#   --nodes "N1 N2 ..."     node counts to run (default "1 2 4 8")
#   --ntasks-per-node K     ranks per node (default: run.sbatch's, 2)
#   --out DIR               where reports, outputs, logs and the study go (default study-YYYYmmdd-HHMMSS)
#   --sequential            one run at a time (each after the previous one ended), so runs do not
#                           share nodes or time; needed where "nodes" share one machine's CPUs
#   --wait                  block until the study job has finished; exit with its result
#   --sbatch "ARGS"         extra sbatch options for every job (e.g. "--partition=batch --time=30")
# The INI file gives the run settings (input, policy, baseline, ...); options after `--` are
# added to every run (e.g. `-- --input big.h5`); this script adds only --report/--output/--force
# per node count. WAFERMILL_BIN and WAFERMILL_LAUNCHER reach the jobs as in
# run.sbatch. Prints the job ids and where the study will be.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { printf 'study.sh: %s\n' "$*" >&2; exit 2; }

nodes="1 2 4 8" per_node= out= wait=0 extra= sequential=0
while (($#)); do
  case "$1" in
    --nodes) nodes=$2; shift 2 ;;
    --ntasks-per-node) per_node=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --wait) wait=1; shift ;;
    --sequential) sequential=1; shift ;;
    --sbatch) extra=$2; shift 2 ;;
    -h | --help) sed -n '2,22p' "$0"; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) break ;;
  esac
done
(($# >= 1)) || die "usage: study.sh [--nodes \"1 2 4\"] [--ntasks-per-node K] [--out DIR] [--wait] JOB.ini [-- RUN OPTIONS]"
config=$1
shift
run_extra=()
if (($#)); then
  [[ $1 == -- ]] || die "unexpected '$1' after the INI file (wafermill run options go after --)"
  shift
  run_extra=("$@")
fi
[[ -r $config ]] || die "cannot read job configuration '$config'"
for n in $nodes; do [[ $n =~ ^[1-9][0-9]*$ ]] || die "--nodes: '$n' is not a node count"; done

bin=${WAFERMILL_BIN:-$(command -v wafermill || true)}
[[ -n $bin && -x $bin ]] || die "no wafermill executable: put it on PATH or set WAFERMILL_BIN"
export WAFERMILL_BIN=$(realpath "$bin")
out=$(realpath -m "${out:-study-$(date +%Y%m%d-%H%M%S)}")
mkdir -p "$out"
config=$(realpath "$config")

# shellcheck disable=SC2206  # extra sbatch options are meant to split into words
common=(--parsable ${extra})
[[ -n $per_node ]] && common+=(--ntasks-per-node="$per_node")

ids=() reports=()
for n in $nodes; do
  report=$out/report-N$n.json
  after=()
  ((sequential && ${#ids[@]})) && after=(--dependency="afterany:${ids[-1]}")
  id=$(sbatch "${common[@]}" "${after[@]}" -N "$n" --job-name="wafermill-N$n" --output="$out/run-N$n.out" \
    "$here/run.sbatch" "$config" "${run_extra[@]}" --report "$report" --output "$out/features-N$n.h5" --force)
  id=${id%%;*}   # --parsable prints "id" or "id;cluster"
  ids+=("$id") reports+=("$report")
  printf 'study.sh: node count %d: job %s\n' "$n" "$id"
done

dependency=afterok$(printf ':%s' "${ids[@]}")
study_cmd=$(printf '%q ' "$WAFERMILL_BIN" study --output-dir "$out/study" "${reports[@]}")
wait_flag=()
((wait)) && wait_flag=(--wait)
# One task on one node; cancelled at once if a run fails, so --wait cannot hang on it.
study_id=$(sbatch "${common[@]}" "${wait_flag[@]}" -N 1 -n 1 --ntasks-per-node=1 \
  --job-name=wafermill-study --dependency="$dependency" --kill-on-invalid-dep=yes \
  --output="$out/study.out" --wrap="$study_cmd") || {
  rc=$?
  printf 'study.sh: the study job did not finish successfully (exit %d); see %s/*.out\n' "$rc" "$out" >&2
  exit "$rc"
}
study_id=${study_id%%;*}
printf 'study.sh: study job %s (after %s); results in %s/study\n' "$study_id" "$dependency" "$out"
