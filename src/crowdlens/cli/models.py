"""Model commands: ``inspect``, ``classify``, ``export-model``, ``import-onnx``, ``quantize``.

All run in one process (no Spark): they are for looking at a bundle, trying
it on a few photos, and making bundles. ``--model`` takes a bundle folder or
a registry name (``efficientnet_lite0``: the ImageNet head, exported once to
``~/.cache/crowdlens/bundles``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from crowdlens.errors import CrowdlensError

DEFAULT_MODEL = "efficientnet_lite0"


def register(sub: argparse._SubParsersAction) -> None:
    fmt = argparse.RawDescriptionHelpFormatter

    p = sub.add_parser(
        "inspect",
        help="print what a model bundle holds (task, preprocessing, labels, metrics)",
        description="Print a model bundle: architecture, outputs, preprocessing, labels, "
        "metrics, parity check and library versions.",
        epilog="examples:\n  crowdlens inspect models/grocery\n  crowdlens inspect "
        "efficientnet_lite0 --json",
        formatter_class=fmt,
    )
    p.add_argument("bundle", metavar="BUNDLE", help="bundle folder or registry model name")
    p.add_argument("--json", action="store_true", help="print bundle.json as JSON")
    p.add_argument("--labels", action="store_true", help="print every label name")
    p.set_defaults(func=run_inspect)

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


def _floats(text: str, what: str) -> tuple[float, float, float]:
    try:
        vals = tuple(float(v) for v in text.split(","))
    except ValueError:
        vals = ()
    if len(vals) != 3:
        raise CrowdlensError(f"{what} takes three numbers R,G,B (e.g. 127,127,127). Got {text!r}.")
    return vals  # type: ignore[return-value]


def format_bundle(bundle: object, show_labels: bool = False) -> str:
    """A human-readable summary of a bundle (what ``crowdlens inspect`` prints)."""
    from crowdlens.models.bundle import Bundle

    assert isinstance(bundle, Bundle)
    b = bundle
    p = b.preprocess
    size_mb = b.onnx_path.stat().st_size / 1e6
    lines = [
        f"bundle        {b.path}",
        f"model         {b.onnx_path.name} ({size_mb:.1f} MB), architecture {b.architecture}, "
        f"source {b.source}",
        f"task          {b.task}",
        f"input         {b.input_name} {b.layout} float32 [N, 3, {p.input_size}, {p.input_size}]",
        f"outputs       features={b.features_output} (dim {b.feature_dim}), "
        f"logits={b.logits_output} ({b.scores})",
        f"preprocess    resize shorter side to {p.resize} ({p.interpolation}), centre crop "
        f"{p.input_size}, (x - mean) / std with mean={list(p.mean)} std={list(p.std)}",
        f"labels        {b.num_labels}"
        + (f": {', '.join(b.labels[:5])}{', ...' if b.num_labels > 5 else ''}" if b.labels else ""),
        f"temperature   {b.temperature if b.temperature is not None else 'none (uncalibrated)'}",
        "parity        "
        + (
            f"max abs diff torch vs ONNX Runtime {b.parity_max_abs_diff:.2g}"
            if b.parity_max_abs_diff is not None
            else "not checked ("
            + (
                "int8 differs by design; see benchmarks/inference.py"
                if b.source == "quantize"
                else "imported model"
            )
            + ")"
        ),
        f"created       {b.created}",
        f"versions      {', '.join(f'{k} {v}' for k, v in b.versions.items())}",
    ]
    if b.metrics:
        lines.append("metrics")
        lines += [f"  {k:<20} {v}" for k, v in b.metrics.items()]
    if b.extra:
        lines.append("extra")
        lines += [f"  {k:<20} {v}" for k, v in b.extra.items()]
    if show_labels:
        lines.append("label names")
        lines += [f"  {i:>5}  {name}" for i, name in enumerate(b.labels)]
    return "\n".join(lines)


def run_inspect(args: argparse.Namespace) -> int:
    from crowdlens.models.hub import resolve_bundle

    bundle = resolve_bundle(args.bundle)
    if args.json:
        print(json.dumps(bundle.to_json(), indent=2))
    else:
        print(format_bundle(bundle, args.labels))
    return 0


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
            print(f"  {rank}. {item['label']:<40} {item['score']:.3f}")
    return 1 if failed else 0


def run_export(args: argparse.Namespace) -> int:
    from crowdlens.models.export import export_bundle
    from crowdlens.models.registry import create_model

    model = create_model(args.name, pretrained=True, num_classes=0 if args.embed else None)
    cfg = model.pretrained_cfg
    bundle = export_bundle(model, cfg, args.out, labels=None if args.embed else cfg.labels)
    print(format_bundle(bundle))
    return 0


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


def run_quantize(args: argparse.Namespace) -> int:
    from crowdlens.models.quantize import calibration_photos, quantize_bundle

    photos = (
        calibration_photos(args.calibration, args.calibration_size) if args.calibration else None
    )
    bundle = quantize_bundle(args.bundle, args.out, calibration=photos)
    print(format_bundle(bundle))
    return 0
