"""``crowdlens classify``: the top-k predictions of a model for single photos (no Spark)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from crowdlens import schema as S
from crowdlens.errors import CrowdlensError

DEFAULT_MODEL = "efficientnet_lite0"


def register(sub: argparse._SubParsersAction) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser(
        "classify",
        help="print the top-k predictions of a model for single photos",
        description="Classify photos in this process (no Spark) and print the top-k labels.",
        epilog="examples:\n  crowdlens classify orange.jpg\n  crowdlens classify a.jpg b.jpg "
        "--model models/grocery --topk 3",
        formatter_class=fmt,
    )
    p.add_argument("photos", metavar="PHOTO", nargs="+", help="photo files")
    p.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"bundle folder or model name (default {DEFAULT_MODEL})",
    )
    p.add_argument("--topk", type=int, default=5, help="how many labels to print (default 5)")
    p.add_argument("--json", action="store_true", help="one JSON object per photo")
    p.set_defaults(func=run_classify)


def run_classify(args: argparse.Namespace) -> int:
    from crowdlens.models.hub import resolve_bundle
    from crowdlens.models.predict import InferenceConfig, predict_contents

    if args.topk < 1:
        raise CrowdlensError(f"--topk must be an int >= 1. Got {args.topk}.")
    bundle = resolve_bundle(args.model)
    contents: list[bytes | None] = []
    for photo in args.photos:
        try:
            contents.append(Path(photo).read_bytes())
        except OSError as exc:
            contents.append(None)
            print(f"{photo}: cannot read ({exc.strerror})")
    preds = predict_contents(contents, bundle, InferenceConfig(topk=args.topk))
    failed = 0
    for photo, data, pred in zip(args.photos, contents, preds, strict=True):
        if data is None or pred is None:
            failed += 1
            continue
        if pred.error:
            failed += 1
            if args.json:
                print(json.dumps({"photo": photo, "error": pred.error}))
            else:
                print(f"{photo}: {pred.error}")
            continue
        if args.json:
            print(json.dumps({"photo": photo, "topk": pred.topk}))
            continue
        print(photo)
        for rank, item in enumerate(pred.topk or [], 1):
            print(f"  {rank}. {item[S.TOPK_LABEL]:<40} {item[S.TOPK_SCORE]:.3f}")
    return 1 if failed else 0
