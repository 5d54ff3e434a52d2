"""Checks a wafermill report produced with --baseline run: every figure the issue asks for is
present, consistent with the others and measured (not a placeholder).
usage: check_report.py REPORT.json RANKS [child|own]
  child (default): the baseline was the single-rank child (P > 1, or --baseline repeat);
  own: a one-rank run with --baseline run, its own baseline: no child started, S = 1 exactly."""
import json
import math
import sys

report_path, ranks = sys.argv[1], int(sys.argv[2])
mode = sys.argv[3] if len(sys.argv) > 3 else "child"
r = json.load(open(report_path))
par, seq, comp, acc = r["parallel"], r["sequential"], r["comparison"], r["accuracy"]
prov = r["provenance"]

def check(cond, what):
    if not cond:
        sys.exit(f"{report_path}: {what}")

check(r["ranks"] == ranks and par["ranks"] == ranks, f"ranks {r['ranks']} != {ranks}")
check(len(par["per_rank"]) == ranks, "per_rank has one entry per rank")
check(seq is not None and seq["ranks"] == 1, "the sequential baseline ran on one rank")
check(prov["input"]["wafers"] == par["wafers"] > 0, "wafer counts agree")
check(sum(x["wafers"] for x in par["per_rank"]) == par["wafers"], "every wafer processed once")
check(sum(x["samples"] for x in par["per_rank"]) == prov["input"]["samples"], "every sample read once")
check(par["bytes"] == sum(x["bytes"] for x in par["per_rank"]) > 0, "bytes add up")
for run in (par, seq):
    check(run["wall_s"] > 0, "wall time measured")
    check(run["peak_rss_total_bytes"] >= run["peak_rss_max_bytes"] > 1 << 20, "peak RSS measured")
    lat = run["latency"]
    check(lat["n"] == run["wafers"], "one latency per wafer")
    check(0 <= lat["p50_s"] <= lat["p95_s"] <= lat["p99_s"] <= lat["max_s"], "latency percentiles ordered")
    lb = run["load_balance"]
    check(lb["imbalance"] >= 1.0 - 1e-12, "imbalance max/mean >= 1")
    check(abs(lb["busy_sum_s"] - sum(x["busy_s"] for x in run["per_rank"])) < 1e-6, "task model sum")
    check(run["throughput_wafers_per_s"] > 0 and run["throughput_mb_per_s"] > 0, "throughput")
    check(run["gpu_utilisation_percent"] is None, "E_GPU is null on the CPU backend")
if mode == "own":
    check(ranks == 1 and comp["baseline"] == "run", "own baseline: one rank, --baseline run")
    check("no child started" in (comp.get("baseline_note") or ""), f"note says no child: {comp.get('baseline_note')}")
    # The child measures its own wall time and peak RSS; the run's own figures are these, bit for bit.
    check(seq == par, "the sequential figures are the run's own")
    check(comp["speedup"] == 1.0 and comp["efficiency"] == 1.0, "S = E = 1 exactly")
    check(comp["memory_efficiency"] == 1.0, "E_memory = 1 exactly")
else:
    check(comp.get("baseline_note") is None, f"a child baseline has no note: {comp.get('baseline_note')}")
    check(seq["wall_s"] != par["wall_s"], "the child measured its own wall time")
S = comp["speedup"]
check(S is not None and abs(S - seq["wall_s"] / par["wall_s"]) < 1e-9, "S = T_seq / T_par")
check(abs(comp["efficiency"] - S / ranks) < 1e-9, "efficiency = S / P")
if ranks > 1:
    e = (1 / S - 1 / ranks) / (1 - 1 / ranks)
    check(abs(comp["karp_flatt"] - e) < 1e-9, "Karp-Flatt serial fraction")
check(abs(comp["memory_efficiency"] - seq["peak_rss_total_bytes"] / par["peak_rss_total_bytes"]) < 1e-9,
      "E_memory = M_seq / M_par")
check(comp["outputs_identical"] is True, f"parallel output differs: {comp['first_difference']}")
check(acc["kl_histograms_max"] == 0.0, "identical histograms have zero KL")
check(acc["label_distribution"] is not None, "labels found")
check(acc["kl_labels_parallel"] is not None and acc["kl_labels_parallel"] >= 0, "KL(labels||flags)")
check(acc["kl_labels_parallel"] == acc["kl_labels_sequential"], "same flags give the same KL")
if acc["kl_labels_parallel"] > 0:
    check(acc["accuracy_ratio"] == 1.0, "R_accuracy = 1 for identical flags")
conf = acc["confusion"]
check(sum(conf.values()) == par["wafers"], "confusion matrix covers every wafer")
check(conf["tp"] + conf["fp"] == par["flagged"], "flags add up")
check(comp["score"] is not None and math.isfinite(comp["score"]), "combined score")
check(comp["score_terms"]["gpu_efficiency"]["value"] is None, "no GPU term on CPU")
check(prov["git_revision"] and prov["hosts"] and prov["cores"] > 0, "provenance")
print(f"report ok: S={S:.2f} E={comp['efficiency']:.2f} imbalance={par['load_balance']['imbalance']:.3f} "
      f"KL_par={acc['kl_labels_parallel']:.5f} E_mem={comp['memory_efficiency']:.2f}")
