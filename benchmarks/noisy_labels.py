"""Noisy-label benchmark: do the label verdicts find wrongly labelled photos?

Kinds of wrong labels, as crowds make them, each on ``--noise`` (10 %) of
the photos, seeded: a **random** other item, and a **sibling** (an item with
the same parent: Granny-Smith -> Pink-Lady; a random item when the label has
no sibling), each on single photos; and (``train`` only) a **series** of
3-6 consecutive photos of one item (file order) all filed under ONE sibling,
as a contributor who mislabels a whole shooting session does. The series are
cut from the file order alone, never from features (training/groups.py would
make the benchmark judge itself). On this data file order says little about
looks (docs/benchmarks.md), so ``scene`` flips, a photo and the 2-5 photos of
its item most alike it in the audit's own features, give the case most
favourable to near-duplicate folds (an upper bound; needs the features cache
filled by an earlier audit). Flagged = ``label_verdict`` in {mismatch, suspect}. Beside it,
``cleanlab.filter.find_label_issues`` on the *same* probabilities.

* ``val``: the flips are on the val split, judged by a trained bundle (ONNX
  Runtime over the photos once; the model's output does not depend on the
  claimed label, so each flip set is judged with the validate stage's own
  rule, :func:`crowdlens.verdicts.judge`, and the bundle's thresholds).
* ``train``: the flips are on the train split, and the real ``crowdlens
  audit`` command judges them with K-fold out-of-fold probabilities (no
  clean training set); cleanlab runs on the audit's out-of-fold logits.
  ``--fold-grouping`` runs the audit with random and/or near-duplicate folds.

Usage::

    python benchmarks/noisy_labels.py val --bundle B
    python benchmarks/noisy_labels.py train --features-cache DIR   # runs crowdlens audit
    python benchmarks/noisy_labels.py train --features-cache DIR \
        --kinds random sibling series --fold-grouping random near-duplicate
    python benchmarks/noisy_labels.py train --features-cache DIR --kinds scene \
        --fold-grouping random near-duplicate
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "grocery-store"
WORK = REPO / "benchmarks" / "_work" / "noisy_labels"
FLAGGED = ("mismatch", "suspect")  # label_verdict values
KINDS = ("random", "sibling")  # single photos; val and train
SERIES = "series"  # whole runs of consecutive photos to one sibling; train only
SCENE = "scene"  # a photo and its most alike photos of the item to one sibling; train only
SERIES_LENGTH = (3, 6)

sys.path.insert(0, str(REPO / "src"))

from crowdlens import schema as S  # noqa: E402


def photos(split: str) -> pd.DataFrame:
    """path, label, parent_label of a split (parents from classes.csv), sorted by path."""
    from crowdlens.training.data import list_labelled_photos

    return list_labelled_photos(DATA / split).sort_values("path").reset_index(drop=True)


def series_runs(y: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """Consecutive rows of one label cut into runs of SERIES_LENGTH photos (rows in file order).

    A label's last few rows, fewer than the shortest run, belong to no run.
    """
    shortest, longest = SERIES_LENGTH
    runs = []
    for lab in np.unique(y):
        idx = np.flatnonzero(y == lab)
        start = 0
        while len(idx) - start >= shortest:
            n = int(rng.integers(shortest, longest + 1))
            runs.append(idx[start : start + n])
            start += n
    return runs


def scene_runs(y: np.ndarray, features: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """Disjoint runs: a random photo and the 2-5 photos of its item most alike it (cosine).

    Favourable to near-duplicate folds by construction (the audit's own feature
    space; not groups.py's threshold rule): an upper bound of what they can gain.
    """
    from crowdlens.training.groups import unit_rows  # cosine only, not groups.py's rule

    shortest, longest = SERIES_LENGTH
    f = unit_rows(features)
    free = np.ones(len(y), dtype=bool)
    runs = []
    for i in rng.permutation(len(y)):
        same = np.flatnonzero((y == y[i]) & free)
        same = same[same != i]
        if not free[i] or len(same) < shortest - 1:
            continue
        near = same[np.argsort(-(f[same] @ f[i]))[: int(rng.integers(shortest, longest + 1)) - 1]]
        runs.append(np.concatenate([[i], near]))
        free[runs[-1]] = False
    return runs


def series_claims(y, n: int, siblings: list[list[int]], share: float, seed: int, features=None):
    """Claimed labels with whole runs flipped, each run to ONE sibling, until ``share`` of rows.

    Runs: consecutive files (``features`` None), else alike photos (:func:`scene_runs`).
    """
    from crowdlens.training.thresholds import simulate_claims

    rng = np.random.default_rng(seed)
    runs = series_runs(y, rng) if features is None else scene_runs(y, features, rng)
    picked, total = [], 0
    for r in rng.permutation(len(runs)):
        if total >= round(share * len(y)):
            break
        picked.append(runs[r])
        total += len(runs[r])
    wrong = simulate_claims(np.array([y[run[0]] for run in picked]), n, siblings, "sibling", seed)
    claimed = y.copy()
    for run, w in zip(picked, wrong):
        claimed[run] = w
    return claimed


def flip(table: pd.DataFrame, kind: str, share: float, seed: int, features=None) -> pd.DataFrame:
    """``table`` (sorted by path) with a ``claimed`` label and ``flipped`` flag: ``share`` flipped.

    ``features``: rows aligned with ``table``, for the ``scene`` kind.
    """
    from crowdlens.training.thresholds import sibling_table, simulate_claims

    labels = sorted(table.label.unique())
    parents = dict(zip(table.label, table.parent_label))
    siblings = sibling_table(labels, parents)
    index = {lab: i for i, lab in enumerate(labels)}
    y = table.label.map(index).to_numpy()
    if kind in (SERIES, SCENE):
        claimed = series_claims(y, len(labels), siblings, share, seed, features)
    else:
        rng = np.random.default_rng(seed)
        rows = rng.choice(len(table), round(share * len(table)), replace=False)
        wrong = simulate_claims(y, len(labels), siblings, kind, seed)
        claimed = y.copy()
        claimed[rows] = wrong[rows]
    out = table.copy()
    out["claimed"] = [labels[i] for i in claimed]
    out["claimed_parent"] = out["claimed"].map(parents)
    out["flipped"] = claimed != y
    return out


def prf(flagged: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    tp = int((flagged & truth).sum())
    return {
        "precision": round(tp / max(int(flagged.sum()), 1), 3),
        "recall": round(tp / max(int(truth.sum()), 1), 3),
        "flagged": int(flagged.sum()),
    }


def cleanlab_flags(claimed_idx: np.ndarray, probs: np.ndarray) -> np.ndarray:
    from cleanlab.filter import find_label_issues

    return find_label_issues(labels=claimed_idx, pred_probs=probs)


def flagged(table: pd.DataFrame, probs: np.ndarray, labels: list[str], th, parents) -> np.ndarray:
    """Whether each row's ``claimed`` label gets a flagged verdict (suspect or mismatch)."""
    from crowdlens.verdicts import judge

    verdicts = [judge(c, p, labels, th, parents).verdict for c, p in zip(table.claimed, probs)]
    return np.array([v in FLAGGED for v in verdicts], dtype=bool)


def run_val(args) -> dict:
    from crowdlens.stages.validate import ValidateConfig, bundle_facts
    from crowdlens.training.evaluate import bundle_logits
    from crowdlens.verdicts import calibrate

    table = photos("val")
    facts = bundle_facts(args.bundle)
    t0 = time.perf_counter()
    logits, rows, _ = bundle_logits(args.bundle, list(table.path))
    seconds = time.perf_counter() - t0
    table = table.iloc[rows].reset_index(drop=True)
    probs = calibrate(logits, facts.temperature)
    th = ValidateConfig().thresholds(facts.fitted)
    judged_by = "image"
    if facts.text is not None and not args.no_text_evidence:  # as moderate judges with text on
        from crowdlens.training.evaluate import text_evidence_of

        paths = list(table.path)
        logits = logits + text_evidence_of(facts.text.model, facts.text.read_settings, paths)
        probs = calibrate(logits, facts.text.temperature)
        th = ValidateConfig().thresholds(facts.text.fitted)
        judged_by = "image+text"
        seconds = time.perf_counter() - t0
    index = {lab: i for i, lab in enumerate(facts.labels)}
    out = {"photos": len(table), "judged_by": judged_by, "thresholds": th.to_dict()}
    out["inference_s"] = round(seconds, 1)
    out["clean_top1"] = round(float((probs.argmax(1) == table.label.map(index)).mean()), 4)
    clean = flagged(table.assign(claimed=table.label), probs, facts.labels, th, facts.parents)
    out["clean_flagged_share"] = round(float(clean.mean()), 4)
    for kind in args.kinds:
        noisy = flip(table, kind, args.noise, args.seed)
        ours = flagged(noisy, probs, facts.labels, th, facts.parents)
        truth = noisy.flipped.to_numpy()
        theirs = cleanlab_flags(noisy.claimed.map(index).to_numpy(), probs)
        out[kind] = {"flipped": int(truth.sum()), "ours": prf(ours, truth)}
        out[kind]["cleanlab"] = prf(theirs, truth)
    return out


def run_audit(noisy: pd.DataFrame, work: Path, grouping: str, args) -> dict:
    """``crowdlens audit`` on ``noisy``'s claimed labels: P/R of its verdicts and of cleanlab's."""
    from crowdlens.verdicts import calibrate

    work.mkdir(parents=True, exist_ok=True)
    manifest = work / "noisy.csv"
    noisy[["path", "claimed", "claimed_parent"]].rename(
        columns={"claimed": "label", "claimed_parent": "group"}
    ).to_csv(manifest, index=False)
    cmd = [sys.executable, "-m", "crowdlens", "audit", str(manifest), "--out", str(work / "out")]
    cmd += ["--overwrite", "--folds", str(args.folds), "--parent-label-column", "group"]
    cmd += ["--fold-grouping", grouping, "--seed", str(args.seed)]
    cmd += ["--no-text-evidence"] if args.no_text_evidence else []
    cmd += ["--no-companions"] if args.no_companions else []
    for name in args.backbones or ():
        cmd += ["--backbone", name]
    cmd += ["--allowed-root", str(DATA / "train")]  # the manifest lists photos outside work/
    cmd += ["--master", "local[2]"] + (
        ["--features-cache", args.features_cache] if args.features_cache else []
    )
    print("$", shlex.join(cmd), flush=True)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=REPO)
    seconds = time.perf_counter() - t0
    res = pd.read_parquet(work / "out" / "results.parquet")
    summary = json.loads((work / "out" / "audit.json").read_text())
    res = noisy[["path", "flipped"]].merge(res, on="path", how="left")
    truth = res.flipped.to_numpy()
    ours = res.label_verdict.isin(FLAGGED).to_numpy()
    index = {lab: i for i, lab in enumerate(summary["labels"])}
    probs = calibrate(np.stack(res.logits.to_numpy()), 1.0)
    theirs = cleanlab_flags(res.label.map(index).to_numpy(), probs)
    np.save(work / "flags.npy", np.stack([truth, ours, theirs]))  # rows in noisy's order
    folds = {
        k: summary[k]
        for k in ("fold_grouping", "groups", "duplicate_similarity", "text_evidence", "companions")
        if k in summary
    }
    return {
        "flipped": int(truth.sum()),
        "rows": len(res),
        "ours": prf(ours, truth),
        "cleanlab": prf(theirs, truth),
        "audit_s": round(seconds, 1),
        "folds": folds,
        "thresholds": summary["thresholds"],
    }


def cached_features(table: pd.DataFrame, cache: str | None) -> np.ndarray:
    """The audit's features (first view) of ``table``'s photos, from its --features-cache."""
    from crowdlens.audit import DEFAULT_BACKBONES
    from crowdlens.errors import CrowdlensError
    from crowdlens.training.head import feature_views

    try:  # no Spark session: from the cache only
        views, _ = feature_views(None, table[["path"]], DEFAULT_BACKBONES, cache=cache)
    except CrowdlensError as e:
        raise SystemExit(f"scene flips need --features-cache filled by an audit first: {e}") from e
    return views[0]


def run_train(args) -> dict:
    table = photos("train")
    out: dict = {"photos": len(table), "folds": args.folds, "seed": args.seed}
    for kind in args.kinds:
        features = cached_features(table, args.features_cache) if kind == SCENE else None
        noisy = flip(table, kind, args.noise, args.seed, features)
        out[kind] = {}
        for grouping in args.fold_grouping:
            work = WORK / f"train-{kind}-{grouping}-{args.seed}"
            out[kind][grouping] = run_audit(noisy, work, grouping, args)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("split", choices=["val", "train"])
    ap.add_argument("--bundle", type=Path, help="val: the trained bundle to judge with")
    ap.add_argument(
        "--no-text-evidence",
        action="store_true",
        help="judge by the image alone (val: even if the bundle has text evidence; "
        "train: crowdlens audit --no-text-evidence)",
    )
    ap.add_argument("--noise", type=float, default=0.10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--folds", type=int, default=5, help="train: audit folds")
    ap.add_argument("--features-cache", help="train: crowdlens audit --features-cache")
    ap.add_argument(
        "--no-companions", action="store_true", help="train: crowdlens audit --no-companions"
    )
    ap.add_argument(
        "--backbones",
        nargs="+",
        help="train: crowdlens audit --backbone for each (default: the audit's own)",
    )
    ap.add_argument(
        "--kinds",
        nargs="+",
        choices=[*KINDS, SERIES, SCENE],
        default=list(KINDS),
        help="flip kinds",
    )
    ap.add_argument(
        "--fold-grouping",
        nargs="+",
        choices=S.FOLD_GROUPINGS,
        default=[S.FOLDS_RANDOM],
        help="train: crowdlens audit --fold-grouping, one audit per value",
    )
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    if args.split == "val" and args.bundle is None:
        ap.error("val needs --bundle (train one with crowdlens train)")
    if args.split == "val" and {SERIES, SCENE} & set(args.kinds):
        ap.error("series flips matter to an audit (train); a bundle judges each val photo alone")
    result = run_val(args) if args.split == "val" else run_train(args)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
