"""Checks the report of `wafermill run` on the imported SECOM file against the fab's own
labels (../shared/data/README.md: 1567 wafers, 590 sensors, 104 fails).
usage: check_secom_report.py REPORT.json"""
import json
import sys

path = sys.argv[1]
r = json.load(open(path))
inp, par, acc = r["provenance"]["input"], r["parallel"], r["accuracy"]


def check(cond, what):
    if not cond:
        sys.exit(f"{path}: {what}")


check(inp["wafers"] == 1567 and inp["samples"] == 1567 and inp["sensors"] == 590,
      f"input shape {inp['wafers']} wafers x {inp['sensors']} sensors")
check(par["wafers"] == 1567, "every wafer processed")
check(inp.get("wafers_one_sample") == 1567,
      f"wafers of one sample: {inp.get('wafers_one_sample')}, expected 1567 (std, skewness, "
      "kurtosis and slope are undefined for them)")
c = acc["confusion"]
check(c["tp"] + c["fn"] == 104, f"labelled fails tp+fn = {c['tp'] + c['fn']}, expected 104")
check(c["fp"] + c["tn"] == 1463, f"labelled passes fp+tn = {c['fp'] + c['tn']}, expected 1463")
check(c["tp"] + c["fp"] == par["flagged"], "flags in the confusion matrix = flagged wafers")
check(abs(acc["label_distribution"][1] - 104 / 1567) < 1e-12, "label distribution 104/1567")
check(abs(acc["parallel_flag_distribution"][1] - par["flagged"] / 1567) < 1e-12,
      "flag distribution = flagged / wafers")
check(acc["kl_labels_parallel"] >= 0, "KL(labels||flags) >= 0")
print(f"SECOM: {par['flagged']} flagged, tp {c['tp']} fp {c['fp']} tn {c['tn']} fn {c['fn']}, "
      f"KL(labels||flags) {acc['kl_labels_parallel']:.5f}")
