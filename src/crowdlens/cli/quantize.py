"""``crowdlens quantize``: write an int8 copy of a bundle with ONNX Runtime."""

from __future__ import annotations

import argparse

from crowdlens.cli.inspect import format_bundle


def register(sub: argparse._SubParsersAction) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser(
        "quantize",
        help="int8-quantize a bundle with ONNX Runtime (static, calibrated on photos)",
        description="Write an int8 copy of a bundle. With --calibration (a folder of "
        "photos) activations are quantized statically (fast on CPU); without, weights only.",
        epilog="examples:\n  crowdlens quantize models/lite0 --out models/lite0-int8 "
        "--calibration data/val",
        formatter_class=fmt,
    )
    p.add_argument("bundle", metavar="BUNDLE")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--calibration", metavar="FOLDER", help="photos for static calibration")
    p.add_argument("--calibration-size", type=int, default=64, help="photos used (default 64)")
    p.set_defaults(func=run_quantize)


def run_quantize(args: argparse.Namespace) -> int:
    from crowdlens.models.quantize import calibration_photos, quantize_bundle

    photos = (
        calibration_photos(args.calibration, args.calibration_size) if args.calibration else None
    )
    bundle = quantize_bundle(args.bundle, args.out, calibration=photos)
    print(format_bundle(bundle))
    return 0
