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

Writing bundles: :func:`crowdlens.models.export.export_bundle` (torch
models) and :func:`crowdlens.models.onnx_import.import_onnx` (any ONNX model).
Finding them by path or registry name (and caching exported registry models):
:func:`crowdlens.models.hub.resolve_bundle`.

Example::

    from crowdlens.models.export import export_bundle
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
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crowdlens.errors import CrowdlensError
from crowdlens.io.atomic import atomic_path
from crowdlens.models.preprocess import PreprocessSpec

FORMAT_VERSION = 1
MODEL_FILE = "model.onnx"
META_FILE = "bundle.json"
INPUT_NAME = "input"
FEATURES = "features"
LOGITS = "logits"
TASKS = ("classify", "embed")
LAYOUTS = ("NCHW", "NHWC")
SCORES = ("logits", "probabilities")


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


VERSIONED = ("crowdlens", "torch", "onnx", "onnxruntime", "numpy")


def versions(packages: tuple[str, ...] = VERSIONED) -> dict[str, str]:
    """Installed versions of ``packages`` (by default those recorded in every bundle:
    what made it, what ran it); packages not installed are left out."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in packages:
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            continue
    return out


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def new_bundle(out_dir: str | Path, **fields: Any) -> Bundle:
    """A bundle about to be written at ``out_dir``: its paths, the library versions
    and the creation time filled in; ``fields`` give the rest of :class:`Bundle`."""
    out = Path(out_dir)
    return Bundle(
        path=out, onnx_path=out / MODEL_FILE, versions=versions(), created=utc_now(), **fields
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
    with atomic_path(out) as tmp:
        tmp.mkdir()
        os.chmod(tmp, 0o755)  # whatever the umask: workers may run as another user
        final = _replace_paths(write_model(tmp / MODEL_FILE), out)
        (tmp / META_FILE).write_text(json.dumps(final.to_json(), indent=2) + "\n", encoding="utf-8")
    return final


def install_bundle_files(model_file: Path, meta: Mapping[str, Any], out_dir: str | Path) -> Path:
    """Move a network and write its description into ``out_dir``, beside other files.

    For bundles rebuilt in place next to what they were rebuilt from (packed
    heads and tails). ``bundle.json`` goes first and comes back last, each file
    written atomically: a rebuild stopped half-way leaves a folder without
    ``bundle.json`` (not a bundle; set-up rebuilds it), never a description
    beside a network it does not describe.
    """
    import shutil

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / META_FILE).unlink(missing_ok=True)
    with atomic_path(out / MODEL_FILE) as tmp:
        shutil.move(str(model_file), tmp)
    with atomic_path(out / META_FILE) as tmp:
        tmp.write_text(json.dumps(dict(meta), indent=2) + "\n", encoding="utf-8")
    return out


def _replace_paths(bundle: Bundle, out: Path) -> Bundle:
    return dataclasses.replace(bundle, path=out, onnx_path=out / MODEL_FILE)


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
            f"Model bundle {str(p)!r} does not exist. Create one with 'crowdlens export-model' "
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
