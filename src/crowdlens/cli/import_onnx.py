"""``crowdlens import-onnx``: make a bundle from any ONNX image model plus its preprocessing."""

from __future__ import annotations

import argparse
from pathlib import Path

from crowdlens.cli.inspect import format_bundle
from crowdlens.errors import CrowdlensError


def register(sub: argparse._SubParsersAction) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser(
        "import-onnx",
        help="make a bundle from any ONNX image model plus its preprocessing",
        description="Turn an ONNX image model (from Caffe, TensorFlow, Keras, ... via a "
        "converter) into a bundle. Give its input size, normalisation and label names.",
        epilog="examples:\n  crowdlens import-onnx googlenet.onnx --out models/googlenet "
        "--labels imagenet --input-size 224 --mean 123.675,116.28,103.53 "
        "--std 58.395,57.12,57.375",
        formatter_class=fmt,
    )
    p.add_argument("onnx", metavar="MODEL.onnx")
    p.add_argument("--out", required=True, metavar="DIR", help="bundle folder to write")
    p.add_argument(
        "--labels",
        help="a text file with one label per line, or 'imagenet'; omit for an embedding model",
    )
    p.add_argument("--input-size", type=int, default=224)
    p.add_argument(
        "--resize", type=int, help="shorter side before the centre crop (default: size*8/7)"
    )
    p.add_argument("--mean", default="123.675,116.28,103.53", help="R,G,B in 0-255 units")
    p.add_argument("--std", default="58.395,57.12,57.375", help="R,G,B in 0-255 units")
    p.add_argument("--interpolation", default="bilinear")
    p.add_argument("--layout", default="NCHW", choices=["NCHW", "NHWC"])
    p.add_argument("--logits-output", help="name of the class-score output (default: first)")
    p.add_argument("--features-output", help="name of a pooled-features output, if any")
    p.add_argument(
        "--probabilities", action="store_true", help="the score output already holds probabilities"
    )
    p.set_defaults(func=run_import)


def _floats(text: str, what: str) -> tuple[float, float, float]:
    try:
        vals = tuple(float(v) for v in text.split(","))
    except ValueError:
        vals = ()
    if len(vals) != 3:
        raise CrowdlensError(f"{what} takes three numbers R,G,B (e.g. 127,127,127). Got {text!r}.")
    return vals  # type: ignore[return-value]


def read_labels(spec: str | None) -> list[str] | None:
    """``imagenet``, a text file with one label per line, or None."""
    if spec is None:
        return None
    if spec == "imagenet":
        from crowdlens.models.labels import imagenet_labels

        return list(imagenet_labels())
    p = Path(spec)
    if not p.is_file():
        raise CrowdlensError(
            f"--labels {spec!r} is neither 'imagenet' nor a file with one label per line."
        )
    return [line.strip() for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]


def run_import(args: argparse.Namespace) -> int:
    from crowdlens.models.onnx_import import import_onnx
    from crowdlens.models.preprocess import PreprocessSpec

    size = args.input_size
    spec = PreprocessSpec(
        input_size=size,
        resize=args.resize or round(size * 8 / 7),
        mean=_floats(args.mean, "--mean"),
        std=_floats(args.std, "--std"),
        interpolation=args.interpolation,
    )
    bundle = import_onnx(
        args.onnx,
        spec,
        args.out,
        read_labels(args.labels),
        logits_output=args.logits_output,
        features_output=args.features_output,
        scores="probabilities" if args.probabilities else "logits",
        layout=args.layout,
    )
    print(format_bundle(bundle))
    return 0
