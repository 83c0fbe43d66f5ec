"""Make a bundle from any ONNX image model (Caffe, TensorFlow, Keras, ... via a converter).

Example::

    import_onnx("googlenet.onnx", PreprocessSpec(input_size=224, resize=256),
                "models/googlenet", labels=imagenet_labels())
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from crowdlens.models.bundle import (
    LAYOUTS,
    SCORES,
    Bundle,
    BundleError,
    new_bundle,
    write_bundle_dir,
)
from crowdlens.models.preprocess import PreprocessSpec


def import_onnx(
    onnx_path: str | Path,
    spec: PreprocessSpec | Mapping[str, Any],
    out_dir: str | Path,
    labels: Sequence[str] | None,
    *,
    logits_output: str | None = None,
    features_output: str | None = None,
    scores: str = "logits",
    layout: str = "NCHW",
    architecture: str | None = None,
    metrics: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Bundle:
    """Make a bundle from any ONNX image model (Caffe, TensorFlow, Keras, ... converted to ONNX).

    The model must take one float32 image batch (``[N, 3, H, W]``, or
    ``[N, H, W, 3]`` with ``layout="NHWC"``) preprocessed as ``spec`` says.
    With ``labels``, the output named ``logits_output`` (default: the model's
    only or first output) holds one score per label, raw logits or
    probabilities as ``scores`` says; ``features_output`` optionally names a
    pooled-feature output for embeddings. Without labels the bundle is an
    ``embed`` bundle of ``features_output`` (default: the first output).
    One ONNX Runtime pass checks that the shapes match before anything is written.

    Example::

        import_onnx("googlenet.onnx", PreprocessSpec(input_size=224, resize=256),
                    "models/googlenet", labels=imagenet_labels())
    """
    src = Path(onnx_path)
    spec = spec if isinstance(spec, PreprocessSpec) else PreprocessSpec.from_dict(dict(spec))
    if layout not in LAYOUTS:
        raise BundleError(f"layout must be one of {LAYOUTS}. Got {layout!r}.")
    if scores not in SCORES:
        raise BundleError(f"scores must be one of {SCORES}. Got {scores!r}.")
    proto = _load_checked(src)
    input_name, got = _run_once(src, spec.input_size, layout)
    out_names = list(got)
    for role, name in (("logits_output", logits_output), ("features_output", features_output)):
        if name is not None and name not in out_names:
            raise BundleError(
                f"{role}={name!r} is not an output of the model. Outputs: {out_names}."
            )
    if labels is not None:
        logits_output = logits_output or out_names[0]
    elif features_output is None:
        features_output = out_names[0]
    labels_t = tuple(str(x) for x in labels) if labels is not None else ()
    feature_dim = _check_shapes(got, logits_output, features_output, len(labels_t))
    bundle = new_bundle(
        out_dir,
        preprocess=spec,
        labels=labels_t,
        task="classify" if logits_output else "embed",
        architecture=architecture or (proto.graph.name or src.stem),
        input_name=input_name,
        layout=layout,
        features_output=features_output,
        logits_output=logits_output,
        scores=scores,
        feature_dim=feature_dim,
        metrics=dict(metrics or {}),
        extra={
            "imported_from": str(src.resolve()),
            "producer": proto.producer_name,
            **(extra or {}),
        },
        source="import",
    )

    def copy_model(path: Path) -> Bundle:
        shutil.copyfile(src, path)
        return bundle

    return write_bundle_dir(copy_model, out_dir)


def _load_checked(src: Path) -> Any:
    """The ONNX proto of ``src``, after onnx's own checker accepted it."""
    import onnx

    if not src.is_file():
        raise BundleError(f"ONNX file {str(src)!r} does not exist.")
    try:
        proto = onnx.load(str(src))
        onnx.checker.check_model(proto)
    except Exception as exc:
        raise BundleError(
            f"{str(src)!r} is not a valid ONNX model ({type(exc).__name__}: {exc})"
        ) from None
    return proto


def _run_once(src: Path, size: int, layout: str) -> tuple[str, dict[str, np.ndarray]]:
    """The model's input name and its outputs (by name, in order) on a zero batch."""
    from crowdlens.models.runtime import new_session

    sess = new_session(src, threads=os.cpu_count() or 1)
    inputs = sess.get_inputs()
    if len(inputs) != 1:
        raise BundleError(
            f"{str(src)!r} has {len(inputs)} inputs ({[i.name for i in inputs]}); an image model "
            "takes exactly one (the image batch)"
        )
    out_names = [o.name for o in sess.get_outputs()]
    shape = (2, 3, size, size) if layout == "NCHW" else (2, size, size, 3)
    try:
        outs = sess.run(None, {inputs[0].name: np.zeros(shape, np.float32)})
    except Exception as exc:
        raise BundleError(
            f"{str(src)!r} did not run on a {layout} batch of shape {list(shape)} "
            f"({type(exc).__name__}: {str(exc).splitlines()[0]}); check input_size and layout"
        ) from None
    return inputs[0].name, dict(zip(out_names, outs, strict=True))


def _check_shapes(
    got: Mapping[str, np.ndarray],
    logits_output: str | None,
    features_output: str | None,
    num_labels: int,
) -> int | None:
    """Check the chosen outputs' shapes; return the feature dimension (None without features)."""
    if logits_output is not None:
        arr = got[logits_output]
        if arr.ndim != 2 or arr.shape[1] != num_labels:
            raise BundleError(
                f"output {logits_output!r} has shape {list(arr.shape)} but {num_labels} labels "
                f"were given; it must be [batch, {num_labels}]"
            )
    if features_output is None:
        return None
    arr = got[features_output]
    if arr.ndim != 2:
        raise BundleError(
            f"output {features_output!r} has shape {list(arr.shape)}; an embedding output "
            "must be [batch, dim] (pooled features)"
        )
    return int(arr.shape[1])
