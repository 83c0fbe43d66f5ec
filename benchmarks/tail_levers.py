"""Levers of ``tail`` mode, measured on the val split from one activation cache.

The trunk of EfficientNet-Lite2 (stem + the first K blocks) runs once per
photo and view through ONNX Runtime in this process; then each lever is one
training of the tail (blocks K.. + head convolution + classifier, BatchNorm
frozen, started from a ridge fit, SGD + cosine as ``crowdlens train``) on
the cached activations, with val top-1 after every epoch.

    python benchmarks/tail_levers.py cache --k 20                   # photo + mirror, train and val
    python benchmarks/tail_levers.py cache --k 20 --aug 4           # 4 augmented train views
    python benchmarks/tail_levers.py cache --k 20 --size 330 --resize 370 --splits val
    python benchmarks/tail_levers.py train --k 20 --aug 4 --epochs 2 --eval-sizes 330/370
    python benchmarks/tail_levers.py train --k 20 --epochs 5 --mixup 0.2 --smooth 0.1

Accuracy does not depend on the load; the seconds do (the script prints the load).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import tempfile
import time
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "grocery-store"
WORK = REPO / "benchmarks" / "_work" / "tail_levers"
BACKBONE = "efficientnet_lite2"


def listing(data: Path, split: str) -> list[tuple[str, int, int]]:
    """(path, fine label id, coarse label id) from the grocery split's ``<split>.txt``."""
    rows = []
    for line in (data / f"{split}.txt").read_text().splitlines():
        if line.strip():
            rel, fine, coarse = (s.strip() for s in line.split(","))
            rows.append((str(data / rel.lstrip("/")), int(fine), int(coarse)))
    return rows


def tag(size: int, resize: int, k: int, backbone: str = BACKBONE) -> str:
    prefix = "" if backbone == BACKBONE else backbone.removeprefix("efficientnet_") + "_"
    return f"{prefix}s{size}_r{resize}_k{k}"


def trunk_session(size: int, k: int, threads: int, backbone: str = BACKBONE):
    """The pretrained backbone and an ONNX Runtime session of its trunk at ``size`` (4-D output)."""
    from crowdlens.models.registry import create_model
    from crowdlens.models.runtime import new_session
    from crowdlens.training.tail import export_trunk

    base = create_model(backbone, pretrained=True, num_classes=0).eval()
    path = Path(tempfile.mkdtemp(prefix="tail-levers-")) / "trunk.onnx"
    export_trunk(base, k, size, str(path), flat=False)
    return base, new_session(str(path), threads=threads)


def cache(a: argparse.Namespace) -> None:
    from crowdlens.models.preprocess import Augment, load_image, preprocess
    from crowdlens.training.head import VIEW_AUGMENT_SCALE

    base, sess = trunk_session(a.size, a.k, a.threads, a.backbone)
    spec = replace(base.pretrained_cfg.preprocess, input_size=a.size, resize=a.resize)
    a.work.mkdir(parents=True, exist_ok=True)
    t = tag(a.size, a.resize, a.k, a.backbone)

    def run(rows, views):  # views: functions image -> CHW float32
        out: list[list[np.ndarray]] = [[] for _ in views]
        for s in range(0, len(rows), 16):
            images = [load_image(Path(p).read_bytes(), spec) for p, _, _ in rows[s : s + 16]]
            for v, view in enumerate(views):
                x = np.stack([view(img) for img in images])
                out[v].append(sess.run(None, {"x": x})[0].astype(np.float16))
        return [np.concatenate(o) for o in out]

    t0 = time.time()
    if a.aug:
        aug_spec = replace(spec, augment=Augment(scale=VIEW_AUGMENT_SCALE))
        rows = listing(a.data, "train")
        for v in range(a.aug_start, a.aug_start + a.aug):
            rng = np.random.default_rng(1000 + v)
            view = partial(preprocess, cfg=aug_spec, train=True, rng=rng)
            (acts,) = run(rows, [view])
            np.save(a.work / f"train_{t}_aug{v}.npy", acts)
            print(f"augmented view {v}: {time.time() - t0:.0f} s", flush=True)
        return
    for split in a.splits.split(","):
        rows = listing(a.data, split)
        plain = lambda img: preprocess(img, spec)  # noqa: E731
        mirror = lambda img: np.ascontiguousarray(preprocess(img, spec)[:, :, ::-1])  # noqa: E731
        for v, acts in enumerate(run(rows, [plain, mirror])):
            np.save(a.work / f"{split}_{t}_v{v}.npy", acts)
        np.save(a.work / f"{split}_y.npy", np.array([r[1] for r in rows]))
        np.save(a.work / f"{split}_coarse.npy", np.array([r[2] for r in rows]))
        print(f"{split}: {len(rows)} photos x 2 views, {time.time() - t0:.0f} s", flush=True)


def _views(work: Path, split: str, t: str) -> list[np.ndarray]:
    return [np.load(work / f"{split}_{t}_v{i}.npy") for i in (0, 1)]


def train(a: argparse.Namespace) -> None:
    import torch
    from torch import nn

    from crowdlens.models.registry import create_model
    from crowdlens.training.tail import make_tail, pooled_features, set_linear
    from crowdlens.training.tail_mode import raw_ridge

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    base = create_model(a.backbone, pretrained=True, num_classes=0).eval()
    t = tag(260, 292, a.k, a.backbone)
    xs = _views(a.work, "train", t)[: a.plain]
    xs += [np.load(a.work / f"train_{t}_aug{i}.npy") for i in range(a.aug)]
    y, vy = np.load(a.work / "train_y.npy"), np.load(a.work / "val_y.npy")
    shape = tuple(int(s) for s in xs[0].shape[1:])
    xs = [v.reshape(len(v), -1) for v in xs]
    vx = [v.reshape(len(v), -1) for v in _views(a.work, "val", t)]
    t0 = time.time()
    n_classes = int(y.max()) + 1
    tail = make_tail(copy.deepcopy(base), a.k, shape, n_classes, shift=a.shift, dropout=0.0)
    feats = np.concatenate([pooled_features(tail, v.astype(np.float32)) for v in xs[:2]])
    set_linear(tail.fc, *raw_ridge(feats, np.tile(y, min(2, len(xs))), n_classes, a.l2))

    def logits(views: list[np.ndarray], view_shape: tuple[int, ...]) -> np.ndarray:
        tail.eval()
        tail.shape = view_shape
        f = np.mean([pooled_features(tail, v.astype(np.float32)) for v in views], axis=0)
        tail.shape = shape
        with torch.no_grad():
            return tail.fc(torch.from_numpy(f.astype(np.float32))).numpy()

    def top1(views: list[np.ndarray], view_shape: tuple[int, ...] = shape) -> float:
        return float((logits(views, view_shape).argmax(1) == vy).mean())

    x, yy = np.concatenate(xs), np.tile(y, len(xs))
    head = list(tail.fc.parameters())
    body = [p for n, p in tail.named_parameters() if not n.startswith("fc.")]
    lrs = [a.lr, a.lr * a.body]
    opt = torch.optim.SGD(
        [{"params": head, "lr": lrs[0]}, {"params": body, "lr": lrs[1]}],
        momentum=0.9, nesterov=True, weight_decay=a.wd,
    )  # fmt: skip
    crit = nn.CrossEntropyLoss(label_smoothing=a.smooth)
    rng = np.random.default_rng(a.seed)
    steps, step = a.epochs * math.ceil(len(x) / a.bs), 0
    history = [{"epoch": 0, "val_top1": top1(vx[:1])}]
    for epoch in range(1, a.epochs + 1):
        tail.train()
        total = 0.0
        for idx in np.array_split(rng.permutation(len(x)), math.ceil(len(x) / a.bs)):
            xb = torch.from_numpy(x[idx].astype(np.float32))
            yb = torch.from_numpy(yy[idx])
            lam, other = 1.0, None
            if a.mixup:
                lam = float(rng.beta(a.mixup, a.mixup))
                other = torch.from_numpy(rng.permutation(len(idx)))
                xb = lam * xb + (1 - lam) * xb[other]
            out = tail(xb)
            loss = lam * crit(out, yb)
            if other is not None:
                loss = loss + (1 - lam) * crit(out, yb[other])
            for group, lr in zip(opt.param_groups, lrs):
                group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            total += float(loss.detach()) * len(idx)
        history.append(
            {"epoch": epoch, "loss": round(total / len(x), 4), "val_top1": top1(vx[:1]),
             "val_top1_flip_tta": top1(vx), "seconds": round(time.time() - t0)}
        )  # fmt: skip
        print(json.dumps(history[-1]), flush=True)
    result = {"args": {k: str(v) for k, v in vars(a).items()}, "history": history}
    if a.save_logits:
        np.save(a.save_logits, logits(vx[:1], shape))
    for sr in [s for s in a.eval_sizes.split(",") if s]:
        size, resize = (int(v) for v in sr.split("/"))
        views = _views(a.work, "val", tag(size, resize, a.k, a.backbone))
        flat = [v.reshape(len(v), -1) for v in views]
        result[f"val_top1_at_{size}"] = top1(flat[:1], tuple(views[0].shape[1:]))
    result["load_average"] = os.getloadavg()
    print(json.dumps(result), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    c = sub.add_parser("cache", help="trunk activations of train/val photos (ONNX Runtime)")
    c.add_argument("--size", type=int, default=260, help="input crop (Lite2: 260)")
    c.add_argument("--resize", type=int, default=292, help="shorter side before the crop")
    c.add_argument("--aug", type=int, default=0, help="N augmented views of the train photos")
    c.add_argument("--aug-start", type=int, default=0, help="first augmented view number")
    c.add_argument("--splits", default="val,train")
    t = sub.add_parser("train", help="one tail training on the cache; val top-1 per epoch")
    t.add_argument("--epochs", type=int, default=2)
    t.add_argument("--aug", type=int, default=0, help="augmented views beside photo + mirror")
    t.add_argument("--plain", type=int, default=2, help="1: the photo only, 2: + its mirror")
    t.add_argument("--lr", type=float, default=0.01)
    t.add_argument("--body", type=float, default=0.1, help="the blocks' rate = lr x this")
    t.add_argument("--smooth", type=float, default=0.0, help="label smoothing")
    t.add_argument("--mixup", type=float, default=0.0, help="mixup alpha on activations")
    t.add_argument("--shift", type=int, default=1, help="random shift of the map, in cells")
    t.add_argument("--wd", type=float, default=1e-4)
    t.add_argument("--bs", type=int, default=64)
    t.add_argument("--l2", type=float, default=0.03, help="ridge penalty of the start")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--eval-sizes", default="", help="e.g. 300/336,330/370: also test there")
    t.add_argument(
        "--save-logits", type=Path, help="write the val logits (photo alone) here (.npy)"
    )
    for p in (c, t):
        p.add_argument("--k", type=int, default=20, help="frozen blocks (the tail starts here)")
        p.add_argument("--threads", type=int, default=2)
        p.add_argument("--backbone", default=BACKBONE, help="efficientnet_lite0/1/2")
        p.add_argument("--data", type=Path, default=DATA)
        p.add_argument("--work", type=Path, default=WORK)
    a = ap.parse_args()
    cache(a) if a.what == "cache" else train(a)


if __name__ == "__main__":
    main()
