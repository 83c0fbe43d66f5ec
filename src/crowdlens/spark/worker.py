"""State one Python worker keeps between batches and tasks: models, sessions, engines.

Spark reuses Python workers across tasks (``spark.python.worker.reuse``), so
what a stage loads once (an ONNX session, an OCR engine, a PII analyzer) is
kept at module level for the life of the worker, the way pyspark's
``predict_batch_udf`` caches the function ``make_predict_fn`` builds. Every
such cache is :func:`per_worker`: one mechanism, bounded (least recently used
entries go first), safe when two threads ask for the same model at once.
"""

from __future__ import annotations

import functools
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
            self._items[args] = value
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)  # the least recently used
            return value

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


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
