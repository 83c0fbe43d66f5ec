"""Launching a training function through Spark's ``TorchDistributor``.

``TorchDistributor`` starts ``num_processes`` torch processes (on the driver
with ``local_mode=True``, in barrier tasks on the executors otherwise), sets
RANK / WORLD_SIZE / MASTER_ADDR, and returns rank 0's result. Two things make
it hard to use as is, and this module fixes them:

* an exception in the training function surfaces only as "TorchDistributor
  failed during training"; the traceback is printed to stdout. We tee stdout
  while it runs, cut out the last Python traceback and raise
  :class:`TrainingFailed` with it;
* the default ``use_gpu=True`` fails on a CPU machine: we pass ``use_gpu=False``.

Example::

    result = run_distributed(train_worker, job, num_processes=2, spark=spark)
"""

from __future__ import annotations

import io
import logging
import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

from crowdlens.errors import CrowdlensError

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)


class TrainingFailed(CrowdlensError):
    """The distributed training function raised; the message holds its traceback."""


class _Tee(io.TextIOBase):
    """Write to the real stream and keep a copy (the distributor prints worker output)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.buffer_ = io.StringIO()

    def write(self, s: str) -> int:
        self.buffer_.write(s)
        return self.stream.write(s)

    def flush(self) -> None:
        self.stream.flush()

    def getvalue(self) -> str:
        return self.buffer_.getvalue()


_TB = re.compile(r"Traceback \(most recent call last\):\n")


def _one_traceback(text: str) -> str:
    lines = text.splitlines()
    # Strip torchrun's per-rank prefixes ("[rank0]: ") so the traceback reads as Python.
    lines = [re.sub(r"^\[(?:rank|default)\d*\]:\s?", "", ln) for ln in lines]
    out = [lines[0]]
    for ln in lines[1:]:
        out.append(ln)
        # The first unindented line that is not a traceback header is the exception.
        if ln and not ln.startswith((" ", "\t", "Traceback", "During handling", "The above")):
            break
    return "\n".join(out)


def extract_traceback(output: str) -> str | None:
    """The training function's traceback in ``output``: the last one that is not
    torchrun's own report that a child failed (``ChildFailedError``)."""
    found = [_one_traceback(output[m.start() :]) for m in _TB.finditer(output)]
    if not found:
        return None
    own = [tb for tb in found if "ChildFailedError" not in tb.splitlines()[-1]]
    return (own or found)[-1]


def run_distributed(
    fn: Callable[..., Any],
    *args: Any,
    num_processes: int,
    local_mode: bool = True,
    spark: SparkSession | None = None,
) -> Any:
    """Run ``fn(*args)`` in ``num_processes`` DDP processes via TorchDistributor.

    ``fn`` must be importable (a module-level function): it is pickled to the
    processes. Its return value on rank 0 is returned. A failure raises
    :class:`TrainingFailed` with the training function's own traceback.
    """
    from pyspark.ml.torch.distributor import TorchDistributor

    if spark is None:
        from crowdlens.spark.session import get_spark

        spark = get_spark(torch=True)
    distributor = TorchDistributor(
        num_processes=num_processes, local_mode=local_mode, use_gpu=False
    )
    tee = _Tee(sys.stdout)
    real = sys.stdout
    sys.stdout = tee  # type: ignore[assignment]
    try:
        return distributor.run(fn, *args)
    except Exception as exc:
        tb = extract_traceback(tee.getvalue()) or extract_traceback(str(exc))
        detail = tb or str(exc).strip().splitlines()[-1]
        raise TrainingFailed(
            f"distributed training failed in {num_processes} process(es) "
            f"(TorchDistributor, local_mode={local_mode}). The training function raised:\n{detail}"
        ) from None
    finally:
        sys.stdout = real
