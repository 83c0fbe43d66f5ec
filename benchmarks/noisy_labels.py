"""Noisy-label benchmark: does label validation find wrongly labelled photos?

Injects a seeded share (default 10 %) of wrong labels into the val split,
trains on the train split, moderates the noisy val and the clean val with the
real CLI, and prints:

* precision / recall of ``label_verdict`` in {mismatch, suspect} against the
  flipped photos (goal: precision >= 0.9 at recall >= 0.9), and of mismatch alone;
* the best operating point of a threshold on ``label_prob`` (what the
  thresholds in [validate] could reach with this model);
* the share of clean val photos whose decision is ``review`` (the manual work
  left; lower is better).

Usage::

    python benchmarks/noisy_labels.py --quick            # small, minutes
    python benchmarks/noisy_labels.py                    # full val split
    python benchmarks/noisy_labels.py --bundle models/grocery   # skip training
    python benchmarks/noisy_labels.py --noisy-results DIR --clean-results DIR  # metrics only
"""

from __future__ import annotations

import argparse
import csv
import random
import shlex
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "grocery-store"
WORK = REPO / "benchmarks" / "_work" / "noisy_labels"
FLAGGED = ("mismatch", "suspect")


def val_photos(data: Path) -> list[tuple[str, str]]:
    """(absolute path, fine label) of every val photo; the label is the parent folder."""
    return [(str(p.resolve()), p.parent.name) for p in sorted((data / "val").rglob("*.jpg"))]


def inject_noise(
    photos: list[tuple[str, str]], share: float, seed: int
) -> list[tuple[str, str, str, bool]]:
    """(path, claimed label, true label, flipped): ``share`` of the labels replaced at random."""
    rng = random.Random(seed)
    labels = sorted({lab for _, lab in photos})
    flip = set(rng.sample(range(len(photos)), round(share * len(photos))))
    out = []
    for i, (path, lab) in enumerate(photos):
        claimed = rng.choice([x for x in labels if x != lab]) if i in flip else lab
        out.append((path, claimed, lab, i in flip))
    return out


def write_manifest(rows: list[tuple[str, str]], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label"])
        w.writerows(rows)
    return path


def run(cmd: list[str]) -> float:
    print("$", shlex.join(cmd), flush=True)
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=REPO)
    if done.returncode != 0:
        sys.exit(
            f"command failed with exit code {done.returncode}: {shlex.join(cmd)}\n"
            "(the train/moderate commands must exist and accept these flags; "
            "adjust with --train-args / --moderate-args)"
        )
    return time.perf_counter() - t0


def prf(flagged: list[bool], truth: list[bool]) -> tuple[float, float, int]:
    """Precision, recall and number flagged."""
    tp = sum(f and t for f, t in zip(flagged, truth))
    n_flag = sum(flagged)
    n_true = sum(truth)
    precision = tp / n_flag if n_flag else float("nan")
    recall = tp / n_true if n_true else float("nan")
    return precision, recall, n_flag


def metrics(noisy_results: Path, clean_results: Path | None, truth: dict[str, bool]) -> dict:
    """All figures of the benchmark from two results folders."""
    sys.path.insert(0, str(REPO / "src"))
    from crowdlens import schema as S
    from crowdlens.report.results import read_results

    df = read_results(noisy_results, [S.PATH, S.LABEL_VERDICT, S.LABEL_PROB, S.DECISION])
    df["key"] = df[S.PATH].map(lambda p: str(Path(str(p).removeprefix("file:")).resolve()))
    df = df[df["key"].isin(truth)]
    y = [truth[k] for k in df["key"]]
    verdicts = list(df[S.LABEL_VERDICT].fillna("none"))
    out: dict = {"n_val": len(df), "n_flipped": sum(y)}
    out["flagged"] = prf([v in FLAGGED for v in verdicts], y)
    out["mismatch"] = prf([v == "mismatch" for v in verdicts], y)
    probs = df[S.LABEL_PROB].fillna(1.0).tolist()
    best = None
    for t in sorted(set(probs)):
        p, r, n = prf([q <= t for q in probs], y)
        if r >= 0.9 and (best is None or p > best[1]):
            best = (t, p, r, n)
    out["best_threshold_at_recall_0.9"] = best
    if clean_results is not None:
        clean = read_results(clean_results, [S.DECISION, S.LABEL_VERDICT])
        out["clean_review_share"] = float((clean[S.DECISION] == "review").mean())
        out["clean_flagged_share"] = float(clean[S.LABEL_VERDICT].isin(FLAGGED).mean())
        out["n_clean"] = len(clean)
    return out


def moderate_in_process(rows: list[tuple[str, str]], bundle: Path, out: Path) -> Path:
    """Label validation + decisions without Spark or the moderate command.

    Runs the bundle with the classify stage's own per-photo helper and the
    validate/decide helpers; only label columns exist (no quality or text), so
    the review share covers label work only. For use before ``crowdlens
    moderate`` runs the classifier, and to separate model quality from plumbing.
    """
    sys.path.insert(0, str(REPO / "src"))
    import pandas as pd

    from crowdlens import schema as S
    from crowdlens.models.bundle import load_bundle
    from crowdlens.models.predict import predict_contents
    from crowdlens.stages.decide import Policy, decide
    from crowdlens.stages.validate import ValidateConfig, calibrate, verdict

    b = load_bundle(bundle)
    labels, t = list(b.labels), b.temperature or 1.0
    cfg = ValidateConfig()
    recs = []
    for i in range(0, len(rows), 32):
        chunk = rows[i : i + 32]
        preds = predict_contents([Path(p).read_bytes() for p, _ in chunk], b)
        for (path, label), pr in zip(chunk, preds):
            probs = None if pr is None or pr.logits is None else calibrate(pr.logits, t)
            v, prob, rank = verdict(label, probs, labels, cfg)
            rec = {
                S.PATH: path,
                S.LABEL: label,
                S.STATUS: "ok",
                S.LABEL_VERDICT: v,
                S.LABEL_PROB: prob,
                S.LABEL_RANK: rank,
                S.PRED_LABEL: pr.label if pr else None,
            }
            rec[S.DECISION], rec[S.REASONS] = decide(rec, Policy())
            recs.append(rec)
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(recs).to_parquet(out / "results.parquet")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--work", type=Path, default=WORK)
    ap.add_argument("--noise", type=float, default=0.10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--quick", action="store_true", help="80 val photos, 8 training photos per class"
    )
    ap.add_argument("--bundle", type=Path, help="an existing bundle: skip training")
    ap.add_argument("--train-args", default="", help="extra flags for crowdlens train")
    ap.add_argument(
        "--moderate-args",
        default="--model {bundle} --master local[2]",
        help="flags for crowdlens moderate ({bundle} is replaced)",
    )
    ap.add_argument(
        "--in-process",
        action="store_true",
        help="validate in this process (no Spark, no 'crowdlens moderate'): model figures only",
    )
    ap.add_argument(
        "--noisy-results", type=Path, help="existing results of the noisy val: metrics only"
    )
    ap.add_argument("--clean-results", type=Path, help="existing results of the clean val")
    args = ap.parse_args()

    py = [sys.executable, "-m", "crowdlens"]
    work = args.work / ("quick" if args.quick else "full")
    photos = val_photos(args.data)
    if args.quick:
        photos = random.Random(args.seed).sample(photos, min(80, len(photos)))
        photos.sort()
    noisy = inject_noise(photos, args.noise, args.seed)
    truth = {p: f for p, _, _, f in noisy}
    times = {}

    noisy_dir, clean_dir = args.noisy_results, args.clean_results
    if noisy_dir is None:
        bundle = args.bundle
        if bundle is None:
            bundle = work / "bundle"
            train = [
                *py,
                "train",
                "--train",
                str(args.data / "train"),
                "--val",
                str(args.data / "val"),
                "--out",
                str(bundle),
                "--seed",
                str(args.seed),
            ]
            train += ["--max-per-class", "8"] if args.quick else []
            times["train_s"] = run(train + shlex.split(args.train_args))
        if args.in_process:
            t0 = time.perf_counter()
            noisy_dir = moderate_in_process(
                [(p, c) for p, c, _, _ in noisy], bundle, work / "inproc_noisy"
            )
            clean_dir = moderate_in_process(photos, bundle, work / "inproc_clean")
            times["validate_in_process_s"] = time.perf_counter() - t0
    if noisy_dir is None:
        bundle = args.bundle or work / "bundle"
        extra = shlex.split(args.moderate_args.format(bundle=bundle))
        noisy_csv = write_manifest([(p, c) for p, c, _, _ in noisy], work / "noisy_val.csv")
        clean_csv = write_manifest(photos, work / "clean_val.csv")
        noisy_dir, clean_dir = work / "out_noisy", work / "out_clean"
        times["moderate_noisy_s"] = run(
            [*py, "moderate", str(noisy_csv), "--out", str(noisy_dir), "--overwrite", *extra]
        )
        times["moderate_clean_s"] = run(
            [*py, "moderate", str(clean_csv), "--out", str(clean_dir), "--overwrite", *extra]
        )

    m = metrics(noisy_dir, clean_dir, truth)
    p, r, n = m["flagged"]
    pm, rm, nm = m["mismatch"]
    print(
        f"\nnoisy val: {m['n_val']} photos, {m['n_flipped']} labels flipped ({args.noise:.0%}, seed {args.seed})"
    )
    print(
        f"mismatch+suspect : precision {p:.3f}  recall {r:.3f}  ({n} flagged)   goal: >= 0.9 / >= 0.9"
    )
    print(f"mismatch only    : precision {pm:.3f}  recall {rm:.3f}  ({nm} flagged)")
    best = m["best_threshold_at_recall_0.9"]
    if best:
        print(
            f"best label_prob threshold with recall >= 0.9: p <= {best[0]:.4f} -> precision {best[1]:.3f}, "
            f"recall {best[2]:.3f} ({best[3]} flagged)"
        )
    if "clean_review_share" in m:
        print(
            f"clean val: {m['n_clean']} photos, share in review {m['clean_review_share']:.3f}, "
            f"flagged mismatch/suspect {m['clean_flagged_share']:.3f}"
        )
    for k, v in times.items():
        print(f"{k}: {v:.0f}")


if __name__ == "__main__":
    main()
