"""``crowdlens inspect``: print what a model bundle holds.

The model commands (``inspect``, ``classify``, ``export-model``, ``import-onnx``,
``quantize``) all run in one process (no Spark): they are for looking at a
bundle, trying it on a few photos, and making bundles. A model argument takes
a bundle folder or a registry name (``efficientnet_lite0``: the ImageNet head,
exported once to ``~/.cache/crowdlens/bundles``).
"""

from __future__ import annotations

import argparse
import json


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
