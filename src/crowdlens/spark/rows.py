"""The row layer: a per-photo stage is a pure function of clean rows, run by Spark.

Modelled on pyspark's ``predict_batch_udf``: the stage gives a function and
the columns it reads and adds; this module checks the columns on the driver,
turns each Arrow batch into plain Python rows on the workers, checks that
every input row got exactly one output row, and types the output columns
from :data:`crowdlens.schema.DDL`. The stage modules keep only their pure
per-photo logic, which tests call with plain dicts.

What a stage function sees (``clean`` values):

* a null is ``None`` (never NaN, ``pd.NA`` or ``NaT``);
* an integer column is ``int`` (Arrow hands nullable ints to pandas as floats);
* an array is a ``list``, a struct a ``dict`` (nested: list of dicts);
* numpy scalars are Python scalars; bytes stay bytes.

Models a stage needs are loaded once per Python worker through
:func:`crowdlens.spark.worker.per_worker`.

Example::

    def judge(row: dict) -> dict:          # pure, testable without Spark
        return {S.DECISION: S.DECISION_ACCEPT if row[S.STATUS] == S.STATUS_OK else S.DECISION_REJECT}

    df = map_rows(df, judge, [S.STATUS], [S.DECISION], name="decide")
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from crowdlens import schema as S
from crowdlens.errors import CrowdlensError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from pyspark.sql import DataFrame

Row = dict[str, Any]
RowFn = Callable[[Row], Mapping[str, Any]]
BatchFn = Callable[[list[Row]], Sequence[Mapping[str, Any]]]

# Nullable pandas dtypes for the scalar Spark types; the rest travel as objects.
_PANDAS_DTYPES = {
    "int": "Int32",
    "bigint": "Int64",
    "long": "Int64",
    "float": "Float32",
    "double": "Float64",
    "boolean": "boolean",
}


def require(df: DataFrame, columns: Sequence[str], stage: str, hint: str) -> None:
    """Raise :class:`CrowdlensError` naming the ``columns`` ``df`` lacks and what to run first."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise CrowdlensError(
            f"the {stage} stage needs the columns {missing}, which are missing: {hint}"
        )


def clean(value: Any) -> Any:
    """One value from a pandas batch as a plain Python value (see the module doc).

    >>> import numpy as np
    >>> clean(float("nan")), clean(np.array(["a", "b"], dtype=object)), clean(np.float32(2))
    (None, ['a', 'b'], 2.0)
    """
    import numpy as np

    if value is None:
        return None
    if isinstance(value, float):
        return None if value != value else value
    if isinstance(value, str | bytes | bool | int):
        return value
    if isinstance(value, np.ndarray):
        if value.dtype != object:
            return value.tolist()
        return [clean(v) for v in value]
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, np.generic):
        return clean(value.item())
    import pandas as pd

    try:
        if pd.isna(value):  # pd.NA, NaT
            return None
    except (TypeError, ValueError):
        pass
    return value


def to_rows(batch: pd.DataFrame, ints: Sequence[str] = ()) -> list[Row]:
    """A pandas batch as a list of clean rows; ``ints`` are the integer columns."""
    columns = {}
    for name in batch.columns:
        values = [clean(v) for v in batch[name].tolist()]
        if name in ints:
            values = [None if v is None else int(v) for v in values]
        columns[name] = values
    names = list(columns)
    return [dict(zip(names, vals, strict=True)) for vals in zip(*columns.values(), strict=True)]


def typed_frame(rows: Sequence[Mapping[str, Any]], outputs: Sequence[str]) -> pd.DataFrame:
    """The ``outputs`` of ``rows`` as a pandas frame, each column typed from the schema.

    A key missing from a row is a null; a column not in :data:`S.DDL` is an error.
    """
    import pandas as pd

    data = {}
    for name in outputs:
        values = [row.get(name) for row in rows]
        dtype = _PANDAS_DTYPES.get(S.DDL[name])
        data[name] = pd.array(values, dtype=dtype) if dtype else pd.Series(values, dtype=object)
    return pd.DataFrame(data, index=pd.RangeIndex(len(rows)))


def apply_batch(
    batch: pd.DataFrame,
    fn: BatchFn,
    outputs: Sequence[str],
    name: str,
    ints: Sequence[str] = (),
) -> pd.DataFrame:
    """Run ``fn`` on the clean rows of one batch and type its answer (the worker side)."""
    rows = to_rows(batch, ints)
    out = list(fn(rows))
    if len(out) != len(rows):
        raise RuntimeError(
            f"the {name} stage returned {len(out)} rows for a batch of {len(rows)}: "
            "every input row must produce exactly one output row"
        )
    return typed_frame(out, outputs)


def each_row(rows: list[Row], fn: RowFn) -> list[Mapping[str, Any]]:
    """A row function as a batch function."""
    return [fn(row) for row in rows]


def map_batches(
    df: DataFrame,
    fn: BatchFn,
    inputs: Sequence[str],
    outputs: Sequence[str],
    *,
    name: str,
    optional: Sequence[str] = (),
    hint: str = "run the stages before it first",
) -> DataFrame:
    """Append ``outputs`` computed by ``fn`` from batches of clean rows.

    ``fn`` gets a list of rows (dicts of the ``inputs`` and of those
    ``optional`` columns ``df`` has) and returns one mapping per row; it must
    be picklable (a module-level function or a ``functools.partial`` of one).
    A missing input column fails here, on the driver, with ``hint`` as the fix.
    An output that is also an input replaces it in place.
    """
    from pyspark.sql.types import IntegralType

    from crowdlens.spark.columns import add_columns

    require(df, inputs, name, hint)
    columns = list(dict.fromkeys([*inputs, *[c for c in optional if c in df.columns]]))
    ints = [c for c in columns if isinstance(df.schema[c].dataType, IntegralType)]
    compute = partial(apply_batch, fn=fn, outputs=list(outputs), name=name, ints=ints)
    out = add_columns(df, compute, columns, list(outputs), name=name)
    new = [c for c in outputs if c not in df.columns]
    return out.select(*df.columns, *new)


def map_rows(
    df: DataFrame, fn: RowFn, inputs: Sequence[str], outputs: Sequence[str], **options: Any
) -> DataFrame:
    """Like :func:`map_batches` (same keyword ``options``) for ``fn(row) -> mapping``."""
    return map_batches(df, partial(each_row, fn=fn), inputs, outputs, **options)
