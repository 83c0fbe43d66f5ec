"""``crowdlens evaluate``: accuracy of a bundle on labelled photos, printed as JSON."""

from __future__ import annotations

import argparse
import json
import sys

from crowdlens.cli.common import add_confine_args, confine_config


def register(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser(
        "evaluate",
        help="accuracy of a bundle on labelled photos, as JSON",
        description=(
            "Print JSON: n, top1, top5, per-class accuracy, the confusion matrix, and "
            "parent-level accuracy when parent labels are known (manifest column, "
            "classes.csv, folder layout, or the map stored in the bundle). A bundle "
            "with text evidence is judged by image and text, as moderate judges "
            "(each photo's text is read; the image model's own figures under 'image')."
        ),
    )
    e.add_argument("--model", required=True, metavar="BUNDLE", help="a bundle from 'train'")
    e.add_argument("--data", required=True, metavar="INPUT", help="labelled folder or manifest")
    e.add_argument("--label-column", help="manifest column with the label (default label)")
    e.add_argument("--parent-label-column", help="manifest column with the parent label")
    e.add_argument("--compact", action="store_true", help="one-line JSON")
    e.add_argument(
        "--no-text-evidence",
        dest="text_evidence",
        action="store_false",
        help="judge by the image model alone (no OCR), even if the bundle has text evidence",
    )
    add_confine_args(e.add_argument_group("input confinement (as for moderate)"))
    e.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    e.set_defaults(func=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    from crowdlens.config import IngestConfig
    from crowdlens.training.evaluate import evaluate_bundle

    report = evaluate_bundle(
        args.model,
        args.data,
        label_column=args.label_column or "label",
        parent_label_column=args.parent_label_column,
        ingest=confine_config(args, IngestConfig()),
        text_evidence=args.text_evidence,
    )
    json.dump(report, sys.stdout, indent=None if args.compact else 2)
    print()
    return 0
