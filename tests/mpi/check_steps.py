#!/usr/bin/env python3
"""Checks by-step model columns (docs/MONITORING.md "Steps") on traces whose planted faults all lie
in one recipe step (`generate --anomaly-step K`):
- the `--by-step auto` model is format v4 (v5 when it keeps fold models, `fit --scoring`) with a
  /column_step per column, every one a step of the input (0..K-1); the `--by-step both` model has
  the whole-wafer columns (-1) first, then the by-step ones; the `--by-step none` model is v2 (v5
  with fold models) and has no /column_step;
- the run's T² and SPE are numpy's of /features/by_step against the auto model (against its fold
  model of each wafer, index mod folds, when it keeps them) (1e-9 relative);
- for the flagged planted wafers the top contribution (/wafers/contrib_column, S*F + (k*S + s)*F
  + f for step k) names the planted sensor AND the planted step for at least 3/4 of them;
- export's CSV has step_1 = that step (and "all" for a whole-wafer column), contribution_1 its
  sensor/feature.
usage: check_steps.py DIR (traces.h5, auto.h5, both.h5, none.h5, out.h5, verdicts.csv)"""
import csv
import sys

import h5py
import numpy as np

d = sys.argv[1]


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


with h5py.File(f"{d}/traces.h5") as t:
    label, kind = t["wafers/label"][:], t["truth/anomaly_kind"][:]
    sensor = t["truth/anomaly_sensor"][:]
    step = int(t.attrs["generator_anomaly_step"])
    K = int(t.attrs["generator_n_steps"])
with h5py.File(f"{d}/auto.h5") as m, h5py.File(f"{d}/both.h5") as b, h5py.File(f"{d}/none.h5") as n:
    assert text(m.attrs["format"]) == ("wafermill pca model v5" if "fold_models" in m else "wafermill pca model v4")
    ks = m["column_step"][:]
    assert ks.dtype == np.int32 and len(ks) == len(m["centre"]), "one int32 step per column"
    assert ks.min() >= 0 and ks.max() < K, f"auto: steps {ks.min()}..{ks.max()} (K = {K})"
    kb = b["column_step"][:]
    whole = int((kb == -1).sum())
    assert whole > 0 and np.all(kb[:whole] == -1) and np.all(kb[whole:] >= 0), "both: whole-wafer first"
    assert text(n.attrs["format"]) == ("wafermill pca model v5" if "fold_models" in n else "wafermill pca model v2")
    assert "column_step" not in n, "none: no steps"
    assert whole == len(n["centre"]), "both's whole-wafer columns are none's"
    cs = [text(s) for s in m["column_sensor"][:]]
    cf = [text(s) for s in m["column_feature"][:]]
    # the models that score: the fold models (wafer w by fold w mod k), or the whole one
    k_folds = int(m["folds"][0]) if "fold_models" in m else 1
    where = [f"fold_models/{f}/" for f in range(k_folds)] if "fold_models" in m else [""]
    folds = [{q: m[w + q][:] for q in ("centre", "scale", "loadings", "eigenvalues")} for w in where]
    print(f"auto: scored by {'its ' + str(k_folds) + ' fold models' if k_folds > 1 else 'the whole model'}")
    print(f"auto: {len(ks)} columns over {K} steps; both: {len(kb)} ({whole} whole-wafer); none: {whole}")

with h5py.File(f"{d}/out.h5") as o:
    sensors = [text(s) for s in o["features/sensor_names"][:]]
    fnames = [text(s) for s in o["features/names"][:]]
    S, F = len(sensors), len(fnames)
    bs = o["features/by_step"][:]
    x = np.stack([bs[:, k, sensors.index(s), fnames.index(f)] for s, f, k in zip(cs, cf, ks)], axis=1)
    t2, spe = np.zeros(len(x)), np.zeros(len(x))
    for f, fm in enumerate(folds):  # wafer w scored by fold model w mod folds
        w = np.arange(f, len(x), k_folds)
        P, lam = fm["loadings"], fm["eigenvalues"]
        z = (x[w] - fm["centre"]) / fm["scale"]
        z[~np.isfinite(z)] = 0.0
        tt = z @ P
        t2[w] = (tt * tt / lam).sum(axis=1)
        spe[w] = ((z - tt @ P.T) ** 2).sum(axis=1)
    assert np.allclose(o["wafers/t2"][:], t2, rtol=1e-9, atol=0), "T2 is not numpy's of /features/by_step"
    assert np.allclose(o["wafers/spe"][:], spe, rtol=1e-9, atol=0), "SPE is not numpy's of /features/by_step"
    flag, col = o["wafers/flag"][:], o["wafers/contrib_column"][:]

top = col[:, 0]
assert np.all(top[flag == 1] >= S * F), "an auto model's contributions are all by-step columns"
top_sensor = np.where(top < S * F, top // F, (top - S * F) % (S * F) // F)
top_step = np.where(top < S * F, -1, (top - S * F) // (S * F))
bad = (label != 0) & (flag == 1) & (kind > 0)
both_right = (top_sensor[bad] == sensor[bad]) & (top_step[bad] == step)
share = both_right.mean()
print(f"flagged planted wafers {int(bad.sum())} of {int((label != 0).sum())}; top contribution names "
      f"sensor and step {step} in {share:.3f} (sensor {np.mean(top_sensor[bad] == sensor[bad]):.3f}, "
      f"step {np.mean(top_step[bad] == step):.3f}; chance {1 / (S * K):.3f})")
assert bad.sum() >= 20 and share >= 0.75, "contributions do not name the planted sensor and step"

with open(f"{d}/verdicts.csv") as fh:
    rows = list(csv.DictReader(fh))
assert len(rows) == len(flag), "one CSV row per wafer"
for i, r in enumerate(rows):
    if flag[i]:
        want = "all" if top_step[i] < 0 else str(top_step[i])
        assert r["step_1"] == want, f"wafer {i}: step_1 {r['step_1']!r}, expected {want!r}"
        f = top[i] % F
        assert r["contribution_1"] == f"{sensors[top_sensor[i]]}/{fnames[f]}", f"wafer {i}: {r['contribution_1']}"
    else:
        assert r["step_1"] == "" and r["contribution_1"] == "", f"wafer {i}: unflagged with a contribution"
print("step checks passed")
