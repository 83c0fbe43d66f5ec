"""Random vs near-duplicate calibration folds, on one ``tail_levers.py`` activation cache.

1. Nearest-neighbour table: how often a photo's closest other photo shows
   the same item, within train, val against train, and across 2 random or
   2 grouped folds (pooled trunk activations, cosine of centred features).
2. ``--cv``: the default tail recipe (``crowdlens.training.tail_mode.fit_tail``)
   trained on each fold of the grouped (or ``--random``) folds; out-of-fold
   logits saved to ``--work``.
3. ``--bundle B``: the temperature and thresholds fitted on those logits
   (``fit_calibration``, as ``crowdlens train``), applied to bundle B's val
   logits with 10 % random and sibling flips (``noisy_labels.py``'s flips).

    python benchmarks/tail_levers.py cache --k 20 && python benchmarks/tail_levers.py cache --k 20 --aug 8
    python benchmarks/calibration_folds.py                        # the table
    python benchmarks/calibration_folds.py --cv --bundle B        # + CV (slow: two tail trainings)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import noisy_labels as nl
import tail_levers as tl


def nn_same(unit_a: np.ndarray, y_a: np.ndarray, unit_b: np.ndarray, y_b: np.ndarray) -> float:
    """Share of rows of ``a`` whose most similar row of ``b`` has the same label."""
    return float((y_b[(unit_a @ unit_b.T).argmax(1)] == y_a).mean())


def table(pooled: np.ndarray, y: np.ndarray, val: np.ndarray, vy: np.ndarray, folds: dict) -> dict:
    from crowdlens.training.groups import unit_rows

    unit, vunit = unit_rows(pooled), unit_rows(val, mean=pooled.mean(0))  # both on train's centre
    sims = unit @ unit.T
    np.fill_diagonal(sims, -9)
    out = {"train_nn_same_item": float((y[sims.argmax(1)] == y).mean())}
    out["val_nn_in_train_same_item"] = nn_same(vunit, vy, unit, y)
    for name, fold in folds.items():
        held = [
            nn_same(unit[fold == f], y[fold == f], unit[fold != f], y[fold != f]) for f in (0, 1)
        ]
        out[f"{name}_folds_nn_same_item"] = float(np.mean(held))
    return {k: round(v, 3) for k, v in out.items()}


def cross_validate(xs: list[np.ndarray], y: np.ndarray, folds: np.ndarray, k: int) -> np.ndarray:
    from crowdlens.models.registry import create_model
    from crowdlens.training.config import TrainConfig
    from crowdlens.training.tail import tail_logits
    from crowdlens.training.tail_mode import fit_tail

    cfg = TrainConfig(mode="tail").resolved()
    base = create_model(tl.BACKBONE, pretrained=True, num_classes=0).eval()
    n_classes = int(y.max()) + 1
    out = np.zeros((len(y), n_classes), np.float32)
    t0 = time.time()
    for f in (0, 1):
        tr, held = np.flatnonzero(folds != f), np.flatnonzero(folds == f)
        tail = fit_tail(base, k, [v[tr] for v in xs], y[tr], n_classes, cfg)
        out[held] = tail_logits(tail, [xs[0][held]])
        print(f"fold {f}: top-1 {(out[held].argmax(1) == y[held]).mean():.3f}, "
              f"{time.time() - t0:.0f} s", flush=True)  # fmt: skip
    return out


def judge_val(bundle: Path, oof: np.ndarray, y: np.ndarray, data: Path) -> dict:
    """Calibrate on ``oof`` (class ids of ``data``'s classes.csv), judge bundle's val logits."""
    import pandas as pd

    from crowdlens.stages.validate import bundle_facts
    from crowdlens.training.evaluate import bundle_logits
    from crowdlens.training.thresholds import fit_calibration
    from crowdlens.verdicts import Thresholds, calibrate

    facts = bundle_facts(str(bundle))
    names = pd.read_csv(data / "classes.csv").iloc[:, 0].tolist()  # class id -> name
    order = [names.index(lab) for lab in facts.labels]  # bundle column -> class id
    index = {lab: i for i, lab in enumerate(facts.labels)}
    yy = np.array([index[names[c]] for c in y])
    fitted = fit_calibration(oof[:, order], yy, facts.labels, facts.parents, folds=2)
    th = Thresholds(**fitted["thresholds"])
    val = nl.photos("val")
    logits, rows, _ = bundle_logits(str(bundle), list(val.path))
    val = val.iloc[rows].reset_index(drop=True)
    probs = calibrate(logits, fitted["temperature"])
    out = {"temperature": round(fitted["temperature"], 3), "thresholds": th.to_dict()}
    out["cv_expected"] = {k: fitted["cv"][k] for k in ("top1", "precision", "recall")}
    for kind in nl.KINDS:
        noisy = nl.flip(val, kind, 0.1, 0)
        flags = nl.flagged(noisy, probs, facts.labels, th, facts.parents)
        out[f"val_{kind}"] = nl.prf(flags, noisy.flipped.to_numpy())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--k", type=int, default=20, help="the cache's frozen blocks")
    ap.add_argument("--aug", type=int, default=8, help="augmented views in the CV's training")
    ap.add_argument("--cv", action="store_true", help="run the 2-fold CV (two tail trainings)")
    ap.add_argument("--random", action="store_true", help="random folds instead of grouped")
    ap.add_argument("--bundle", type=Path, help="judge this bundle's val logits with the CV fit")
    ap.add_argument("--oof", type=Path, help="out-of-fold logits saved by an earlier --cv run")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", type=Path, default=tl.DATA)
    ap.add_argument("--work", type=Path, default=tl.WORK)
    a = ap.parse_args()

    import torch

    from crowdlens.training.groups import calibration_folds
    from crowdlens.training.probe import assign_folds

    torch.set_num_threads(a.threads)
    t = tl.tag(260, 292, a.k)
    xs = tl._views(a.work, "train", t) + [
        np.load(a.work / f"train_{t}_aug{i}.npy") for i in range(a.aug)
    ]
    y, vy = np.load(a.work / "train_y.npy"), np.load(a.work / "val_y.npy")
    pooled = xs[0].astype(np.float32).reshape(len(y), xs[0].shape[1], -1).mean(-1)
    val = tl._views(a.work, "val", t)[0].astype(np.float32)
    vpooled = val.reshape(len(vy), val.shape[1], -1).mean(-1)
    grouped, info = calibration_folds(pooled, y, 2)
    folds = {"random": assign_folds(y, 2), "grouped": grouped}
    print(json.dumps(info | table(pooled, y, vpooled, vy, folds)), flush=True)
    if not (a.cv or a.oof):
        return
    name = "random" if a.random else "grouped"
    if a.oof:
        oof = np.load(a.oof)
    else:
        flat = [v.reshape(len(v), -1).astype(np.float32) for v in xs]
        oof = cross_validate(flat, y, folds[name], a.k)
        np.save(a.work / f"oof_{name}_{t}_aug{a.aug}.npy", oof)
    print(json.dumps({"folds": name, "cv_top1": round(float((oof.argmax(1) == y).mean()), 4)}))
    if a.bundle:
        print(json.dumps(judge_val(a.bundle, oof, y, a.data)), flush=True)


if __name__ == "__main__":
    main()
