"""ONNX Runtime sessions: one per Python worker, cached, sized to the task's cores.

Spark reuses Python workers across tasks (``spark.python.worker.reuse``), so
a :func:`~crowdlens.spark.worker.per_worker` cache keeps one session per
(model file, thread count) alive for the life of the worker: the model is
loaded once, not once per batch or per task. Intra-op threads default to the
cores the running task owns (``spark.task.cpus``, via ``TaskContext``), so N
concurrent tasks on N cores do not oversubscribe the CPU; outside Spark they
default to all cores.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from crowdlens.spark.worker import per_worker

if TYPE_CHECKING:  # pragma: no cover
    import onnxruntime as ort

    from crowdlens.models.bundle import Bundle

log = logging.getLogger(__name__)

# A worker that serves several bundles over its life keeps at most this many
# sessions (each holds its weights and an activation arena).
MAX_SESSIONS = 4


def task_cores() -> int:
    """Cores the current Spark task owns, else all cores of this machine."""
    try:
        from pyspark import TaskContext

        ctx = TaskContext.get()
    except ImportError:  # pragma: no cover - pyspark is a core dependency
        ctx = None
    if ctx is not None:
        try:
            return max(1, int(ctx.cpus()))
        except Exception:  # older pyspark without TaskContext.cpus()
            return 1
    return max(
        1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )


def new_session(onnx_path: str | Path, threads: int | None = None) -> ort.InferenceSession:
    """A fresh CPU session with ``threads`` intra-op threads (default: :func:`task_cores`)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or task_cores()
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3  # warnings about unused initialisers are noise here
    if threads == 1 or (threads is None and task_cores() == 1):
        # A single-threaded session must not spin a thread pool that competes
        # with the other task's worker on the same machine.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(
        str(onnx_path), sess_options=opts, providers=["CPUExecutionProvider"]
    )


@per_worker(maxsize=MAX_SESSIONS)
def _cached_session(path: str, mtime_ns: int, threads: int) -> ort.InferenceSession:
    log.debug("loading ONNX model %s with %d intra-op threads (pid %d)", path, threads, os.getpid())
    return new_session(path, threads=threads)


def get_session(onnx_path: str | Path, threads: int | None = None) -> ort.InferenceSession:
    """The cached session for ``onnx_path`` in this process (created on first use).

    The cache key includes the file's modification time, so a bundle that is
    re-exported in place is picked up by long-lived workers.
    """
    path = str(Path(onnx_path).resolve())
    return _cached_session(path, os.stat(path).st_mtime_ns, threads or task_cores())


@per_worker(maxsize=MAX_SESSIONS)
def _cached_bundle(path: str, mtime_ns: int) -> Bundle:
    from crowdlens.models.bundle import load_bundle

    return load_bundle(path)


def get_bundle(path: str | Path) -> Bundle:
    """The bundle description at ``path``, read once per process."""
    from crowdlens.models.bundle import META_FILE

    p = str(Path(path).resolve())
    return _cached_bundle(p, os.stat(os.path.join(p, META_FILE)).st_mtime_ns)


def cached_sessions() -> int:
    """How many sessions this process holds (for tests and diagnostics)."""
    return len(_cached_session)


def run(bundle: Bundle, batch: np.ndarray, threads: int | None = None) -> dict[str, np.ndarray]:
    """Run the bundle's model on an NCHW float32 batch; returns ``features``/``logits``.

    The keys are the roles (``features``, ``logits``), not the model's own
    output names, so callers never depend on how a model was exported.

    Example::

        out = run(load_bundle("models/lite0"), np.zeros((4, 3, 224, 224), np.float32))
        out["logits"].shape   # (4, 1000)
    """
    from crowdlens.models.bundle import FEATURES, LOGITS

    sess = get_session(bundle.onnx_path, threads)
    x = batch if bundle.layout == "NCHW" else np.ascontiguousarray(batch.transpose(0, 2, 3, 1))
    roles = {FEATURES: bundle.features_output, LOGITS: bundle.logits_output}
    names = [n for n in roles.values() if n]
    outs = sess.run(names, {bundle.input_name: x})
    got = dict(zip(names, outs, strict=True))
    result: dict[str, Any] = {}
    for role, name in roles.items():
        if name:
            arr = np.asarray(got[name], dtype=np.float32)
            if arr.shape[0] != batch.shape[0]:
                raise RuntimeError(
                    f"model output {name!r} has {arr.shape[0]} rows for a batch of {batch.shape[0]}"
                )
            result[role] = arr.reshape(arr.shape[0], -1)
    return result
