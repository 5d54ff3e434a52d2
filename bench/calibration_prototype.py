#!/usr/bin/python3
"""A numpy prototype of `fit`'s calibration with many more columns than reference wafers
(docs/MONITORING.md "Steps", "Not built yet"): the same autoscaling (non-finite values imputed by
the mean), 5-fold cross-validation by reference ordinal and conformal limit on max(T2/median,
SPE/median) at A = 0.05, with three variants: the 90 % variance rule (wafermill today), components
above the Marchenko-Pastur edge (1 + sqrt(J/(n-1)))^2, and the 90 % rule with each unseen wafer
scored by the fold model of its index mod 5 (cross-conformal).

usage: calibration_prototype.py OUT.h5 TRACES.h5 MODEL.h5 REF_MODULUS
OUT.h5: `run --model MODEL.h5` of TRACES.h5 (its /features/values and /features/by_step);
MODEL.h5 gives the columns; the reference is label == 0 and index % REF_MODULUS == 0."""
import sys, h5py, numpy as np
out, traces, model, mod = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
A = 0.05
with h5py.File(out) as o, h5py.File(traces) as t, h5py.File(model) as m:
    sn = [s.decode() for s in o["features/sensor_names"][:]]; fn = [s.decode() for s in o["features/names"][:]]
    v = o["features/values"][:]; bs = o["features/by_step"][:]
    cs = [s.decode() for s in m["column_sensor"][:]]; cf = [s.decode() for s in m["column_feature"][:]]
    ks = m["column_step"][:] if "column_step" in m else np.full(len(cs), -1)
    X = np.stack([v[:, sn.index(s), fn.index(f)] if k < 0 else bs[:, k, sn.index(s), fn.index(f)] for s, f, k in zip(cs, cf, ks)], 1)
    lab = t["wafers/label"][:]
idx = np.arange(len(lab)); ref = (lab == 0) & (idx % mod == 0); ug = (lab == 0) & (idx % mod != 0); bad = lab != 0
def fitm(Xt, rule):
    mu = np.nanmean(Xt, 0); sd = np.nanstd(Xt, 0, ddof=1); sd[sd == 0] = 1
    Z = np.nan_to_num((Xt - mu) / sd); n, J = Z.shape
    U, S, Vt = np.linalg.svd(Z, full_matrices=False); lam = S**2 / (n - 1)
    if rule == "var":
        c = np.cumsum(lam) / lam.sum(); a = int(np.searchsorted(c, 0.9) + 1)
    else:
        a = int((lam > (1 + np.sqrt(J / (n - 1)))**2).sum())
    a = max(1, min(a, n - 1))
    return mu, sd, Vt[:a].T, lam[:a]
def stat(mdl, Xs):
    mu, sd, P, lam = mdl; Z = np.nan_to_num((Xs - mu) / sd); T = Z @ P
    return (T**2 / lam).sum(1), ((Z - T @ P.T)**2).sum(1)
R = X[ref]; n = len(R); folds = np.arange(n) % 5
for rule in ["var", "mp"]:
    t2h = np.zeros(n); speh = np.zeros(n)
    for f in range(5):
        mdl = fitm(R[folds != f], rule); t2h[folds == f], speh[folds == f] = stat(mdl, R[folds == f])
    mt, ms = np.median(t2h), np.median(speh); u = np.maximum(t2h / mt, speh / ms)
    k = int(np.ceil((1 - A) * (n + 1))); L = np.sort(u)[min(k, n) - 1]
    mdl = fitm(R, rule); t2, spe = stat(mdl, X); fl = (t2 > L * mt) | (spe > L * ms)
    sc = np.maximum(t2 / mt, spe / ms)
    te = ug | bad; y = bad[te]; s = sc[te]
    auc = (np.argsort(np.argsort(s)) [y].sum() - y.sum()*(y.sum()-1)/2) / (y.sum()*(~y).sum())
    print(f"{rule}: J={X.shape[1]} n={n} components {mdl[2].shape[1]}: false alarms unseen good {fl[ug].mean():.3f}, recall {fl[bad].mean():.3f}, AUC {auc:.3f}")
# Cross-conformal variant: each unseen wafer scored by the fold model of (its index mod 5), as the
# held-out wafers were; the limits from the held-out scores as before.
rule = "var"
t2h = np.zeros(n); speh = np.zeros(n); models = []
for f in range(5):
    mdl = fitm(R[folds != f], rule); models.append(mdl); t2h[folds == f], speh[folds == f] = stat(mdl, R[folds == f])
mt, ms = np.median(t2h), np.median(speh); u = np.maximum(t2h / mt, speh / ms)
k = int(np.ceil((1 - A) * (n + 1))); L = np.sort(u)[min(k, n) - 1]
sc = np.zeros(len(X))
for f in range(5):
    sel = idx % 5 == f; t2, spe = stat(models[f], X[sel]); sc[sel] = np.maximum(t2 / mt, spe / ms)
fl = sc > L; te = ug | bad; y = bad[te]; s = sc[te]
auc = (np.argsort(np.argsort(s))[y].sum() - y.sum()*(y.sum()-1)/2) / (y.sum()*(~y).sum())
print(f"fold models: false alarms unseen good {fl[ug].mean():.3f}, recall {fl[bad].mean():.3f}, AUC {auc:.3f}")
