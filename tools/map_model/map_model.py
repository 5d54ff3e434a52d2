#!/usr/bin/python3
"""Trains, exports and evaluates wafermill's die-map pattern classifier (docs/PICTURES.md
"Classifier"): gradient-boosted decision trees (softmax, Newton leaves, depth-limited) written
in plain numpy, trained on the descriptors that `wafermill run` writes to /map_results/features,
so the features come from the one C++ implementation the job uses.

The labelled maps are split by lot: a lot is held out when sha1(lot name) mod 100 is below
--holdout-percent (25), so the held-out maps share no lot with the training maps and the
split is the same on every machine. Generated maps (`wafermill generate --maps`, planted
patterns in /truth/map_pattern) may be added to the training part as a second "fab".

  train:    map_model.py train --maps WM.h5 --features WM_OUT.h5 [--generated GEN.h5 GEN_OUT.h5]
                               --header src/pictures/map_model_params.hpp
  evaluate: map_model.py evaluate --maps WM.h5 --output WM_OUT.h5 [--floors ...]
            (the patterns the built classifier wrote, scored on the held-out lots)
Needs numpy and h5py only."""
import argparse
import hashlib
import sys

import h5py
import numpy as np

PATTERNS = ["none", "centre", "donut", "edge-local", "edge-ring", "local", "near-full",
            "random", "scratch"]
LABELS = {"none": 0, "center": 1, "centre": 1, "donut": 2, "edge-loc": 3, "edge-local": 3,
          "edge-ring": 4, "loc": 5, "local": 5, "near-full": 6, "random": 7, "scratch": 8}
# Columns that grow with the map's size (counts of dies or clusters, the radius in pitches):
# left out so that a model cannot learn the sizes at which the sample's classes were drawn.
SIZE_COLUMNS = {"die_count", "fail_count", "n_clusters", "largest_cluster", "wafer_pitches"}


def text(a):
    return [x.decode() if isinstance(x, bytes) else str(x) for x in a]


def held_out(lots, percent):
    return np.array([int(hashlib.sha1(l.encode()).hexdigest(), 16) % 100 < percent for l in lots])


def read_labels(path):
    with h5py.File(path, "r") as f:
        labels = text(f["wafers/failure_type"][...])
        lots = text(f["wafers/lot_name"][...])
    y = np.array([LABELS.get(l.lower(), -1) for l in labels])
    return y, lots


def read_features(path):
    with h5py.File(path, "r") as f:
        r = f["map_results"]
        return text(r["feature_names"][...]), r["features"][...], r["pattern"][...]


# ---- gradient-boosted trees --------------------------------------------------------------

def bin_edges(X, n_bins):
    """Candidate thresholds per column: midpoints between distinct quantiles."""
    edges = []
    for j in range(X.shape[1]):
        q = np.unique(np.quantile(X[:, j], np.linspace(0, 1, n_bins + 1)))
        edges.append((q[:-1] + q[1:]) / 2 if len(q) > 1 else np.array([]))
    return edges


def fit_tree(B, edges, cols, g, h, w, depth, lam, min_child):
    """One regression tree on binned columns B (bin = number of edges below x, so
    x <= edges[j][b] exactly when bin <= b). Returns nodes [feature, threshold, left, right,
    value]; feature -1 marks a leaf."""
    nodes = []

    def grow(idx, d):
        G, H = float((w[idx] * g[idx]).sum()), float((w[idx] * h[idx]).sum())
        me = len(nodes)
        nodes.append([-1, 0.0, -1, -1, -G / (H + lam)])
        if d == depth or len(idx) < 2:
            return me
        best = (0.0, None, None)
        parent = G * G / (H + lam)
        for j in cols:
            nb = len(edges[j]) + 1
            if nb < 2:
                continue
            gl = np.cumsum(np.bincount(B[idx, j], weights=w[idx] * g[idx], minlength=nb))[:-1]
            hl = np.cumsum(np.bincount(B[idx, j], weights=w[idx] * h[idx], minlength=nb))[:-1]
            gr, hr = G - gl, H - hl
            ok = (hl >= min_child) & (hr >= min_child)
            if not ok.any():
                continue
            gain = np.where(ok, gl * gl / (hl + lam) + gr * gr / (hr + lam) - parent, -np.inf)
            b = int(np.argmax(gain))
            if gain[b] > best[0] + 1e-12:
                best = (float(gain[b]), j, b)
        if best[1] is None:
            return me
        j, b = best[1], best[2]
        go_left = B[idx, j] <= b
        nodes[me][0], nodes[me][1] = j, float(edges[j][b])
        nodes[me][2] = grow(idx[go_left], d + 1)
        nodes[me][3] = grow(idx[~go_left], d + 1)
        return me

    grow(np.arange(len(g)), 0)
    return nodes


def tree_predict(nodes, X):
    out = np.empty(len(X))
    for i, x in enumerate(X):
        k = 0
        while nodes[k][0] >= 0:
            k = nodes[k][2] if x[nodes[k][0]] <= nodes[k][1] else nodes[k][3]
        out[i] = nodes[k][4]
    return out


def fit_gbt(X, y, w, cols, rounds, depth, rate, lam=1.0, min_child=2.0, n_bins=48):
    K = len(PATTERNS)
    edges = bin_edges(X, n_bins)
    B = np.stack([np.searchsorted(edges[j], X[:, j], side="left") for j in range(X.shape[1])], 1)
    Y = np.eye(K)[y]
    prior = (np.bincount(y, weights=w, minlength=K) + 1) / (w.sum() + K)
    base = np.log(prior) - np.log(prior).mean()
    F = np.tile(base, (len(y), 1))
    trees = []  # (class, nodes) in the order the scores are summed
    for _ in range(rounds):
        P = np.exp(F - F.max(1, keepdims=True))
        P /= P.sum(1, keepdims=True)
        for k in range(K):
            g, h = P[:, k] - Y[:, k], np.maximum(P[:, k] * (1 - P[:, k]), 1e-6)
            nodes = fit_tree(B, edges, cols, g, h, w, depth, lam, min_child)
            for n in nodes:
                n[4] *= rate
            # The training scores from the bins (equal to thresholds on X by construction).
            F[:, k] += tree_predict(nodes, X)
            trees.append((k, nodes))
    return base, trees


def predict(model, X):
    """The C++ inference, in its order of additions: base, then each tree's leaf value."""
    base, trees = model
    F = np.tile(base, (len(X), 1))
    for k, nodes in trees:
        F[:, k] += tree_predict(nodes, X)
    return np.argmax(F, 1)


# ---- figures -----------------------------------------------------------------------------

def figures(y, p):
    K = len(PATTERNS)
    cm = np.zeros((K, K), dtype=int)
    for a, b in zip(y, p):
        cm[a, b] += 1
    present = [k for k in range(K) if cm[k].sum() > 0]
    recall = {k: cm[k, k] / cm[k].sum() for k in present}
    precision = {k: (cm[k, k] / cm[:, k].sum() if cm[:, k].sum() else 0.0) for k in present}
    f1 = {k: (2 * precision[k] * recall[k] / (precision[k] + recall[k])
              if precision[k] + recall[k] else 0.0) for k in present}
    return {"n": int(len(y)), "agreement": float((y == p).mean()), "cm": cm, "recall": recall,
            "precision": precision, "f1": f1, "macro_f1": float(np.mean(list(f1.values())))}


def print_figures(fig, title):
    print(f"{title}: {fig['n']} maps, agreement {fig['agreement']:.3f}, "
          f"macro-F1 {fig['macro_f1']:.3f}")
    print("| class | maps | recall | precision | F1 |")
    print("|---|---:|---:|---:|---:|")
    for k in fig["recall"]:
        print(f"| {PATTERNS[k]} | {fig['cm'][k].sum()} | {fig['recall'][k]:.3f} | "
              f"{fig['precision'][k]:.3f} | {fig['f1'][k]:.3f} |")
    print("\nconfusion (rows: label, columns: predicted; order " + ", ".join(PATTERNS) + ")")
    for k in fig["recall"]:
        print(f"  {PATTERNS[k]:>10} " + " ".join(f"{v:4d}" for v in fig["cm"][k]))


# ---- header ------------------------------------------------------------------------------

def write_header(path, names, model, settings):
    base, trees = model
    feat, thr, left, right, value, roots, cls = [], [], [], [], [], [], []
    for k, nodes in trees:
        at = len(feat)
        roots.append(at)
        cls.append(k)
        for n in nodes:
            feat.append(n[0])
            thr.append(n[1])
            left.append(n[2] + at if n[0] >= 0 else -1)
            right.append(n[3] + at if n[0] >= 0 else -1)
            value.append(n[4])

    def arr(ctype, name, vals, fmt, per=8):
        rows = [", ".join(fmt(v) for v in vals[i:i + per]) for i in range(0, len(vals), per)]
        return (f"inline constexpr {ctype} {name}[{len(vals)}] = {{\n    "
                + ",\n    ".join(rows) + "};\n")

    with open(path, "w") as f:
        f.write("// Generated by tools/map_model/map_model.py train " + settings + ".\n"
                "// Do not edit: rerun the script (docs/PICTURES.md \"Classifier\").\n"
                "#pragma once\n\n#include <cstdint>\n\n"
                "namespace wafermill::pictures::model {\n\n")
        f.write(f"inline constexpr int kFeatures = {len(names)};\n")
        f.write("/// The map_feature_names() the model was trained on, in order.\n")
        f.write(f"inline constexpr const char* kFeatureNames[{len(names)}] = {{\n    "
                + ",\n    ".join(f'"{n}"' for n in names) + "};\n")
        f.write(f"inline constexpr int kClasses = {len(PATTERNS)};\n")
        f.write(f"inline constexpr int kTrees = {len(roots)};\n")
        f.write(f"inline constexpr int kNodes = {len(feat)};\n")
        f.write(arr("double", "kBase", list(base), repr, 3))
        f.write(arr("std::int32_t", "kTreeRoot", roots, str, 16))
        f.write(arr("std::uint8_t", "kTreeClass", cls, str, 24))
        f.write(arr("std::int16_t", "kNodeFeature", feat, str, 24))
        f.write(arr("double", "kNodeThreshold", thr, repr, 4))
        f.write(arr("std::int32_t", "kNodeLeft", left, str, 16))
        f.write(arr("std::int32_t", "kNodeRight", right, str, 16))
        f.write(arr("double", "kNodeValue", value, repr, 4))
        f.write("\n}  // namespace wafermill::pictures::model\n")


# ---- commands ----------------------------------------------------------------------------

def load_training(args):
    y, lots = read_labels(args.maps)
    names, X, _ = read_features(args.features)
    test = held_out(lots, args.holdout_percent)
    known = y >= 0
    Xs, ys, ws, groups = [X[known & ~test]], [y[known & ~test]], [], []
    ws.append(np.ones(len(ys[0])))
    groups.append(np.array([int(hashlib.sha1(l.encode()).hexdigest(), 16) % 5
                            for l, k, t in zip(lots, known, test) if k and not t]))
    for gin, gout in args.generated or []:
        with h5py.File(gin, "r") as f:
            gy = f["truth/map_pattern"][...].astype(int)
        gnames, gX, _ = read_features(gout)
        assert gnames == names, "generated maps' features differ from the real maps'"
        Xs.append(gX)
        ys.append(gy)
        ws.append(np.full(len(gy), args.generated_weight))
        groups.append(np.arange(len(gy)) % 5)
    return (names, np.concatenate(Xs), np.concatenate(ys), np.concatenate(ws),
            np.concatenate(groups), X[known & test], y[known & test], len(ys[0]))


def cmd_train(args):
    names, X, y, w, groups, Xt, yt, n_real = load_training(args)
    cols = [j for j, n in enumerate(names) if n not in SIZE_COLUMNS]
    print(f"training part: {n_real} real maps + {len(y) - n_real} generated; "
          f"held-out: {len(yt)} real maps (lots disjoint)")
    if args.cv:
        # Lot-disjoint 5-fold cross-validation within the training part (real maps scored).
        pred = np.full(len(y), -1)
        for fold in range(5):
            tr = groups != fold
            m = fit_gbt(X[tr], y[tr], w[tr], cols, args.rounds, args.depth, args.rate)
            pred[~tr] = predict(m, X[~tr])
        print_figures(figures(y[:n_real], pred[:n_real]), "5-fold lot-disjoint CV, real maps")
    model = fit_gbt(X, y, w, cols, args.rounds, args.depth, args.rate)
    print_figures(figures(yt, predict(model, Xt)), "held-out lots (python inference)")
    settings = (f"--rounds {args.rounds} --depth {args.depth} --rate {args.rate} "
                f"--holdout-percent {args.holdout_percent} --generated-weight {args.generated_weight}")
    write_header(args.header, names, model, settings)
    print(f"wrote {args.header}")


def cmd_evaluate(args):
    y, lots = read_labels(args.maps)
    _, _, pattern = read_features(args.output)
    test = held_out(lots, args.holdout_percent) & (y >= 0)
    fig = figures(y[test], pattern[test].astype(int))
    print_figures(fig, "held-out lots (wafermill's patterns)")
    if args.floors:
        bad = []
        if fig["agreement"] < args.min_agreement:
            bad.append(f"agreement {fig['agreement']:.3f} < {args.min_agreement}")
        if fig["macro_f1"] < args.min_macro_f1:
            bad.append(f"macro-F1 {fig['macro_f1']:.3f} < {args.min_macro_f1}")
        for k, r in fig["recall"].items():
            if r < args.min_recall:
                bad.append(f"{PATTERNS[k]} recall {r:.3f} < {args.min_recall}")
        if bad:
            print("FAILED: " + "; ".join(bad))
            return 1
        print(f"held-out figures above the floors (agreement {args.min_agreement}, macro-F1 "
              f"{args.min_macro_f1}, recall {args.min_recall})")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--maps", required=True)
    t.add_argument("--features", required=True)
    t.add_argument("--generated", nargs=2, action="append", metavar=("INPUT", "OUTPUT"))
    t.add_argument("--generated-weight", type=float, default=0.5)
    t.add_argument("--header", required=True)
    t.add_argument("--rounds", type=int, default=60)
    t.add_argument("--depth", type=int, default=3)
    t.add_argument("--rate", type=float, default=0.2)
    t.add_argument("--cv", action="store_true")
    t.add_argument("--holdout-percent", type=int, default=25)
    e = sub.add_parser("evaluate")
    e.add_argument("--maps", required=True)
    e.add_argument("--output", required=True)
    e.add_argument("--holdout-percent", type=int, default=25)
    e.add_argument("--floors", action="store_true")
    e.add_argument("--min-agreement", type=float, default=0.0)
    e.add_argument("--min-macro-f1", type=float, default=0.0)
    e.add_argument("--min-recall", type=float, default=0.0)
    args = ap.parse_args()
    return cmd_train(args) if args.cmd == "train" else cmd_evaluate(args)


if __name__ == "__main__":
    sys.exit(main())
