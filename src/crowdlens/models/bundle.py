"""Model bundles: a directory with ``model.onnx`` and ``bundle.json``.

A bundle is everything inference needs and nothing else: the network (ONNX),
how to turn a photo into its input (:class:`PreprocessSpec`), what its
outputs mean (label names, softmax temperature) and where it came from
(architecture, metrics, library versions, the export parity check).

Outputs. A bundle exported from a torch model has up to two named outputs,
``features`` (pooled backbone features, ``[N, feature_dim]``) and ``logits``
(``[N, num_labels]``), so one ONNX Runtime pass yields both the embedding and
the classification. ``task`` is ``"classify"`` when there are logits and
``"embed"`` when the model is a bare feature extractor. Imported models name
which of their outputs play those roles.

Bundles are written atomically: the directory is assembled next to its
destination and renamed into place, so a reader never sees half a bundle.

Example::

    from crowdlens.models.registry import create_model
    model = create_model("efficientnet_lite0")
    bundle = export_bundle(model, model.pretrained_cfg, "models/lite0",
                           labels=model.pretrained_cfg.labels)
    bundle.parity_max_abs_diff   # e.g. 3e-6
    load_bundle("models/lite0").labels[950]   # 'orange'
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from crowdlens.errors import CrowdlensError
from crowdlens.models.preprocess import HasPreprocess, PreprocessSpec, as_spec

if TYPE_CHECKING:  # pragma: no cover
    import torch

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MODEL_FILE = "model.onnx"
META_FILE = "bundle.json"
INPUT_NAME = "input"
FEATURES = "features"
LOGITS = "logits"
TASKS = ("classify", "embed")
LAYOUTS = ("NCHW", "NHWC")
SCORES = ("logits", "probabilities")
OPSET = 17
PARITY_TOLERANCE = 1e-3


class BundleError(CrowdlensError):
    """A bundle is missing, malformed, or does not match its description."""


@dataclass(frozen=True)
class Bundle:
    """A loaded bundle description (the ONNX model itself is opened by the runtime)."""

    path: Path
    onnx_path: Path
    preprocess: PreprocessSpec
    labels: tuple[str, ...]
    task: str
    architecture: str = "unknown"
    input_name: str = INPUT_NAME
    layout: str = "NCHW"
    features_output: str | None = None
    logits_output: str | None = None
    scores: str = "logits"  # what the logits output holds: raw logits or probabilities
    temperature: float | None = None  # calibrated probabilities: softmax(logits / T)
    feature_dim: int | None = None
    metrics: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)
    parity_max_abs_diff: float | None = None
    versions: Mapping[str, str] = field(default_factory=dict)
    created: str = ""
    source: str = "torch"  # "torch", "import" or "quantize"

    @property
    def num_labels(self) -> int:
        return len(self.labels)

    def to_json(self) -> dict[str, Any]:
        """The ``bundle.json`` content (paths are not stored: bundles move)."""
        return {
            "format_version": FORMAT_VERSION,
            "task": self.task,
            "architecture": self.architecture,
            "source": self.source,
            "created": self.created,
            "model_file": self.onnx_path.name,
            "input": {"name": self.input_name, "layout": self.layout},
            "outputs": {FEATURES: self.features_output, LOGITS: self.logits_output},
            "scores": self.scores,
            "temperature": self.temperature,
            "feature_dim": self.feature_dim,
            "preprocessing": self.preprocess.to_dict(),
            "labels": list(self.labels),
            "metrics": dict(self.metrics),
            "parity_max_abs_diff": self.parity_max_abs_diff,
            "versions": dict(self.versions),
            "extra": dict(self.extra),
        }


def versions() -> dict[str, str]:
    """Library versions recorded in every bundle (what made it, what ran it)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("crowdlens", "torch", "onnx", "onnxruntime", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            continue
    return out


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def _architecture(model: Any, cfg: Any) -> str:
    return str(
        getattr(cfg, "name", None) or getattr(model, "model_name", None) or type(model).__name__
    )


def write_bundle_dir(write_model: Callable[[Path], Bundle], out_dir: str | Path) -> Bundle:
    """Assemble a bundle in a temporary sibling directory and rename it into place.

    ``write_model(path)`` writes the ONNX file and returns the bundle to
    describe it. An existing bundle at ``out_dir`` is replaced only once the
    new one is complete.
    """
    out = Path(out_dir).resolve()
    if out.exists() and not (out / META_FILE).is_file() and any(out.iterdir()):
        raise BundleError(
            f"{str(out)!r} exists and is not a bundle (no {META_FILE}); "
            "pass an empty or new directory so nothing else is overwritten"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; workers may run as another user
    try:
        final = _replace_paths(write_model(tmp / MODEL_FILE), out)
        (tmp / META_FILE).write_text(json.dumps(final.to_json(), indent=2) + "\n", encoding="utf-8")
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def _replace_paths(bundle: Bundle, out: Path) -> Bundle:
    return dataclasses.replace(bundle, path=out, onnx_path=out / MODEL_FILE)


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
) -> Bundle:
    """Export a registry model (or any module with ``forward_features`` and
    ``get_classifier``) to a bundle at ``out_dir``, checking ONNX Runtime parity.

    ``labels=None`` or a model whose classifier is the identity produces an
    ``embed`` bundle with only the ``features`` output. The ONNX export uses
    the TorchScript exporter (``dynamo=False``, opset 17) with a dynamic batch
    axis. The max-abs difference between torch and ONNX Runtime on a seeded
    random batch is stored in ``bundle.json``; above ``parity_tolerance`` the
    export fails (a broken graph must not be shipped).
    """
    import torch
    from torch import nn

    spec = as_spec(cfg)
    if not hasattr(model, "forward_features") or not hasattr(model, "get_classifier"):
        raise BundleError(
            f"{type(model).__name__} has no forward_features()/get_classifier(); build models "
            "with crowdlens.models.registry.create_model or add those two methods"
        )
    with_logits = labels is not None and not isinstance(model.get_classifier(), nn.Identity)
    labels_t = tuple(str(x) for x in labels) if with_logits and labels is not None else ()
    if temperature is not None and not temperature > 0:
        raise BundleError(f"temperature must be a float > 0. Got {temperature!r}.")
    was_training = model.training
    model.eval()
    wrapped = _ExportWrapper.make(model, with_logits)
    size = spec.input_size
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, size, size, generator=gen)
    with torch.no_grad():
        ref = wrapped(x)
    ref_list = list(ref) if isinstance(ref, tuple) else [ref]
    feature_dim = int(ref_list[0].shape[1])
    if with_logits and ref_list[1].shape[1] != len(labels_t):
        raise BundleError(
            f"the model has {ref_list[1].shape[1]} outputs but {len(labels_t)} labels were given; "
            "pass one label name per class, in class-index order"
        )
    output_names = [FEATURES, LOGITS] if with_logits else [FEATURES]

    def write_model(path: Path) -> Bundle:
        with warnings.catch_warnings():
            # The static "same" padding of EfficientNet-Lite leaves Slice ops
            # that the exporter cannot fold; harmless, and noisy.
            warnings.filterwarnings("ignore", message="Constant folding")
            # dynamo=False is a deliberate choice (see DESIGN.md), not an oversight.
            warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export")
            warnings.filterwarnings("ignore", message="The feature will be removed")
            _export(path)
        diff = _parity(path, x.numpy(), [r.numpy() for r in ref_list])
        if diff > parity_tolerance:
            raise BundleError(
                f"ONNX Runtime disagrees with torch by {diff:.3g} (max abs), above the tolerance "
                f"{parity_tolerance:g}: the export is broken; report it with the model definition"
            )
        return dataclasses.replace(bundle, parity_max_abs_diff=diff)

    def _export(path: Path) -> None:
        torch.onnx.export(
            wrapped,
            (x,),
            str(path),
            dynamo=False,
            opset_version=OPSET,
            input_names=[INPUT_NAME],
            output_names=output_names,
            dynamic_axes={INPUT_NAME: {0: "batch"}, **{n: {0: "batch"} for n in output_names}},
        )

    bundle = Bundle(
        path=Path(out_dir),
        onnx_path=Path(out_dir) / MODEL_FILE,
        preprocess=spec,
        labels=labels_t,
        task="classify" if with_logits else "embed",
        architecture=_architecture(model, cfg),
        features_output=FEATURES,
        logits_output=LOGITS if with_logits else None,
        temperature=temperature,
        feature_dim=feature_dim,
        metrics=dict(metrics or {}),
        extra=dict(extra or {}),
        versions=versions(),
        created=_now(),
        source="torch",
    )
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


def _parity(onnx_path: Path, x: np.ndarray, ref: list[np.ndarray]) -> float:
    from crowdlens.models.runtime import new_session

    sess = new_session(onnx_path, threads=os.cpu_count() or 1)
    outs = sess.run(None, {sess.get_inputs()[0].name: x})
    return float(max(np.max(np.abs(o - r)) for o, r in zip(outs, ref, strict=True)))


def load_bundle(path: str | Path) -> Bundle:
    """Read a bundle directory (or its ``bundle.json``); errors say what is wrong.

    Example::

        b = load_bundle("models/lite0")
        b.task, b.preprocess.input_size, b.labels[:3]
    """
    p = Path(path)
    if p.is_file() and p.name == META_FILE:
        p = p.parent
    meta_path = p / META_FILE
    if not p.exists():
        raise BundleError(
            f"Model bundle {str(p)!r} does not exist. Create one with 'crowdlens models export' "
            "or 'crowdlens import-onnx', or pass a registry name such as efficientnet_lite0."
        )
    if not meta_path.is_file():
        raise BundleError(
            f"{str(p)!r} is not a model bundle: it has no {META_FILE}. A bundle is a directory "
            f"with {MODEL_FILE} and {META_FILE}; to use a bare ONNX file, run "
            "'crowdlens import-onnx'."
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BundleError(
            f"{str(meta_path)!r} is not valid JSON ({exc}); re-export the bundle"
        ) from None
    fmt = meta.get("format_version")
    if fmt != FORMAT_VERSION:
        raise BundleError(
            f"{str(meta_path)!r} has format_version {fmt!r}; this crowdlens reads version "
            f"{FORMAT_VERSION}. Re-export the bundle with this version of crowdlens."
        )
    try:
        onnx_path = p / meta.get("model_file", MODEL_FILE)
        outputs = meta.get("outputs", {})
        bundle = Bundle(
            path=p.resolve(),
            onnx_path=onnx_path.resolve(),
            preprocess=PreprocessSpec.from_dict(meta["preprocessing"]),
            labels=tuple(meta.get("labels") or ()),
            task=meta["task"],
            architecture=meta.get("architecture", "unknown"),
            input_name=meta.get("input", {}).get("name", INPUT_NAME),
            layout=meta.get("input", {}).get("layout", "NCHW"),
            features_output=outputs.get(FEATURES),
            logits_output=outputs.get(LOGITS),
            scores=meta.get("scores", "logits"),
            temperature=meta.get("temperature"),
            feature_dim=meta.get("feature_dim"),
            metrics=meta.get("metrics") or {},
            extra=meta.get("extra") or {},
            parity_max_abs_diff=meta.get("parity_max_abs_diff"),
            versions=meta.get("versions") or {},
            created=meta.get("created", ""),
            source=meta.get("source", "torch"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleError(
            f"{str(meta_path)!r} is malformed ({type(exc).__name__}: {exc}); re-export it"
        ) from None
    _validate(bundle, meta_path)
    return bundle


def _validate(b: Bundle, where: Path) -> None:
    problems = []
    if not b.onnx_path.is_file():
        problems.append(f"the model file {b.onnx_path.name!r} is missing")
    if b.task not in TASKS:
        problems.append(f"task must be one of {TASKS}, got {b.task!r}")
    if b.layout not in LAYOUTS:
        problems.append(f"input layout must be one of {LAYOUTS}, got {b.layout!r}")
    if b.scores not in SCORES:
        problems.append(f"scores must be one of {SCORES}, got {b.scores!r}")
    if b.task == "classify" and (not b.logits_output or not b.labels):
        problems.append("a classify bundle needs a logits output and label names")
    if b.task == "embed" and not b.features_output:
        problems.append("an embed bundle needs a features output")
    if b.temperature is not None and not (
        isinstance(b.temperature, int | float) and b.temperature > 0
    ):
        problems.append(f"temperature must be a number > 0, got {b.temperature!r}")
    if problems:
        raise BundleError(
            f"{str(where)!r}: " + "; ".join(problems) + ". Re-export or re-import the bundle."
        )


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
    import onnx

    from crowdlens.models.runtime import new_session

    src = Path(onnx_path)
    if not src.is_file():
        raise BundleError(f"ONNX file {str(src)!r} does not exist.")
    spec = spec if isinstance(spec, PreprocessSpec) else PreprocessSpec.from_dict(dict(spec))
    if layout not in LAYOUTS:
        raise BundleError(f"layout must be one of {LAYOUTS}. Got {layout!r}.")
    if scores not in SCORES:
        raise BundleError(f"scores must be one of {SCORES}. Got {scores!r}.")
    try:
        proto = onnx.load(str(src))
        onnx.checker.check_model(proto)
    except Exception as exc:
        raise BundleError(
            f"{str(src)!r} is not a valid ONNX model ({type(exc).__name__}: {exc})"
        ) from None
    sess = new_session(src, threads=os.cpu_count() or 1)
    inputs = sess.get_inputs()
    if len(inputs) != 1:
        raise BundleError(
            f"{str(src)!r} has {len(inputs)} inputs ({[i.name for i in inputs]}); an image model "
            "takes exactly one (the image batch)"
        )
    out_names = [o.name for o in sess.get_outputs()]
    for role, name in (("logits_output", logits_output), ("features_output", features_output)):
        if name is not None and name not in out_names:
            raise BundleError(
                f"{role}={name!r} is not an output of the model. Outputs: {out_names}."
            )
    if labels is not None:
        logits_output = logits_output or out_names[0]
    elif features_output is None:
        features_output = out_names[0]
    s = spec.input_size
    shape = (2, 3, s, s) if layout == "NCHW" else (2, s, s, 3)
    try:
        got = dict(
            zip(
                out_names,
                sess.run(None, {inputs[0].name: np.zeros(shape, np.float32)}),
                strict=True,
            )
        )
    except Exception as exc:
        raise BundleError(
            f"{str(src)!r} did not run on a {layout} batch of shape {list(shape)} "
            f"({type(exc).__name__}: {str(exc).splitlines()[0]}); check input_size and layout"
        ) from None
    labels_t = tuple(str(x) for x in labels) if labels is not None else ()
    if logits_output is not None:
        arr = got[logits_output]
        if arr.ndim != 2 or arr.shape[1] != len(labels_t):
            raise BundleError(
                f"output {logits_output!r} has shape {list(arr.shape)} but {len(labels_t)} labels "
                f"were given; it must be [batch, {len(labels_t)}]"
            )
    feature_dim = None
    if features_output is not None:
        arr = got[features_output]
        if arr.ndim != 2:
            raise BundleError(
                f"output {features_output!r} has shape {list(arr.shape)}; an embedding output "
                "must be [batch, dim] (pooled features)"
            )
        feature_dim = int(arr.shape[1])
    bundle = Bundle(
        path=Path(out_dir),
        onnx_path=Path(out_dir) / MODEL_FILE,
        preprocess=spec,
        labels=labels_t,
        task="classify" if logits_output else "embed",
        architecture=architecture or (proto.graph.name or src.stem),
        input_name=inputs[0].name,
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
        versions=versions(),
        created=_now(),
        source="import",
    )

    def copy_model(path: Path) -> Bundle:
        shutil.copyfile(src, path)
        return bundle

    return write_bundle_dir(copy_model, out_dir)


def cache_dir() -> Path:
    """Where bundles exported on demand from registry names are kept."""
    root = os.environ.get("CROWDLENS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "crowdlens"
    )
    return Path(root) / "bundles"


def resolve_bundle(model: str | Path) -> Bundle:
    """A bundle path, or a registry name (pretrained ImageNet bundle, exported once and cached).

    Example::

        resolve_bundle("efficientnet_lite0").labels[950]   # 'orange'
        resolve_bundle("models/grocery")                    # a trained bundle
    """
    p = Path(model)
    if p.exists():
        return load_bundle(p)
    from crowdlens.models.registry import create_model, list_models

    name = str(model)
    if name not in list_models():
        raise BundleError(
            f"{name!r} is neither a bundle directory nor a model name. "
            f"Model names: {', '.join(list_models())}."
        )
    target = cache_dir() / name
    if (target / META_FILE).is_file():
        return load_bundle(target)
    net = create_model(name, pretrained=True)
    log.info("exporting the pretrained %s bundle once to %s", name, target)
    return export_bundle(net, net.pretrained_cfg, target, labels=net.pretrained_cfg.labels)
