"""The calibrated fleet limit on a heavy-tailed fleet (docs/MONITORING.md "Calibrated limits"):
the Student t limits alone (--fleet-limit parametric) flag well over A of the good wafers;
--fleet-limit fleet holds A within the binomial error and still flags the gross faults; its
verdicts are the same bits for P = 1, 2, 3 and three policies; the report says which limit was
used.

usage: check_fleet_calibrated.py A PARAMETRIC.json PARAMETRIC.h5 FLEET.json FLEET_1.h5 FLEET_2.h5 ..."""
import json
import math
import sys

import h5py
import numpy as np

from verdicts import same_verdicts

a = float(sys.argv[1])
par_report, par_out, fleet_report = json.load(open(sys.argv[2]))["monitoring"], sys.argv[3], json.load(open(sys.argv[4]))["monitoring"]
outs = sys.argv[5:]
first, score, flag = same_verdicts(outs)
assert ((score > 1) == (flag != 0)).all(), "flag is not score > 1"

label = first["wafers/label"][:] != 0
good = ~label
par_flag = h5py.File(par_out, "r")["wafers/flag"][:] != 0
band = 3 * math.sqrt(a * (1 - a) / good.sum())
fa_par, fa_fleet = par_flag[good].mean(), flag[good].mean()
print(f"good wafers flagged at A = {a}: parametric {fa_par:.4f}, fleet-calibrated {fa_fleet:.4f} "
      f"(band {band:.4f}); recall {flag[label].mean():.3f} (parametric {par_flag[label].mean():.3f}); "
      f"limit x{fleet_report['limit_factor']:.4f}, rank {fleet_report['calibration_rank']} of "
      f"{fleet_report['calibration_reference']}")
assert fa_par > a + 2 * band, f"the test needs a fleet the Student t limits fail on ({fa_par})"
assert fa_fleet <= a + band, f"calibrated false alarms {fa_fleet} above A = {a} + {band}"
assert flag[label].mean() == 1.0, "a gross fault was not flagged"

assert par_report["limit_rule"] == "parametric" and par_report["limit_used"] == "parametric", par_report
assert par_report["limit_factor"] == 1.0, par_report
m = fleet_report
assert m["limit_rule"] == "fleet" and m["limit_used"] == "calibrated", m
n = m["calibration_reference"]
assert n == len(flag), m  # every wafer is ranked
assert m["calibration_rank"] == n + 1 - math.floor((n + 1) * a), m
assert m["limit_factor"] == m["calibrated_limit"] > 1.0, m
# At most n - rank wafers are above the rank-th score.
assert int(flag.sum()) <= n - m["calibration_rank"], (int(flag.sum()), m)
print("fleet calibration checks passed")
