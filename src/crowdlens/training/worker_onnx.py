"""Frozen feature networks on the Spark workers: exported to ONNX once per Python worker.

ONNX Runtime runs EfficientNet's depthwise convolutions ~3x faster than
torch on CPU (measured here), so the training feature passes (the tail's
trunk, the companions) export their torch module once per worker and run it
through one single-threaded session (Spark runs one task per core).

Example::

    sess = worker_session(("trunk", "efficientnet_lite2", 20), make_module, 260)
    acts = sess.run(None, {"x": x})[0]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_SESSIONS: dict[Any, Any] = {}  # one ONNX Runtime session per key and Python worker


def export_module(module: Any, size: int, path: str, output: str = "a") -> str:
    """Export ``module`` (``x`` ``[n, 3, size, size]`` -> ``output`` ``[n, ...]``) to ``path``."""
    import warnings

    import torch

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (torch.zeros(1, 3, size, size),),
            path,
            dynamo=False,
            opset_version=17,
            input_names=["x"],
            output_names=[output],
            dynamic_axes={"x": {0: "n"}, output: {0: "n"}},
        )
    return path


def worker_session(key: Any, make: Callable[[], Any], size: int) -> Any:
    """The session of the module ``make()`` builds, exported the first time ``key`` is asked."""
    import tempfile

    from crowdlens.models.runtime import new_session

    if key not in _SESSIONS:
        with tempfile.TemporaryDirectory(prefix="crowdlens-features-") as tmp:
            path = export_module(make(), size, f"{tmp}/features.onnx")
            _SESSIONS[key] = new_session(path, threads=1)  # Spark runs one task per core
    return _SESSIONS[key]
