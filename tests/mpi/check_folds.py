#!/usr/bin/python3
"""Checks scoring by fold models (docs/MONITORING.md "fit", "More columns than wafers") where the
model columns far outnumber the reference wafers (by-step columns of a 4-step file):
- the models of P = 1 and 3 are the same bits (the caller's h5diff) and keep their fold models;
- the run's false-alarm rate on the good wafers the model has not seen is within the binomial
  3-sigma band of A (calibration and test sizes both counted);
- the same reference fitted with --scoring full (every wafer scored by the whole reference's
  model) flags far more than A of them: the regime of the defect the fold models fix.
usage: check_folds.py DIR MODULUS A (DIR: folds.h5, full.h5, out_folds.h5, out_full.h5)
       check_folds.py grouped MODEL OUT MODULUS A: a grouped fold-scored model (every fold model
       with its own group statistics, not the whole model's) and its run's rate on unseen good
       wafers within 3 sigma of A."""
import math
import sys

import h5py
import numpy as np



def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


if sys.argv[1] == "grouped":
    model, out, modulus, a = sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
    with h5py.File(model) as m:
        assert text(m.attrs["format"]) == "wafermill pca model v5" and "group_names" in m
        n, k = int(m["n_reference"][0]), int(m["folds"][0])
        for i in range(k):
            fm = m[f"fold_models/{i}"]
            assert fm["group_centre"].shape == m["group_centre"].shape
            assert not np.array_equal(fm["group_centre"][:], m["group_centre"][:]), "fold = whole"
    with h5py.File(out) as o:
        label, flag = o["wafers/label"][:], o["wafers/flag"][:]
    unseen = (label == 0) & (np.arange(len(label)) % modulus != 0)
    t, rate = int(unseen.sum()), flag[unseen].mean()
    sd = math.sqrt(a * (1 - a) * (1 / t + 1 / n))
    print(f"grouped, {k} fold models: {rate:.4f} of {t} unseen good wafers flagged (A = {a}, 3 sigma {3 * sd:.4f})")
    assert abs(rate - a) <= 3 * sd, "grouped fold models: the rate on unseen good wafers is not A"
    print("grouped fold checks passed")
    sys.exit(0)

d, modulus, a = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])


with h5py.File(f"{d}/folds.h5") as m, h5py.File(f"{d}/full.h5") as f:
    assert text(m.attrs["format"]) == "wafermill pca model v5", text(m.attrs["format"])
    assert "fold_models" not in f, "--scoring full keeps no fold models"
    J, n, k = len(m["centre"]), int(m["n_reference"][0]), int(m["folds"][0])
    assert sorted(m["fold_models"].keys()) == [str(i) for i in range(k)]
    comps = [int(m[f"fold_models/{i}/eigenvalues"].shape[0]) for i in range(k)]
    whole = int(m["eigenvalues"].shape[0])
assert J > 2 * n, f"{J} columns, {n} reference wafers: not the regime of many more columns"
rates = {}
for name in ("folds", "full"):
    with h5py.File(f"{d}/out_{name}.h5") as o:
        label, flag = o["wafers/label"][:], o["wafers/flag"][:]
        unseen = (label == 0) & (np.arange(len(label)) % modulus != 0)
        rates[name] = flag[unseen].mean()
        t = int(unseen.sum())
sd = math.sqrt(a * (1 - a) * (1 / t + 1 / n))
print(f"{J} columns, {n} reference wafers, {t} unseen good wafers; components: whole reference "
      f"{whole}, folds {comps}; false alarms: fold models {rates['folds']:.4f}, whole model "
      f"{rates['full']:.4f} (A = {a}, 3 sigma {3 * sd:.4f})")
assert abs(rates["folds"] - a) <= 3 * sd, "fold models: the rate on unseen good wafers is not A"
assert rates["full"] > a + 3 * sd, "the whole model holds A here: not the regime of the defect"
print("fold checks passed")
