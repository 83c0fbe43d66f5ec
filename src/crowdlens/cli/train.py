"""``crowdlens train`` and ``crowdlens evaluate``."""

from __future__ import annotations

import argparse
import json
import sys

from crowdlens.cli.common import add_confine_args, add_spark_args, confine_config, spark_config
from crowdlens.params import choices
from crowdlens.training.config import TrainConfig

TRAIN_DESCRIPTION = """\
Train a classifier for the labelled photos and write a model bundle (ONNX +
labels + preprocessing + validation metrics) that 'crowdlens moderate --model'
and 'crowdlens evaluate' read.

INPUT (for --train and --val) is a folder (label = parent folder name) or a
.csv/.parquet manifest with 'path' and label columns, exactly as for moderate,
and confined as for moderate: every photo path must lie inside the input's
own folder tree unless --allowed-root ([ingest] allowed_roots) or
--no-confine says otherwise.

modes:
  tail      (default) the best model measured on this machine in reasonable
            time: the last block of EfficientNet-Lite2 (+ its head
            convolution and the classifier) fine-tuned with BatchNorm frozen
            on activations of the frozen trunk, computed once on Spark
            (cached) for 10 views of each photo: the photo, its mirror image
            and 8 augmented views (tail_aug_views); the softmax temperature and the
            label-verdict thresholds are fitted by cross-validation of the
            same recipe on the training photos (docs/training.md); then
            companion backbones: a ridge probe on EfficientNet-Lite0 and
            MobileNetV2 features of the same crop joins the tail at the
            weight that predicts best out of fold (none when it does not
            help; --no-companions skips it); then
            the text evidence: the training photos' text is read (OCR, as
            moderate's text stage reads it) and a text model of the items
            is added to the image model's logits at the weight that
            predicts best out of fold (none when the text does not help;
            --no-text-evidence skips it)
  probe     Lite2 features of each photo and its mirror image, a ridge probe
            on sqrt-normalised features (minutes once features are cached);
            temperature and thresholds by K-fold cross-validation
  head      features of the frozen pretrained backbone are computed once on
            Spark (cached as Parquet), a softmax head is trained on them (fast)
  finetune  the whole network is trained (data-parallel DDP through Spark's
            TorchDistributor with --num-processes), with augmentation
  scratch   random initialisation (Inception-v1 unless --backbone is given)

Photos that fail to decode are skipped and counted; classes with fewer than
--min-per-class photos are dropped with a warning naming them.
"""

TRAIN_EPILOG = """\
examples:
  crowdlens train --train data/train --val data/val --out models/grocery
  crowdlens train --train data/train --val data/val --out models/ft --mode finetune \\
      --epochs 5 --num-processes 2 --checkpoint-dir ckpt --tensorboard-dir runs/ft
  crowdlens train ... --mode finetune --init-head models/grocery   # linear probe, then fine-tune
  crowdlens train ... --checkpoint-dir ckpt --resume        # continue a stopped run
  crowdlens evaluate --model models/grocery --data data/val
"""


def _add_train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--train", required=True, metavar="INPUT", help="training photos")
    p.add_argument("--val", metavar="INPUT", help="validation photos (metrics, temperature)")
    p.add_argument("--out", required=True, metavar="BUNDLE", help="bundle folder to write")
    p.add_argument(
        "--config",
        metavar="FILE",
        help="TOML file with [train], [ingest], [spark] and [text] sections ([text]: how the "
        "text evidence reads the photos; give moderate the same)",
    )
    g = p.add_argument_group("model and optimisation")
    g.add_argument("--mode", choices=choices(TrainConfig, "mode"))
    g.add_argument(
        "--backbone",
        help="registry model name (an unknown name lists the valid ones); default "
        "efficientnet_lite2 for tail/probe, "
        "efficientnet_lite0 for head/finetune",
    )
    g.add_argument("--epochs", type=int)
    g.add_argument("--batch-size", type=int, help="global batch size (split over processes)")
    g.add_argument("--lr", type=float, help="base learning rate (default depends on --mode)")
    g.add_argument("--optimizer", choices=choices(TrainConfig, "optimizer"))
    g.add_argument("--schedule", choices=choices(TrainConfig, "schedule"))
    g.add_argument("--warmup-epochs", type=float)
    g.add_argument("--head-hidden", type=int, help="0 = linear softmax head, N = MLP with N units")
    g.add_argument("--l2", type=float, help="probe: ridge penalty (default 0.03)")
    g.add_argument("--cv-folds", type=int, help="probe: folds for temperature/thresholds (5)")
    g.add_argument("--input-size", type=int, help="smaller input for quick finetune/scratch runs")
    g.add_argument("--seed", type=int)
    g.add_argument(
        "--freeze-bn",
        action="store_true",
        default=None,
        help="finetune: keep BatchNorm statistics and weights as pretrained",
    )
    g.add_argument(
        "--no-text-evidence",
        dest="text_evidence",
        action="store_false",
        default=None,
        help="tail: judge labels by the image alone (no OCR of the training photos; faster)",
    )
    g.add_argument(
        "--no-companions",
        dest="companions",
        action="store_const",
        const=(),
        default=None,
        help="tail: no companion backbones (the tuned Lite2 alone; [train] companions = [])",
    )
    g.add_argument(
        "--init-head",
        metavar="BUNDLE",
        help="finetune: start the classifier from this head-mode bundle (labels matched by name)",
    )
    d = p.add_argument_group("data")
    d.add_argument("--label-column", help="manifest column with the label (default label)")
    d.add_argument("--parent-label-column", help="manifest column with the parent label")
    d.add_argument("--min-per-class", type=int, help="drop classes with fewer photos (default 2)")
    d.add_argument("--max-per-class", type=int, help="use at most N photos per class")
    d.add_argument("--classes", help="comma-separated labels to train on (default all)")
    add_confine_args(d)
    r = p.add_argument_group("distribution, checkpoints, logs")
    r.add_argument("--num-processes", type=int, help="DDP processes for finetune/scratch")
    r.add_argument(
        "--no-local-mode",
        dest="local_mode",
        action="store_false",
        default=None,
        help="run the processes in Spark barrier tasks on the executors (cluster)",
    )
    r.add_argument("--checkpoint-dir", metavar="DIR", help="write a checkpoint every epoch")
    r.add_argument(
        "--resume", action="store_true", default=None, help="resume from --checkpoint-dir"
    )
    r.add_argument("--tensorboard-dir", metavar="DIR", help="write TensorBoard event files")
    r.add_argument(
        "--features-cache", metavar="DIR", help="tail/probe/head mode: Parquet feature cache"
    )
    add_spark_args(p)


def run_train(args: argparse.Namespace) -> int:
    from crowdlens.config import IngestConfig, SparkConfig, load_section, replace
    from crowdlens.text.config import TextConfig
    from crowdlens.training.api import train

    cfg = load_section(TrainConfig, args.config, "train")
    base_spark = load_section(SparkConfig, args.config, "spark")
    cfg = replace(
        cfg,
        mode=args.mode,
        backbone=args.backbone,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        optimizer=args.optimizer,
        schedule=args.schedule,
        warmup_epochs=args.warmup_epochs,
        head_hidden=args.head_hidden,
        input_size=args.input_size,
        seed=args.seed,
        init_head=args.init_head,
        freeze_bn=args.freeze_bn,
        label_column=args.label_column,
        parent_label_column=args.parent_label_column,
        min_per_class=args.min_per_class,
        max_per_class=args.max_per_class,
        classes=tuple(c.strip() for c in args.classes.split(",")) if args.classes else None,
        num_processes=args.num_processes,
        local_mode=args.local_mode,
        checkpoint_dir=args.checkpoint_dir,
        resume=args.resume,
        tensorboard_dir=args.tensorboard_dir,
        features_cache=args.features_cache,
        l2=args.l2,
        cv_folds=args.cv_folds,
        text_evidence=args.text_evidence,
        companions=args.companions,
    )
    ingest = confine_config(args, load_section(IngestConfig, args.config, "ingest"))
    spark_cfg = spark_config(args, base_spark)
    text = load_section(TextConfig, args.config, "text")  # how the text evidence reads photos
    report = train(
        args.train, args.val, args.out, cfg, spark_cfg=spark_cfg, ingest=ingest, text=text
    )
    summary = {k: v for k, v in report.items() if k != "history"}
    if "chosen" in report:
        print(f"crowdlens train chose: {json.dumps(report['chosen'])}", file=sys.stderr)
    print(json.dumps(summary | {"bundle": str(args.out)}, indent=2, default=str))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a classifier on labelled photos and write a model bundle",
        description=TRAIN_DESCRIPTION,
        epilog=TRAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_train_args(p)
    p.set_defaults(func=run_train)
