"""``crowdlens export-model``: export a pretrained registry model to a bundle."""

from __future__ import annotations

import argparse

from crowdlens.cli.inspect import format_bundle


def register(sub: argparse._SubParsersAction) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser(
        "export-model",
        help="export a pretrained registry model to a bundle",
        description="Export a registry model with its ImageNet head (or as a feature "
        "extractor with --embed) to a bundle folder, checking ONNX Runtime parity.",
        epilog="examples:\n  crowdlens export-model efficientnet_lite0 --out models/lite0",
        formatter_class=fmt,
    )
    p.add_argument("name", help="registry model name")
    p.add_argument("--out", required=True, metavar="DIR", help="bundle folder to write")
    p.add_argument("--embed", action="store_true", help="features only, no classifier")
    p.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    from crowdlens.models.export import export_bundle
    from crowdlens.models.registry import create_model

    model = create_model(args.name, pretrained=True, num_classes=0 if args.embed else None)
    cfg = model.pretrained_cfg
    bundle = export_bundle(model, cfg, args.out, labels=None if args.embed else cfg.labels)
    print(format_bundle(bundle))
    return 0
