"""Training benchmarks on the grocery photos (run in stages; print figures and ratios).

    python benchmarks/training.py --what seed      # transfer (head) vs scratch, same classes/epochs
    python benchmarks/training.py --what head      # full data, head mode: fine + coarse top-1
    python benchmarks/training.py --what finetune  # full data finetune: top-1, photos/s per core
    ... --what finetune --init-head models/grocery-lite0   # linear probe, then fine-tune
    python benchmarks/training.py --what overhead  # TorchDistributor vs plain loop; 2 vs 1 processes
    python benchmarks/training.py --what features --backbone efficientnet_lite2   # cache (ORT)
    python benchmarks/training.py --what levers    # frozen-feature levers on the cached features
    ... --quick                                     # small scale, to prove the script works

Every figure of one stage is measured in the same run, side by side. Wall
times depend on what else the machine runs: say so when you quote them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
for _k, _v in {
    "MALLOC_MMAP_THRESHOLD_": "33554432",
    "MALLOC_TRIM_THRESHOLD_": "1000000000000",
    "MALLOC_TOP_PAD_": "1000000000",
}.items():
    os.environ.setdefault(_k, _v)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "grocery-store"
# The seed comparison: classes present in both splits, a mix of fruit, vegetables, packages.
SEED_CLASSES = (
    "Avocado", "Banana", "Carrots", "Cabbage", "Lime", "Zucchini",
    "Arla-Standard-Milk", "Oatly-Oat-Milk", "Yellow-Onion", "Red-Beet",
)  # fmt: skip


def _train(cfg, spark_cfg, out):
    from crowdlens.training.api import train

    t0 = time.perf_counter()
    report = train(DATA / "train", DATA / "val", out, cfg, spark_cfg=spark_cfg)
    report["wall_s"] = round(time.perf_counter() - t0, 1)
    return report


def _row(name, r):
    v = r.get("val", {})
    return (
        f"{name:<28} top1 {v.get('top1', float('nan')):.3f}  coarse "
        f"{v.get('parent_top1', float('nan')):.3f}  top5 {v.get('top5', float('nan')):.3f}  "
        f"wall {r['wall_s']:.0f}s  (n_val={v.get('n')})"
    )


def seed(args, spark_cfg, work):
    from crowdlens.training.config import TrainConfig

    classes = SEED_CLASSES[: 4 if args.quick else len(SEED_CLASSES)]
    epochs = 2 if args.quick else args.epochs
    common = {"classes": classes, "epochs": epochs, "max_per_class": 8 if args.quick else 0}
    head = _train(TrainConfig(mode="head", **common), spark_cfg, work / "seed-head")
    scratch = _train(
        TrainConfig(
            mode="scratch",
            input_size=args.scratch_size,
            num_processes=1,
            use_distributor=False,
            batch_size=32,
            **common,
        ),
        spark_cfg,
        work / "seed-scratch",
    )
    print(
        f"seed table: {len(classes)} classes, {epochs} epochs, scratch input {args.scratch_size}px"
    )
    print(_row("transfer (head, lite0)", head))
    print(_row("scratch (inception_v1)", scratch))
    print(f"wall-time ratio scratch/transfer: {scratch['wall_s'] / head['wall_s']:.2f}")
    return {"head": head, "scratch": scratch}


def head(args, spark_cfg, work):
    from crowdlens.training.config import TrainConfig

    out = {}
    for backbone in (
        ("efficientnet_lite0",) if args.quick else ("efficientnet_lite0", "efficientnet_lite2")
    ):
        cfg = TrainConfig(
            mode="head", backbone=backbone, epochs=3 if args.quick else 60,
            max_per_class=4 if args.quick else 0, lr=0.05, weight_decay=5e-4,
        )  # fmt: skip
        out[backbone] = _train(cfg, spark_cfg, work / f"head-{backbone}")
        print(_row(f"head {backbone}", out[backbone]))
    return out


def finetune(args, spark_cfg, work):
    from crowdlens.training.config import TrainConfig

    cfg = TrainConfig(
        mode="finetune", epochs=1 if args.quick else args.epochs,
        max_per_class=3 if args.quick else 0, input_size=128 if args.quick else None,
        num_processes=args.processes, batch_size=32, init_head=args.init_head,
        freeze_bn=args.freeze_bn,
    )  # fmt: skip
    r = _train(cfg, spark_cfg, work / "finetune")
    cores = os.cpu_count() or 1
    per_core = r["photos_seen"] / r["seconds_training"] / cores
    how = [w for w, on in (("from head", args.init_head), ("frozen BN", args.freeze_bn)) if on]
    print(_row("finetune lite0" + (f" ({', '.join(how)})" if how else ""), r))
    print(
        f"finetune throughput: {r['photos_seen'] / r['seconds_training']:.2f} photos/s on {cores} "
        f"cores = {per_core:.2f} photos/s per core (seed: 1.56 photos/s per vCPU, "
        "Inception-v1 on BigDL); includes validation and process launch"
    )
    return {"finetune": r, "photos_per_s_per_core": per_core}


def overhead(args, spark_cfg, work):
    """The same training job: a plain in-process call vs TorchDistributor with 1 and 2 processes."""
    from crowdlens.spark.session import get_spark
    from crowdlens.training.api import _spec, prepare_tables
    from crowdlens.training.config import TrainConfig
    from crowdlens.training.data import targets_for
    from crowdlens.training.distributed import run_distributed
    from crowdlens.training.finetune import FinetuneJob, train_worker

    cfg = TrainConfig(
        mode="finetune", epochs=1 if args.quick else args.epochs, batch_size=16,
        input_size=args.size,
        classes=SEED_CLASSES[:5], max_per_class=4 if args.quick else args.per_class,
    ).resolved()  # fmt: skip
    train_t, val_t, labels, _ = prepare_tables(DATA / "train", DATA / "val", cfg)
    tp, tt = targets_for(train_t, labels)
    vp, vt = targets_for(val_t, labels)
    spec = _spec(cfg).to_dict()

    def job(name):
        return FinetuneJob(
            tuple(tp), tuple(tt), tuple(vp), tuple(vt), tuple(labels), cfg, spec,
            str(work / f"{name}.pt"),
        )  # fmt: skip

    spark = get_spark(spark_cfg)
    times = {}
    t0 = time.perf_counter()
    train_worker(job("plain"))
    times["plain"] = time.perf_counter() - t0
    for n in (1, 2):
        t0 = time.perf_counter()
        run_distributed(train_worker, job(f"td{n}"), num_processes=n, spark=spark)
        times[f"td{n}"] = time.perf_counter() - t0
    print(f"same job ({len(tp)} photos, {cfg.epochs} epochs, {args.size}px): " + ", ".join(
        f"{k} {v:.1f}s" for k, v in times.items()
    ))  # fmt: skip
    print(f"TorchDistributor(1) / plain loop: {times['td1'] / times['plain']:.2f} (goal <= 1.10)")
    print(f"TorchDistributor 2 processes vs 1: speed-up {times['td1'] / times['td2']:.2f}x")
    return times


FEATURES = Path(__file__).resolve().parent / "_work" / "features"


def features(args, spark_cfg, work):
    """Cache features of every train/val photo and its mirror image (ONNX Runtime, 2 threads)."""
    import numpy as np
    import onnxruntime as ort

    from crowdlens.models.hub import resolve_bundle
    from crowdlens.models.preprocess import load_image, preprocess
    from crowdlens.training.data import list_labelled_photos

    FEATURES.mkdir(parents=True, exist_ok=True)
    b = resolve_bundle(args.backbone)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    sess = ort.InferenceSession(str(b.onnx_path), so, providers=["CPUExecutionProvider"])
    out = {}
    for split in ("val", "train"):
        t = list_labelled_photos(DATA / split).sort_values("path").reset_index(drop=True)
        t[["path", "label", "parent_label"]].to_csv(FEATURES / f"{split}_table.csv", index=False)
        views: dict[str, list] = {"center": [], "flip": []}
        t0 = time.perf_counter()
        for s in range(0, len(t), 32):
            arr = np.stack(
                [preprocess(load_image(Path(p).read_bytes(), b.preprocess), b.preprocess)
                 for p in t.path[s : s + 32]]
            )  # fmt: skip
            for name, x in (("center", arr), ("flip", np.ascontiguousarray(arr[..., ::-1]))):
                views[name].append(sess.run([b.features_output], {b.input_name: x})[0])
        for name, parts in views.items():
            np.save(FEATURES / f"{args.backbone}_{split}_{name}.npy", np.concatenate(parts))
        out[split] = {"photos": len(t), "seconds": round(time.perf_counter() - t0, 1)}
        print(split, out[split], flush=True)
    return out


def _load(backbones, split):
    import numpy as np

    return [
        np.concatenate([np.load(FEATURES / f"{b}_{split}_{v}.npy") for b in backbones], axis=1)
        for v in ("center", "flip")
    ]


def levers(args, spark_cfg, work):
    """Val top-1 of each frozen-feature lever; L2 chosen by 5-fold CV on train only."""
    import numpy as np
    import pandas as pd

    from crowdlens.training.evaluate import summarize
    from crowdlens.training.probe import (
        assign_folds,
        fit_probe,
        out_of_fold_logits,
        stack_views,
    )  # fmt: skip

    tr = pd.read_csv(FEATURES / "train_table.csv")
    va = pd.read_csv(FEATURES / "val_table.csv")
    labels = sorted(tr.label.unique())
    parents = dict(zip(tr.label, tr.parent_label))
    index = {lab: i for i, lab in enumerate(labels)}
    y = tr.label.map(index).to_numpy()
    folds = assign_folds(y, 5, 0)
    have = [
        b for b in args.levers_backbones.split(",") if (FEATURES / f"{b}_train_flip.npy").exists()
    ]
    combos = [[b] for b in have] + ([have] if len(have) > 1 else [])
    out = {}
    for combo in combos:
        trv, vav = _load(combo, "train"), _load(combo, "val")
        for flip in (False, True):
            tv, vv = (trv, vav) if flip else (trv[:1], vav[:1])
            cv = {}
            for l2 in (0.01, 0.03, 0.1):
                oof = out_of_fold_logits(tv, y, folds, len(labels), l2)
                cv[l2] = float((oof.argmax(1) == y).mean())
            l2 = max(cv, key=cv.get)
            t0 = time.perf_counter()
            probe = fit_probe(stack_views(tv), np.tile(y, len(tv)), len(labels), l2=l2)
            rep = summarize(probe.logits_views(vv), list(va.label), labels, parents)
            name = "+".join(combo) + (" flip-aug+TTA" if flip else " centre")
            out[name] = {
                "cv_top1": round(cv[l2], 4), "l2": l2, "val_top1": round(rep["top1"], 4),
                "val_parent_top1": round(rep["parent_top1"], 4), "val_top5": round(rep["top5"], 4),
                "fit_s": round(time.perf_counter() - t0, 1),
            }  # fmt: skip
            print(f"{name:<48} {out[name]}", flush=True)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--what",
        choices=["seed", "head", "finetune", "overhead", "features", "levers"],
        required=True,
    )
    p.add_argument("--backbone", default="efficientnet_lite2", help="features: backbone to cache")
    p.add_argument(
        "--levers-backbones",
        default="efficientnet_lite0,efficientnet_lite2",
        help="levers: backbones (cached) to compare and concatenate",
    )
    p.add_argument("--quick", action="store_true", help="tiny scale: proves the script runs")
    p.add_argument("--epochs", type=int, default=10, help="seed / finetune / overhead epochs")
    p.add_argument("--scratch-size", type=int, default=128, help="scratch input size (px)")
    p.add_argument("--processes", type=int, default=2, help="finetune DDP processes")
    p.add_argument(
        "--init-head",
        metavar="BUNDLE",
        help="finetune: start from this head-mode bundle (e.g. models/grocery-lite0)",
    )
    p.add_argument(
        "--freeze-bn", action="store_true", help="finetune: BatchNorm keeps pretrained statistics"
    )
    p.add_argument("--size", type=int, default=128, help="overhead: input size (px)")
    p.add_argument(
        "--per-class", type=int, default=16, help="overhead: photos per class (5 classes)"
    )
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    p.add_argument("--keep", metavar="DIR", help="write the trained bundles here (default: temp)")
    args = p.parse_args(argv)

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from crowdlens.config import SparkConfig

    spark_cfg = SparkConfig(master="local[2]")
    run = {
        "seed": seed,
        "head": head,
        "finetune": finetune,
        "overhead": overhead,
        "features": features,
        "levers": levers,
    }[args.what]
    if args.keep:  # the trained bundles stay, e.g. for crowdlens evaluate
        Path(args.keep).mkdir(parents=True, exist_ok=True)
        result = run(args, spark_cfg, Path(args.keep))
    else:
        with tempfile.TemporaryDirectory(prefix="crowdlens-bench-") as tmp:
            result = run(args, spark_cfg, Path(tmp))
    if args.json:
        clean = json.loads(json.dumps(result, default=str))
        Path(args.json).write_text(json.dumps(clean, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
