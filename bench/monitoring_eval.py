#!/usr/bin/env python3
"""Precision, recall, false-alarm rate and ROC AUC of a run's verdicts against /wafers/label,
over the wafers that were not in the model's reference (docs/MONITORING.md).
usage: monitoring_eval.py OUTPUT.h5 [--reference-modulus M]
  --reference-modulus M: the reference was "label == 0 and index % M == 0"; those wafers are left out."""
import argparse

import h5py
import numpy as np

p = argparse.ArgumentParser()
p.add_argument("output")
p.add_argument("--reference-modulus", type=int, default=0)
a = p.parse_args()
with h5py.File(a.output, "r") as f:
    label = (f["/wafers/label"][:] != 0).astype(int)
    score = f["/wafers/score"][:].astype(float)
    flag = f["/wafers/flag"][:].astype(int)
idx = np.arange(len(label))
test = np.ones(len(label), bool)
if a.reference_modulus:
    test = ~((label == 0) & (idx % a.reference_modulus == 0))
y, s, fl = label[test], score[test], flag[test]
s = np.where(np.isfinite(s), s, np.inf)
tp = int(((fl == 1) & (y == 1)).sum())
fp = int(((fl == 1) & (y == 0)).sum())
fn = int(((fl == 0) & (y == 1)).sum())
tn = int(((fl == 0) & (y == 0)).sum())
# ROC AUC = P(score of a bad wafer > score of a good one), ties counted half (Mann-Whitney).
order = np.argsort(s, kind="mergesort")
ranks = np.empty(len(s))
sorted_s = s[order]
i = 0
while i < len(s):
    j = i
    while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
        j += 1
    ranks[order[i:j + 1]] = (i + j) / 2.0 + 1
    i = j + 1
npos, nneg = int(y.sum()), int((1 - y).sum())
auc = (ranks[y == 1].sum() - npos * (npos + 1) / 2) / (npos * nneg) if npos and nneg else float("nan")
prec = tp / (tp + fp) if tp + fp else float("nan")
rec = tp / (tp + fn) if tp + fn else float("nan")
far = fp / (fp + tn) if fp + tn else float("nan")
print(f"test wafers {len(y)} (bad {npos}, fail rate {npos / len(y):.3f}); flagged {tp + fp}: "
      f"precision {prec:.3f}, recall {rec:.3f}, false-alarm rate on good {far:.3f}, ROC AUC {auc:.3f}")
