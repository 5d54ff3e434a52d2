#!/usr/bin/python3
"""Checks the "pictures" sections of run reports made with different rank counts and
policies: every digest (map features, fail counts, golden image, image statistics and
scores) must be identical, and the figures present and sane.
Usage: check_picture_reports.py REPORT..."""
import json
import sys

DIGESTS = [("maps", "features_digest"), ("maps", "fail_counts_digest"),
           ("images", "statistics_digest"), ("images", "scores_digest")]

reports = {path: json.load(open(path))["pictures"] for path in sys.argv[1:]}
assert len(reports) >= 2, "need at least two reports"
ref_path, ref = next(iter(reports.items()))
for path, p in reports.items():
    for section, key in DIGESTS:
        assert p[section][key] == ref[section][key], f"{path}: {section}.{key} differs from {ref_path}"
    assert p["images"]["golden"]["digest"] == ref["images"]["golden"]["digest"], \
        f"{path}: golden image differs from {ref_path}"
    assert len(p["maps"]["per_rank"]) == p["ranks"], path
    for section, rate in (("maps", "maps_per_s"), ("images", "images_per_s")):
        s = p[section]
        assert s[rate] > 0 and s["mb_per_s"] > 0, f"{path}: {section} throughput"
        lb = s["load_balance"]
        assert lb["imbalance"] >= 1 and abs(lb["busy_sum_s"] - sum(r["read_s"] + r["compute_s"] for r in s["per_rank"])) < 1e-9, \
            f"{path}: {section} load balance {lb}"
        lat = s["latency"]
        assert lat["n"] > 0 and 0 <= lat["p50_s"] <= lat["p95_s"] <= lat["p99_s"] <= lat["max_s"], path
    assert sum(r["items"] for r in p["maps"]["per_rank"]) == p["maps"]["wafers"], path
    # The planted truth is recovered: KL between truth and flags stays small.
    assert p["maps"]["accuracy"]["agreement"] >= 0.9, path
    assert p["maps"]["accuracy"]["kl_patterns"] < 0.01, path
    assert p["images"]["accuracy"]["kl_flags"] < 0.01, path
ranks = sorted({p["ranks"] for p in reports.values()})
policies = sorted({p["policy"] for p in reports.values()})
print(f"{len(reports)} reports (ranks {ranks}, policies {policies}): identical digests")
