"""State one Python worker keeps between batches and tasks: models, sessions, engines.

Spark reuses Python workers across tasks (``spark.python.worker.reuse``), so
what a stage loads once (an ONNX session, an OCR engine, a PII analyzer) is
kept at module level for the life of the worker, the way pyspark's
``predict_batch_udf`` caches the function ``make_predict_fn`` builds. Every
such cache is :func:`per_worker`: one mechanism, bounded (least recently used
entries go first), safe when two threads ask for the same model at once.

In a Spark Python worker, what a cache builds is then frozen out of the
garbage collector's sight (:func:`freeze_long_lived`): pyspark's daemon runs
a full ``gc.collect()`` after every task of a reused worker, and walking the
loaded libraries and models cost 15-25 ms a task, about 5 % of the classify
stage's worker CPU (docs/benchmarks.md, issue 14).
"""

from __future__ import annotations

import functools
import gc
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class WorkerCache(Generic[T]):
    """``factory(*args)`` built once per process and argument tuple (see :func:`per_worker`)."""

    def __init__(self, factory: Callable[..., T], maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be an int >= 1; got {maxsize!r}")
        self.factory = factory
        self.maxsize = maxsize
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, T] = OrderedDict()
        functools.update_wrapper(self, factory)

    def __call__(self, *args: Any) -> T:
        with self._lock:  # built under the lock: a model is never loaded twice at once
            if args in self._items:
                self._items.move_to_end(args)
                return self._items[args]
            value = self.factory(*args)
            freeze_long_lived()
            self._items[args] = value
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)  # the least recently used
            return value

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def in_spark_task() -> bool:
    """True inside a Spark task (a Python worker), False on the driver and in tests."""
    try:
        from pyspark import TaskContext
    except ImportError:  # pragma: no cover - pyspark is a core dependency
        return False
    return TaskContext.get() is not None


def freeze_long_lived() -> None:
    """In a Spark Python worker: collect garbage once, then freeze what survives.

    ``gc.freeze`` moves every object alive now (imported libraries, the model
    just built) to a generation the collector no longer walks, so the full
    collection pyspark runs after each task only looks at what the task
    itself made. Objects are still freed by reference counting; only a
    reference cycle among frozen objects would outlive the worker. Outside a
    Spark task (the driver, the CLI, tests) nothing is frozen.
    """
    if in_spark_task():
        gc.collect()
        gc.freeze()


def per_worker(maxsize: int = 4) -> Callable[[Callable[..., T]], WorkerCache[T]]:
    """Decorate a factory so what it builds is kept for the life of the Python worker.

    Arguments are positional and hashable (they are the cache key); at most
    ``maxsize`` results are kept, since each may hold a model's weights.

    Example::

        @per_worker(maxsize=2)
        def load_engine(model_path: str, threads: int) -> Engine:
            return Engine(model_path, threads)
    """

    def wrap(factory: Callable[..., T]) -> WorkerCache[T]:
        return WorkerCache(factory, maxsize)

    return wrap
