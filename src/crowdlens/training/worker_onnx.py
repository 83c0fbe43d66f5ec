"""Frozen feature networks on the Spark workers: exported to ONNX once per Python worker.

ONNX Runtime runs EfficientNet's depthwise convolutions ~3x faster than
torch on CPU (measured here), so the training feature passes (the tail's
trunk, the companions) export their torch module once per worker and run it
through one single-threaded session (Spark runs one task per core).

Example::

    sess = worker_session(pretrained_trunk, 260, "efficientnet_lite2", 20)
    acts = sess.run(None, {"x": x})[0]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crowdlens.spark.worker import per_worker


def export_module(module: Any, size: int, path: str) -> str:
    """Export ``module`` (``x`` ``[n, 3, size, size]`` -> ``a`` ``[n, ...]``) to ``path``."""
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
            output_names=["a"],
            dynamic_axes={"x": {0: "n"}, "a": {0: "n"}},
        )
    return path


@per_worker(maxsize=4)
def worker_session(make: Callable[..., Any], size: int, *args: Any) -> Any:
    """An ONNX Runtime session of the module ``make(*args)`` (a module-level function and
    hashable arguments: the cache key), exported the first time it is asked for."""
    import tempfile

    from crowdlens.models.runtime import new_session

    with tempfile.TemporaryDirectory(prefix="crowdlens-features-") as tmp:
        path = export_module(make(*args), size, f"{tmp}/features.onnx")
        return new_session(path, threads=1)  # Spark runs one task per core
