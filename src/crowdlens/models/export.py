"""Export a torch model to a bundle, with an ONNX Runtime parity check.

The exported graph has two named outputs, ``features`` and ``logits`` (or only
``features`` for an embedding model), so one ONNX Runtime pass yields both.
See :mod:`crowdlens.models.bundle` for the format.

Example::

    model = create_model("efficientnet_lite0")
    bundle = export_bundle(model, model.pretrained_cfg, "models/lite0",
                           labels=model.pretrained_cfg.labels)
    bundle.parity_max_abs_diff   # e.g. 3e-6
"""

from __future__ import annotations

import dataclasses
import logging
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from crowdlens.models.bundle import (
    FEATURES,
    INPUT_NAME,
    LOGITS,
    Bundle,
    BundleError,
    new_bundle,
    write_bundle_dir,
)
from crowdlens.models.preprocess import HasPreprocess, PreprocessSpec, as_spec

if TYPE_CHECKING:  # pragma: no cover
    import torch

log = logging.getLogger(__name__)

OPSET = 17
PARITY_TOLERANCE = 1e-3


def _architecture(model: Any, cfg: Any) -> str:
    return str(
        getattr(cfg, "name", None) or getattr(model, "model_name", None) or type(model).__name__
    )


class _ExportWrapper:
    """Builds the torch module that is exported: x -> (features, logits)."""

    @staticmethod
    def make(model: Any, with_logits: bool) -> Any:
        from torch import nn

        class Wrapped(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, x: Any) -> Any:
                feats = self.model.forward_features(x)
                if not with_logits:
                    return feats
                # Same as model.forward in eval mode (dropout is the identity).
                return feats, self.model.get_classifier()(feats)

        return Wrapped().eval()


def export_bundle(
    model: torch.nn.Module,
    cfg: PreprocessSpec | HasPreprocess,
    out_dir: str | Path,
    labels: Sequence[str] | None,
    metrics: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    *,
    temperature: float | None = None,
    parity_tolerance: float = PARITY_TOLERANCE,
    also_write: Callable[[Path], None] | None = None,
) -> Bundle:
    """Export a registry model (or any module with ``forward_features`` and
    ``get_classifier``) to a bundle at ``out_dir``, checking ONNX Runtime parity.

    ``labels=None`` or a model whose classifier is the identity produces an
    ``embed`` bundle with only the ``features`` output. The ONNX export uses
    the TorchScript exporter (``dynamo=False``, opset 17) with a dynamic batch
    axis. The max-abs difference between torch and ONNX Runtime on a seeded
    random batch is stored in ``bundle.json``; above ``parity_tolerance`` the
    export fails (a broken graph must not be shipped). ``also_write(folder)``
    writes more files into the bundle before it appears (e.g. the text
    evidence model, :mod:`crowdlens.training.text_evidence`).
    """
    spec = as_spec(cfg)
    with_logits, labels_t = _classifier_labels(model, labels)
    if temperature is not None and not temperature > 0:
        raise BundleError(f"temperature must be a float > 0. Got {temperature!r}.")
    was_training = model.training
    model.eval()
    wrapped = _ExportWrapper.make(model, with_logits)
    x, ref = _reference_outputs(wrapped, spec.input_size)
    if with_logits and ref[1].shape[1] != len(labels_t):
        raise BundleError(
            f"the model has {ref[1].shape[1]} outputs but {len(labels_t)} labels were given; "
            "pass one label name per class, in class-index order"
        )
    bundle = new_bundle(
        out_dir,
        preprocess=spec,
        labels=labels_t,
        task="classify" if with_logits else "embed",
        architecture=_architecture(model, cfg),
        features_output=FEATURES,
        logits_output=LOGITS if with_logits else None,
        temperature=temperature,
        feature_dim=int(ref[0].shape[1]),
        metrics=dict(metrics or {}),
        extra=dict(extra or {}),
        source="torch",
    )

    def write_model(path: Path) -> Bundle:
        _onnx_export(wrapped, x, path, [FEATURES, LOGITS] if with_logits else [FEATURES])
        diff = _parity(path, x, ref)
        if diff > parity_tolerance:
            raise BundleError(
                f"ONNX Runtime disagrees with torch by {diff:.3g} (max abs), above the tolerance "
                f"{parity_tolerance:g}: the export is broken; report it with the model definition"
            )
        if also_write is not None:
            also_write(path.parent)
        return dataclasses.replace(bundle, parity_max_abs_diff=diff)

    out = write_bundle_dir(write_model, out_dir)
    model.train(was_training)
    log.info(
        "exported %s bundle %s to %s (parity max abs diff %.2g)",
        out.task,
        out.architecture,
        out.path,
        out.parity_max_abs_diff or 0.0,
    )
    return out


def _classifier_labels(model: Any, labels: Sequence[str] | None) -> tuple[bool, tuple[str, ...]]:
    """Whether the export has a logits output, and its label names (empty for embed)."""
    from torch import nn

    if not hasattr(model, "forward_features") or not hasattr(model, "get_classifier"):
        raise BundleError(
            f"{type(model).__name__} has no forward_features()/get_classifier(); build models "
            "with crowdlens.models.registry.create_model or add those two methods"
        )
    with_logits = labels is not None and not isinstance(model.get_classifier(), nn.Identity)
    labels_t = tuple(str(x) for x in labels) if with_logits and labels is not None else ()
    return with_logits, labels_t


def _reference_outputs(wrapped: Any, size: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """A seeded random batch and torch's outputs on it (what ONNX Runtime must match)."""
    import torch

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, size, size, generator=gen)
    with torch.no_grad():
        ref = wrapped(x)
    ref_list = list(ref) if isinstance(ref, tuple) else [ref]
    return x.numpy(), [r.numpy() for r in ref_list]


def _onnx_export(wrapped: Any, x: np.ndarray, path: Path, output_names: list[str]) -> None:
    import torch

    with warnings.catch_warnings():
        # The static "same" padding of EfficientNet-Lite leaves Slice ops
        # that the exporter cannot fold; harmless, and noisy.
        warnings.filterwarnings("ignore", message="Constant folding")
        # dynamo=False is a deliberate choice (see DESIGN.md), not an oversight.
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export")
        warnings.filterwarnings("ignore", message="The feature will be removed")
        torch.onnx.export(
            wrapped,
            (torch.from_numpy(x),),
            str(path),
            dynamo=False,
            opset_version=OPSET,
            input_names=[INPUT_NAME],
            output_names=output_names,
            dynamic_axes={INPUT_NAME: {0: "batch"}, **{n: {0: "batch"} for n in output_names}},
        )


def _parity(onnx_path: Path, x: np.ndarray, ref: list[np.ndarray]) -> float:
    from crowdlens.models.runtime import new_session

    sess = new_session(onnx_path, threads=os.cpu_count() or 1)
    outs = sess.run(None, {sess.get_inputs()[0].name: x})
    return float(max(np.max(np.abs(o - r)) for o, r in zip(outs, ref, strict=True)))
