"""A run without a model (docs/MONITORING.md "Without a model"): the verdicts of P = 1, 2, 3 and
three policies are the same bits; count and invalid_count are not scored; the fleet's own fit
flags the generator's planted anomalies and few good wafers; the report says what it did.

With --same-calibration, the reports named (runs of the same file at other P, and one with
--fleet-limit reference) found the same conformal quantile bits as REPORT's; the reference rule's
quantile is below 1 here (normal good wafers, faults excluded), so its verdicts are the
parametric ones, bit for bit (its output is among the OUTs).

usage: check_fleet_verdict.py REPORT.json [--same-calibration R.json ... --] OUT_1.h5 OUT_2.h5 [...]"""
import json
import sys

import h5py
import numpy as np

from verdicts import same_verdicts

report = json.load(open(sys.argv[1]))
outs = sys.argv[2:]
others = []
if outs and outs[0] == "--same-calibration":
    end = outs.index("--")
    others, outs = [json.load(open(r))["monitoring"] for r in outs[1:end]], outs[end + 1:]
first, score, flag = same_verdicts(outs)

m = report["monitoring"]
assert m["kind"] == "fleet", m
names = [n.decode() if isinstance(n, bytes) else n for n in first["features/names"][:]]
sensors = first["features/values"].shape[1]
scored = len([n for n in names if n not in ("count", "invalid_count")])
# Trace lengths vary (--length-sigma), so count would be a usable column: it must not be scored.
counts = first["features/values"][:, 0, names.index("count")]
assert counts.min() < counts.max(), "the test needs varying trace lengths"
assert m["columns"] == sensors * scored, (m["columns"], sensors, scored)
assert m["rounds"] == 2 and m["warning"] == "", m
assert len(flag) - int(flag.sum()) <= m["reference"] <= len(flag), m
# The calibration (docs/MONITORING.md "Calibrated limits"): reported, the same bits for any P.
assert m["limit_rule"] == "parametric" and m["limit_used"] == "parametric" and m["limit_factor"] == 1.0, m
assert m["calibration_reference"] == m["reference"], m
assert m["flagged_parametric"] == int(flag.sum()), m
for o in others:
    for k in ("calibrated_limit", "calibration_rank", "calibration_reference"):
        assert repr(o[k]) == repr(m[k]), (k, o[k], m[k])
    if o["limit_rule"] == "reference":
        assert o["limit_used"] == "parametric" and o["calibrated_limit"] < 1.0, o

label = first["wafers/label"][:]
good, bad = label == 0, label != 0
fa = flag[good].mean()
recall = flag[bad].mean()
a = m["false_alarm_rate"]
band = 3 * np.sqrt(a * (1 - a) / good.sum())
print(f"fleet verdict: {int(flag.sum())} flagged, false alarms on good {fa:.4f} (A = {a}, band {band:.4f}), "
      f"recall {recall:.3f}, {m['rounds']} rounds, limit {m['limit']:.3f}")
assert fa <= a + band, f"false alarms {fa} above A = {a} + {band}"
assert recall >= 0.9, f"recall {recall}"
print("fleet verdict checks passed")
