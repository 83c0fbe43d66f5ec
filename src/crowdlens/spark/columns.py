"""The one place where per-photo Python work meets Spark.

A stage is a pure function over a pandas batch (``compute(batch) -> frame``)
plus the names of the columns it reads and adds. :func:`add_columns` runs it
on the workers through Arrow batches (a scalar-iterator pandas UDF, so only
the input columns travel to Python) and appends the new columns, typed by
:mod:`crowdlens.schema`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from crowdlens import schema as S

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from pyspark.sql import DataFrame

BatchFn = Callable[["pd.DataFrame"], "pd.DataFrame"]


def check_batch(name: str, n_in: int, out: pd.DataFrame, outputs: Sequence[str]) -> None:
    """Fail loudly (a bug, not bad input) if a stage lost rows or columns."""
    if len(out) != n_in:
        raise RuntimeError(
            f"stage {name!r} returned {len(out)} rows for a batch of {n_in}: "
            "every input row must produce exactly one output row"
        )
    missing = [c for c in outputs if c not in out.columns]
    if missing:
        raise RuntimeError(f"stage {name!r} did not produce the columns {missing}")


def run_batches(
    compute: BatchFn, batches: Iterator[pd.DataFrame], outputs: Sequence[str], name: str
) -> Iterator[pd.DataFrame]:
    """Apply ``compute`` to each batch and check it; the worker side of add_columns."""
    for batch in batches:
        batch = batch.reset_index(drop=True)
        out = compute(batch)
        check_batch(name, len(batch), out, outputs)
        yield out[list(outputs)].reset_index(drop=True)


def add_columns(
    df: DataFrame,
    compute: BatchFn,
    inputs: Sequence[str],
    outputs: Sequence[str],
    *,
    name: str,
) -> DataFrame:
    """Append ``outputs`` to ``df``, computed on the workers by ``compute``.

    ``compute`` receives a pandas DataFrame holding the ``inputs`` columns of
    one Arrow batch and returns a DataFrame with the ``outputs`` columns and
    the same number of rows. It must be picklable (a module-level function or
    a ``functools.partial`` of one); expensive state (models) belongs in a
    per-worker cache, not in the closure.

    Example::

        df = add_columns(df, measure_quality, [S.CONTENT, S.STATUS],
                         [S.SHARPNESS, S.BRIGHTNESS], name="quality")
    """
    import pandas as pd
    from pyspark.sql import functions as F
    from pyspark.sql.functions import pandas_udf

    ret = "struct<" + ", ".join(f"{n}:{S.DDL[n]}" for n in outputs) + ">"
    outputs = list(outputs)

    def udf_fn(it):
        return run_batches(compute, it, outputs, name)

    udf_fn.__annotations__ = {"it": Iterator[pd.DataFrame], "return": Iterator[pd.DataFrame]}
    # Non-deterministic so the optimizer never evaluates it once per output
    # field when the struct is expanded below. The work itself is deterministic.
    udf = pandas_udf(udf_fn, returnType=ret).asNondeterministic()
    tmp = f"__{name}"
    out = df.withColumn(tmp, udf(F.struct(*[F.col(c) for c in inputs])))
    return out.select(
        *[F.col(c) for c in df.columns if c not in outputs],
        *[F.col(tmp)[n].alias(n) for n in outputs],
    )
