#!/usr/bin/python3
"""Turns bench/run.sh's runs into results.json and results.md; also its I/O-floor check.

usage: summarize.py --runs DIR --out DIR
       summarize.py --check-floor FLOOR.json JOB_REPORT.json JOB_FEATURES.h5

Figures (docs/BENCHMARKS.md): every time is the median over repetitions of a run's wall time
(the job's report parallel.wall_s: barrier after MPI start to the committed output; the I/O
floor's barrier to barrier; the peers' whole script after imports). Throughput = bytes of
/traces/values / 10^6 / wall. Ratios are of medians:
  job / I/O floor  = floor wall / job wall at the same P (throughput ratio, same bytes)
  job / numpy      = job MB/s at P = 1 / numpy MB/s (one core each)
  job / dask       = job MB/s at the largest P / Dask MB/s with that many threads
  efficiency       = T(1) / (P T(P)) of the job
  imbalance        = the report's max / mean busy time over ranks
  memory           = per-rank peak RSS (VmHWM) of the job on the target-size and large inputs
"""
import argparse
import json
import math
import os
import statistics
import sys

TARGETS = {"floor_ratio": 0.8, "numpy_ratio": 20.0, "efficiency": 0.9, "imbalance": 1.05,
           "memory_growth": 1.10}
MIB = 1 << 20


def load(path):
    with open(path) as f:
        return json.load(f)


def median(xs):
    xs = [x for x in xs if x is not None and math.isfinite(x)]
    return statistics.median(xs) if xs else float("nan")


def fmt(x, digits=2):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:,.{digits}f}"


def check_floor(floor_path, report_path, features_path):
    """The floor read the job's rows, and its per-sensor sums equal sum(count * mean)."""
    import h5py
    import numpy as np
    floor, report = load(floor_path), load(report_path)["parallel"]
    problems = []
    for key in ("samples", "bytes", "wafers"):
        if floor[key] != report[key]:
            problems.append(f"{key}: floor {floor[key]}, job {report[key]}")
    with h5py.File(features_path, "r") as f:
        names = [n.decode() if isinstance(n, bytes) else n for n in f["features/names"][:]]
        values = f["features/values"]
        job_sums = np.zeros(values.shape[1])
        scale = np.zeros(values.shape[1])
        step = max(1, (64 << 20) // (values.shape[1] * values.shape[2] * 8))
        for w in range(0, values.shape[0], step):
            block = values[w:w + step]
            count, mean = block[:, :, names.index("count")], block[:, :, names.index("mean")]
            part = np.where(count > 0, count * mean, 0.0)
            job_sums += part.sum(axis=0)
            scale += np.abs(part).sum(axis=0)
    sums = np.asarray(floor["column_sums"])
    if len(sums) != len(job_sums) or not np.all(np.abs(sums - job_sums) <= 1e-9 * scale + 1e-300):
        problems.append(f"column sums differ: floor {sums.tolist()}, job {job_sums.tolist()}")
    for p in problems:
        print(f"check-floor: {p}", file=sys.stderr)
    print(json.dumps({"floor_matches_job": not problems, "samples": floor["samples"],
                      "bytes": floor["bytes"]}))
    return 1 if problems else 0


class Runs:
    """The manifest's records, loaded."""

    def __init__(self, runs_dir):
        self.settings = load(os.path.join(runs_dir, "settings.json"))
        self.records = []
        with open(os.path.join(runs_dir, "manifest.jsonl")) as f:
            for line in f:
                r = json.loads(line)
                r["data"] = load(r["file"])
                self.records.append(r)

    def select(self, kind, workload=None, ranks=None, policy=None):
        return [r for r in self.records if r["kind"] == kind
                and (workload is None or r["workload"] == workload)
                and (ranks is None or r["ranks"] == ranks)
                and (policy is None or r["policy"] == policy)]

    def workloads(self, kind="job"):
        seen = []
        for r in self.records:
            if r["kind"] == kind and r["workload"] not in seen:
                seen.append(r["workload"])
        return seen

    def ranks(self):
        return sorted({r["ranks"] for r in self.records if r["kind"] == "job"})


def job_figures(recs):
    """Median figures of job runs (reports' 'parallel')."""
    if not recs:
        return None
    par = [r["data"]["parallel"] for r in recs]
    wall = median([p["wall_s"] for p in par])
    per_rank = []
    for i in range(len(par[0]["per_rank"])):
        rows = [p["per_rank"][i] for p in par]
        per_rank.append({k: median([x[k] for x in rows]) for k in
                         ("read_s", "compute_s", "reduce_s", "wait_s", "busy_s")} |
                        {"peak_rss_mib": max(x["peak_rss_bytes"] for x in rows) / MIB,
                         "wafers": rows[0]["wafers"]})
    return {"runs": len(par), "wall_s": wall, "wall_min_s": min(p["wall_s"] for p in par),
            "wall_max_s": max(p["wall_s"] for p in par), "bytes": par[0]["bytes"],
            "wafers": par[0]["wafers"], "mb_per_s": par[0]["bytes"] / 1e6 / wall,
            "wafers_per_s": par[0]["wafers"] / wall,
            "imbalance": median([p["load_balance"]["imbalance"] for p in par]),
            "imbalance_all": [p["load_balance"]["imbalance"] for p in par],
            "peak_rss_max_mib": max(p["peak_rss_max_bytes"] for p in par) / MIB,
            "per_rank": per_rank, "load1": [r["load1"] for r in recs]}


def floor_figures(recs):
    if not recs:
        return None
    d = [r["data"] for r in recs]
    wall = median([x["wall_s"] for x in d])
    return {"runs": len(d), "wall_s": wall, "bytes": d[0]["bytes"],
            "mb_per_s": d[0]["bytes"] / 1e6 / wall, "wafers_per_s": d[0]["wafers"] / wall,
            "peak_rss_max_mib": max(max(r["peak_rss_bytes"] for r in x["per_rank"]) for x in d) / MIB,
            "load1": [r["load1"] for r in recs]}


def peer_figures(recs):
    if not recs:
        return None
    d = [r["data"] for r in recs]
    wall = median([x["wall_s"] for x in d])
    return {"runs": len(d), "wall_s": wall, "wafers": d[0]["wafers"],
            "total_wafers": d[0]["total_wafers"], "bytes": d[0]["bytes"],
            "mb_per_s": d[0]["bytes"] / 1e6 / wall, "wafers_per_s": d[0]["wafers"] / wall,
            "load1": [r["load1"] for r in recs]}


def summarize(runs):
    s = runs.settings
    ranks = runs.ranks()
    p_max = max(ranks)
    pol = s["policy"]
    res = {"settings": s, "targets": TARGETS, "workloads": {}, "checks": {}, "policies": {},
           "memory": {}, "verdicts": []}
    for w in runs.workloads():
        entry = {"job": {}, "job_store_none": {}, "floor": {}}
        for p in ranks:
            entry["job"][p] = job_figures(runs.select("job", w, p, pol))
            entry["job_store_none"][p] = job_figures(runs.select("job", w, p, pol + "+store-none"))
            entry["floor"][p] = floor_figures(runs.select("floor", w, p))
        entry["numpy"] = peer_figures(runs.select("numpy", w))
        entry["dask"] = peer_figures(runs.select("dask", w))
        j1, jm = entry["job"].get(1), entry["job"].get(p_max)
        entry["floor_ratio"] = {p: (entry["floor"][p]["wall_s"] / entry["job"][p]["wall_s"]
                                    if entry["floor"][p] and entry["job"][p] else None) for p in ranks}
        entry["floor_ratio_store_none"] = {
            p: (entry["floor"][p]["wall_s"] / entry["job_store_none"][p]["wall_s"]
                if entry["floor"][p] and entry["job_store_none"][p] else None) for p in ranks}
        entry["numpy_ratio"] = j1["mb_per_s"] / entry["numpy"]["mb_per_s"] if j1 and entry["numpy"] else None
        entry["dask_ratio"] = jm["mb_per_s"] / entry["dask"]["mb_per_s"] if jm and entry["dask"] else None
        entry["efficiency"] = {p: j1["wall_s"] / (p * entry["job"][p]["wall_s"])
                               for p in ranks if j1 and entry["job"][p]}
        n1 = entry["job_store_none"].get(1)
        entry["efficiency_store_none"] = {p: n1["wall_s"] / (p * entry["job_store_none"][p]["wall_s"])
                                          for p in ranks if n1 and entry["job_store_none"][p]}
        res["workloads"][w] = entry
        for c in runs.select("compare", w):
            res["checks"][f"{c['data']['peer']} {w}"] = {
                k: c["data"][k] for k in ("agree", "wafers", "values_compared", "rtol", "atol_scale")} | {
                "max_diff_over_column_scale": max(v["max_diff_over_column_scale"]
                                                  for v in c["data"]["per_feature"].values())}
        if w.startswith("lognormal") and p_max > 1:
            res["policies"][w] = {}
            for name in ("static", "weighted", "dynamic"):
                f = job_figures(runs.select("job", w, p_max, name))
                if f:
                    res["policies"][w][name] = f
    base = "uniform-raw"
    if base in res["workloads"] and "large-raw" in res["workloads"]:
        for p in ranks:
            small = res["workloads"][base]["job"][p]
            large = res["workloads"]["large-raw"]["job"][p]
            if small and large:
                res["memory"][p] = {
                    "small_mb": small["bytes"] / 1e6, "large_mb": large["bytes"] / 1e6,
                    "small_rss_mib": [r["peak_rss_mib"] for r in small["per_rank"]],
                    "large_rss_mib": [r["peak_rss_mib"] for r in large["per_rank"]],
                    "growth": max(r["peak_rss_mib"] for r in large["per_rank"]) /
                    max(r["peak_rss_mib"] for r in small["per_rank"])}
    res["verdicts"] = verdicts(res, ranks, p_max)
    return res


def verdicts(res, ranks, p_max):
    """Each target: measured value, met or missed, and by how much."""
    out = []

    def add(what, value, target, higher_is_better):
        if value is None or not math.isfinite(value):
            return
        met = value >= target if higher_is_better else value <= target
        out.append({"target": what, "value": value, "goal": target, "met": met,
                    "shortfall": (target - value) / target if higher_is_better else (value - target) / target})

    bud = res["settings"]["memory_budget_mib"]
    for w, e in res["workloads"].items():
        if w.endswith("-raw") and w != "large-raw":
            for p in ranks:
                add(f"job / I/O floor, {w}, P={p} (>= 0.8)", e["floor_ratio"].get(p), TARGETS["floor_ratio"], True)
                add(f"job --store none / I/O floor, {w}, P={p} (>= 0.8)", e["floor_ratio_store_none"].get(p),
                    TARGETS["floor_ratio"], True)
        if e.get("numpy_ratio"):
            add(f"job / numpy, {w}, P=1 (>= 20)", e["numpy_ratio"], TARGETS["numpy_ratio"], True)
        if w.endswith("-gzip") and p_max > 1:
            add(f"efficiency, {w}, P={p_max} (>= 0.9)", e["efficiency"].get(p_max), TARGETS["efficiency"], True)
            add(f"efficiency --store none, {w}, P={p_max} (>= 0.9)", e["efficiency_store_none"].get(p_max),
                TARGETS["efficiency"], True)
    for w, pols in res["policies"].items():
        for name in ("weighted", "dynamic"):
            if name in pols:
                add(f"imbalance, {w}, {name}, P={p_max} (<= 1.05)", pols[name]["imbalance"], TARGETS["imbalance"], False)
    for p, m in res["memory"].items():
        add(f"peak RSS per rank, {m['large_mb']:.0f} MB input, P={p} (<= budget {bud} MiB)",
            max(m["large_rss_mib"]), float(bud), False)
        add(f"peak RSS growth {m['small_mb']:.0f} -> {m['large_mb']:.0f} MB, P={p} (<= 1.10)",
            m["growth"], TARGETS["memory_growth"], False)
    return out


def store_none_cell(e, p):
    j = e["job_store_none"].get(p)
    if not j:
        return "n/a"
    return (f"{fmt(j['mb_per_s'] / 1e3, 3)} ({fmt(e['floor_ratio_store_none'].get(p))}, "
            f"{fmt(e['efficiency_store_none'].get(p))})")


def loads(xs):
    return f"{min(xs):.1f}–{max(xs):.1f}" if xs else "n/a"


def markdown(res):
    s = res["settings"]
    lines = [f"Run {s['started_utc']} on {s['host']}, {s['wafermill_version']}; "
             f"{s['repetitions']} repetition(s), medians; inputs {s['target_mb']} MB and "
             f"{s['large_mb']} MB of float32 samples, {s['sensors']} sensors, steps {s['steps']}, "
             f"gzip level {s['gzip_level']}, lognormal sigma {s['lognormal_sigma']}; job policy "
             f"{s['policy']}, memory budget {s['memory_budget_mib']} MiB.", ""]
    lines += ["### Throughput: the job beside its I/O floor", "",
              "| workload | P | job wall s (min–max) | job wafers/s | job GB/s | floor GB/s | job / floor | efficiency | job --store none GB/s (/ floor, efficiency) | peak RSS per rank MiB | load 1-min |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for w, e in res["workloads"].items():
        for p, j in e["job"].items():
            if not j:
                continue
            fl = e["floor"].get(p)
            lines.append(
                f"| {w} | {p} | {fmt(j['wall_s'])} ({fmt(j['wall_min_s'])}–{fmt(j['wall_max_s'])}) | "
                f"{fmt(j['wafers_per_s'], 0)} | {fmt(j['mb_per_s'] / 1e3, 3)} | "
                f"{fmt(fl['mb_per_s'] / 1e3, 3) if fl else 'n/a'} | {fmt(e['floor_ratio'].get(p))} | "
                f"{fmt(e['efficiency'].get(p))} | {store_none_cell(e, p)} | "
                f"{' / '.join(fmt(r['peak_rss_mib'], 0) for r in j['per_rank'])} | {loads(j['load1'])} |")
    lines += ["", "### Where the job's time goes (median seconds per rank: read / compute / reduce / wait)", "",
              "| workload | P | result store | rank 0 | rank 1 | imbalance |", "|---|---|---|---|---|---|"]
    for w, e in res["workloads"].items():
        for variant, label in (("job", "default"), ("job_store_none", "none")):
            for p, j in e[variant].items():
                if not j:
                    continue
                cells = [" / ".join(fmt(r[k]) for k in ("read_s", "compute_s", "reduce_s", "wait_s"))
                         for r in j["per_rank"]]
                cells += [""] * (2 - len(cells))
                lines.append(f"| {w} | {p} | {label} | {cells[0]} | {cells[1]} | {fmt(j['imbalance'], 3)} |")
    lines += ["", "### The peers (same file, same features)", "",
              "| workload | numpy wafers | numpy MB/s | job / numpy (P=1) | dask MB/s (threads) | job / dask (P=max) | agree (max diff / column scale) |",
              "|---|---|---|---|---|---|---|"]
    for w, e in res["workloads"].items():
        n, d = e.get("numpy"), e.get("dask")
        if not n:
            continue
        chk = [f"{k.split()[0]}: {'yes' if c['agree'] else 'NO'} ({c['max_diff_over_column_scale']:.1e})"
               for k, c in res["checks"].items() if k.endswith(" " + w)]
        lines.append(f"| {w} | {n['wafers']} of {n['total_wafers']} | {fmt(n['mb_per_s'], 1)} | "
                     f"{fmt(e['numpy_ratio'], 1)} | {fmt(d['mb_per_s'], 1) if d else 'n/a'} | "
                     f"{fmt(e['dask_ratio'], 1)} | {'; '.join(chk)} |")
    if res["policies"]:
        lines += ["", "### Load imbalance by policy (lognormal lengths, largest P)", "",
                  "| workload | policy | imbalance median (all) | wall s | busy s rank 0 / rank 1 |", "|---|---|---|---|---|"]
        for w, pols in res["policies"].items():
            for name, j in pols.items():
                lines.append(f"| {w} | {name} | {fmt(j['imbalance'], 3)} ({', '.join(fmt(x, 3) for x in j['imbalance_all'])}) | "
                             f"{fmt(j['wall_s'])} | {' / '.join(fmt(r['busy_s']) for r in j['per_rank'])} |")
    if res["memory"]:
        lines += ["", "### Memory: peak RSS per rank as the input grows", "",
                  "| P | input MB | peak RSS per rank MiB | input MB | peak RSS per rank MiB | growth |",
                  "|---|---|---|---|---|---|"]
        for p, m in res["memory"].items():
            lines.append(f"| {p} | {m['small_mb']:.0f} | {' / '.join(fmt(x, 0) for x in m['small_rss_mib'])} | "
                         f"{m['large_mb']:.0f} | {' / '.join(fmt(x, 0) for x in m['large_rss_mib'])} | {fmt(m['growth'], 3)} |")
    lines += ["", "### Targets", "", "| target | measured | met |", "|---|---|---|"]
    for v in res["verdicts"]:
        miss = "" if v["met"] else f" (missed by {100 * v['shortfall']:.0f} %)"
        lines.append(f"| {v['target']} | {fmt(v['value'], 3)} | {'yes' if v['met'] else 'no' + miss} |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs")
    ap.add_argument("--out")
    ap.add_argument("--check-floor", nargs=3, metavar=("FLOOR", "REPORT", "FEATURES"))
    a = ap.parse_args()
    if a.check_floor:
        return check_floor(*a.check_floor)
    if not (a.runs and a.out):
        ap.error("--runs and --out are required")
    res = summarize(Runs(a.runs))
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(res, f, indent=1, default=str)
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write(markdown(res))
    sys.stdout.write(markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
