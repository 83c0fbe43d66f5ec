"""``crowdlens audit``: find wrong labels in a labelled collection from its own labels."""

from __future__ import annotations

import argparse
import json

from crowdlens import schema as S
from crowdlens.cli.common import add_confine_args, add_spark_args, confine_config, spark_config
from crowdlens.io.fs import join
from crowdlens.io.results import RESULTS

DESCRIPTION = """\
Audit the labels of a collection that has no clean training set.

K-fold cross-validation on INPUT's own (possibly noisy) labels: features of a
frozen pretrained backbone are computed once on Spark, K linear probes are
trained (one Spark task per fold), and every photo is judged by the probe that
never saw it. Each photo's text is read too (the text stage's gate and OCR)
and a text model of the items, fitted per fold like the probes, is added to
the probes' logits when it predicts the claims better out of fold (audit.json
says so under text_evidence; --no-text-evidence skips it). A probe on other
backbones' features (EfficientNet-Lite0 and MobileNetV2) joins them, as in
'crowdlens train', at the weight that agrees best with the claims out of fold
(audit.json: companions; --no-companions skips it).

OUT/results.parquet has one row per input photo with the same verdict
columns as 'moderate' (pred_label, label_prob, label_rank, label_verdict,
label_preferred, label_relation) plus label_issue_score (higher = likelier
wrong; sort by it) and audit_fold. Photos that cannot be read are rows with
status = 'error'.

The verdict thresholds are never fitted on INPUT: they come from the flags,
else from a trained bundle (--thresholds-from), else the defaults fitted by
cross-validation on the grocery training split (docs/training.md).
"""

FOLD_GROUPING_HELP = (
    "how photos are dealt to folds. 'random' (default): one by one; the better "
    "choice on the grocery train split for single wrong labels and for runs of "
    "them. 'near-duplicate': groups of near-copies with the same claimed item are "
    "held out together (recorded in audit.json), so a burst of alike photos filed "
    "under a wrong item cannot vouch for itself: it finds more of those (recall "
    "0.67 vs 0.53) but flags far more correct photos (precision 0.56 vs 0.76); a "
    "second pass when whole bursts may be mislabelled. docs/benchmarks.md, issue 12"
)

EPILOG = """\
examples:
  crowdlens audit photos/ --out out/audit
  crowdlens audit manifest.csv --out out/audit --folds 10 --parent-label-column group
  crowdlens audit photos/ --out out/audit --thresholds-from models/grocery
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "audit",
        help="find wrong labels in a labelled collection (K-fold, out-of-fold verdicts)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", metavar="INPUT", help="a labelled folder, or a .csv/.parquet manifest")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--overwrite", action="store_true", help="replace existing results in DIR")
    p.add_argument("--folds", type=int, default=5, help="K, the number of folds (default 5)")
    p.add_argument(
        "--backbone",
        action="append",
        help="feature backbone, repeatable to concatenate (default efficientnet_lite2)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the fold assignment")
    p.add_argument(
        "--fold-grouping",
        choices=S.FOLD_GROUPINGS,
        default=S.FOLDS_RANDOM,
        help=FOLD_GROUPING_HELP,
    )
    p.add_argument("--label-column", default="label", help="manifest column with the label")
    p.add_argument("--parent-label-column", help="manifest column with the parent label")
    p.add_argument("--features-cache", metavar="DIR", help="Parquet cache of features")
    p.add_argument("--thresholds-from", metavar="BUNDLE", help="use this bundle's thresholds")
    p.add_argument(
        "--no-text-evidence",
        dest="text_evidence",
        action="store_false",
        help="judge by the image probes alone (no OCR of the photos; faster)",
    )
    p.add_argument(
        "--no-companions",
        dest="companions",
        action="store_const",
        const=(),
        default=None,
        help="no companion backbones' probe beside the main probes",
    )
    p.add_argument("--confirm-margin", type=float, help="override the confirm margin")
    p.add_argument("--mismatch-prob", type=float, help="override the mismatch probability")
    add_confine_args(p.add_argument_group("input confinement (as for moderate)"))
    add_spark_args(p)
    p.set_defaults(func=run_audit)


def run_audit(args: argparse.Namespace) -> int:
    from crowdlens.audit import DEFAULT_BACKBONES, AuditConfig, audit
    from crowdlens.config import IngestConfig, SparkConfig
    from crowdlens.stages.validate import ValidateConfig
    from crowdlens.training.config import COMPANIONS

    cfg = AuditConfig(
        folds=args.folds,
        backbones=tuple(args.backbone or DEFAULT_BACKBONES),
        seed=args.seed,
        fold_grouping=args.fold_grouping,
        features_cache=args.features_cache,
        thresholds_from=args.thresholds_from,
        label_column=args.label_column,
        parent_label_column=args.parent_label_column,
        text_evidence=args.text_evidence,
        companions=COMPANIONS if args.companions is None else args.companions,
        validate=ValidateConfig(
            confirm_margin=args.confirm_margin, mismatch_prob=args.mismatch_prob
        ),
    )
    summary = audit(
        args.input,
        args.out,
        cfg,
        spark_cfg=spark_config(args, SparkConfig()),
        overwrite=args.overwrite,
        ingest=confine_config(args, IngestConfig()),
    )
    summary.pop("config", None)
    print(json.dumps(summary | {"results": join(str(args.out), RESULTS)}, indent=2))
    return 0
