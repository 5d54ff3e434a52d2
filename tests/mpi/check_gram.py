#!/usr/bin/python3
"""Checks the Gram-matrix path of `fit` (docs/MONITORING.md "Matrix").

usage: check_gram.py DIR P...

DIR holds (mpi.fit_gram): model_pP.h5 for each P (the same reference fitted on P ranks) and
out.h5 (run --model model_p1.h5 over every wafer).
- every model is model_p1.h5 bit for bit: every dataset's bytes (the empty sums too, which
  h5diff does not compare) and every root attribute;
- the model is the Gram path's: more columns than reference wafers, the method says so, no sums;
- the run's /wafers/t2 and /wafers/spe are numpy's T² and SPE of /features/values (and of
  /features/by_step for by-step columns) against the model's fold model of each wafer (index mod
  folds, /fold_models/F; 1e-9 relative): a Gram model scores as any model."""
import sys

import h5py
import numpy as np

d, ps = sys.argv[1], sys.argv[2:]
fails = []


def check(ok, what):
    if not ok:
        fails.append(what)
        print("FAIL", what)


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


with h5py.File(f"{d}/model_p1.h5", "r") as ref:
    for p in ps:
        with h5py.File(f"{d}/model_p{p}.h5", "r") as m:
            names = []  # every dataset, those of /fold_models/F/ too
            ref.visititems(lambda k, o: names.append(k) if isinstance(o, h5py.Dataset) else None)
            mine = []
            m.visititems(lambda k, o: mine.append(k) if isinstance(o, h5py.Dataset) else None)
            check(sorted(mine) == sorted(names), f"P={p}: datasets")
            check(any(k.startswith("fold_models/") for k in names), "the model keeps its fold models")
            for k in names:
                a, b = np.asarray(ref[k][()]), np.asarray(m[k][()]) if k in m else None
                if a.dtype.kind == "O":  # strings
                    same = b is not None and [text(s) for s in a] == [text(s) for s in b]
                else:
                    same = b is not None and a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
                check(same, f"P={p}: /{k} differs from P=1")
            for k, v in ref.attrs.items():
                check(text(m.attrs.get(k)) == text(v), f"P={p}: attribute {k}")
    J, n = ref["centre"].shape[0], int(ref["n_reference"][0])
    check(J > n, f"{J} columns, {n} reference wafers: not the Gram case")
    check("Gram matrix" in text(ref.attrs["method"]), f"method: {text(ref.attrs['method'])}")
    check(int(ref["sum_n"][0]) == 0 and ref["sum_dd"].shape == (0,), "a Gram model keeps no sums")
    P = ref["loadings"][:]
    check(np.allclose(np.linalg.norm(P, axis=0), 1.0, atol=1e-12), "unit-length loadings")
    check(np.allclose(P.T @ P, np.eye(P.shape[1]), atol=1e-9), "orthonormal loadings")
    with h5py.File(f"{d}/out.h5", "r") as o:
        sensors = [text(s) for s in o["features/sensor_names"][:]]
        fnames = [text(s) for s in o["features/names"][:]]
        cs, cf = [text(s) for s in ref["column_sensor"][:]], [text(s) for s in ref["column_feature"][:]]
        v = o["features/values"][:]
        # a by-step column k >= 0 (format v4, fit --by-step) reads /features/by_step[:, k]
        ks = ref["column_step"][:] if "column_step" in ref else np.full(len(cs), -1)
        bs = o["features/by_step"][:] if (ks >= 0).any() else None
        x = np.stack([v[:, sensors.index(s), fnames.index(f)] if k < 0 else bs[:, k, sensors.index(s), fnames.index(f)]
                      for s, f, k in zip(cs, cf, ks)], axis=1)
        k_folds = int(ref["folds"][0])
        t2, spe = np.zeros(len(x)), np.zeros(len(x))
        for f in range(k_folds):  # wafer w scored by fold model w mod folds
            fm, w = ref[f"fold_models/{f}"], np.arange(f, len(x), k_folds)
            Pf = fm["loadings"][:]
            z = (x[w] - fm["centre"][:]) / fm["scale"][:]
            z[~np.isfinite(z)] = 0.0
            t = z @ Pf
            t2[w] = (t * t / fm["eigenvalues"][:]).sum(axis=1)
            spe[w] = ((z - t @ Pf.T) ** 2).sum(axis=1)
        got_t2, got_spe = o["wafers/t2"][:], o["wafers/spe"][:]
        check(np.allclose(got_t2, t2, rtol=1e-9, atol=0), f"T2 against numpy: {np.max(np.abs(got_t2 / t2 - 1))}")
        check(np.allclose(got_spe, spe, rtol=1e-9, atol=0), f"SPE against numpy: {np.max(np.abs(got_spe / spe - 1))}")
        print(f"{J} columns, {n} reference wafers, {P.shape[1]} components; "
              f"{int(o['wafers/flag'][:].sum())} of {len(t2)} wafers flagged")
print("gram checks failed" if fails else "gram checks passed")
sys.exit(1 if fails else 0)
