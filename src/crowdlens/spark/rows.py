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

Several stages run in one Python pass with :func:`run_steps`: each per-photo
stage module also gives its work as a :class:`Step`, and the pipeline runs
read, decode, quality, model, text and validation as one pandas UDF, so the
photo bytes and the decoded copy never cross the JVM/Python boundary and a
task holds one Python worker instead of one per stage.

Example::

    def judge(row: dict) -> dict:          # pure, testable without Spark
        return {S.DECISION: S.DECISION_ACCEPT if row[S.STATUS] == S.STATUS_OK else S.DECISION_REJECT}

    df = map_rows(df, judge, [S.STATUS], [S.DECISION], name="decide")
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
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
    require_columns(df.columns, columns, stage, hint)


def require_columns(
    available: Sequence[str], columns: Sequence[str], stage: str, hint: str
) -> None:
    """Like :func:`require`, against a list of column names."""
    missing = [c for c in columns if c not in available]
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


def each_row(rows: list[Row], fn: RowFn) -> list[Mapping[str, Any]]:
    """A row function as a batch function."""
    return [fn(row) for row in rows]


@dataclass(frozen=True)
class Step:
    """One per-photo stage as data: its batch function and the columns it reads and adds.

    ``fn`` gets a list of rows (dicts of the ``inputs`` and of those
    ``optional`` columns that exist when it runs) and returns one mapping per
    row; it must be picklable (a module-level function or a
    ``functools.partial`` of one). A missing input fails on the driver with
    ``hint`` as the fix. Run one or several with :func:`run_steps`.
    """

    fn: BatchFn
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    name: str
    optional: tuple[str, ...] = ()
    hint: str = "run the stages before it first"


def row_step(fn: RowFn, inputs: Sequence[str], outputs: Sequence[str], **options: Any) -> Step:
    """A :class:`Step` for ``fn(row) -> mapping`` (``options``: name, optional, hint)."""
    optional = tuple(options.pop("optional", ()))
    return Step(
        partial(each_row, fn=fn), tuple(inputs), tuple(outputs), optional=optional, **options
    )


def columns_after(columns: Sequence[str], step: Step) -> list[str]:
    """The columns a table has once ``step`` ran on a table with ``columns``."""
    return [*columns, *[c for c in step.outputs if c not in columns]]


@dataclass(frozen=True)
class _Planned:
    """A step as the workers run it (decided on the driver by :func:`_plan`)."""

    fn: BatchFn
    name: str
    columns: tuple[str, ...]  # what its function sees
    outputs: tuple[str, ...]
    passed: frozenset[str]  # outputs a later step reads: cleaned as Spark would hand them over
    done: tuple[str, ...]  # working columns no later step reads: dropped after it


def _plan(
    columns: Sequence[str], steps: Sequence[Step], working: Sequence[str]
) -> tuple[list[_Planned], list[str]]:
    """Check every step's inputs against what the table and earlier steps provide.

    Returns the planned steps and the table columns the workers need.
    """
    available = list(columns)
    seen: list[tuple[str, ...]] = []
    needed: list[str] = []
    produced: set[str] = set()
    for step in steps:
        require_columns(available, step.inputs, step.name, step.hint)
        cols = tuple(dict.fromkeys([*step.inputs, *[c for c in step.optional if c in available]]))
        needed += [c for c in cols if c in columns and c not in produced]
        seen.append(cols)
        available = columns_after(available, step)
        produced |= set(step.outputs)
    planned = []
    for i, (step, cols) in enumerate(zip(steps, seen, strict=True)):
        later = {c for other in seen[i + 1 :] for c in other}
        read_here = set(cols) | set(step.outputs)
        done = [c for c in working if c in read_here and c not in later]
        passed = frozenset(c for c in step.outputs if c in later)
        planned.append(_Planned(step.fn, step.name, cols, step.outputs, passed, tuple(done)))
    return planned, list(dict.fromkeys(needed))


def apply_steps(
    batch: pd.DataFrame, steps: Sequence[_Planned], outputs: Sequence[str], ints: Sequence[str]
) -> pd.DataFrame:
    """Run the steps one after another on the clean rows of one batch (the worker side).

    Each step sees its own columns; what it returns is written into the same
    row dicts, so a later step reads it without a trip through Arrow.
    """
    rows = to_rows(batch, ints)
    for step in steps:
        out = list(step.fn([{c: row[c] for c in step.columns} for row in rows]))
        if len(out) != len(rows):
            raise RuntimeError(
                f"the {step.name} stage returned {len(out)} rows for a batch of {len(rows)}: "
                "every input row must produce exactly one output row"
            )
        for row, answer in zip(rows, out):
            for c in step.outputs:
                value = answer.get(c)
                row[c] = clean(value) if c in step.passed else value
            for c in step.done:  # photo bytes and copies go as soon as no step needs them
                row.pop(c, None)
        del out
    return typed_frame(rows, outputs)


def run_steps(df: DataFrame, steps: Sequence[Step], *, working: Sequence[str] = ()) -> DataFrame:
    """Append every step's outputs, the steps run one after another in ONE Python pass.

    Spark gives each pandas UDF its own Python worker and ships its columns
    through Arrow both ways; here the photos cross once: a later step reads
    the earlier steps' outputs from the same rows, and a column an earlier
    step adds satisfies a later step's inputs. ``working`` columns (the photo
    bytes, the shared decoded copy) are dropped on the worker as soon as no
    later step reads them and never come back to Spark. An output that is
    already a column of ``df`` replaces it in place.

    Example::

        df = run_steps(photos, [read_step(), decode_step(DecodeConfig())],
                       working=[S.CONTENT, S.READ_ERROR])
    """
    from pyspark.sql.types import IntegralType

    from crowdlens.spark.columns import add_columns

    steps = list(steps)
    if not steps:
        return df
    planned, inputs = _plan(df.columns, steps, working)
    ints = [c for c in inputs if isinstance(df.schema[c].dataType, IntegralType)]
    outputs = _outputs(steps, working)
    compute = partial(apply_steps, steps=planned, outputs=outputs, ints=ints)
    name = "_".join(s.name for s in steps)
    out = add_columns(df, compute, inputs, outputs, name=name)
    new = [c for c in outputs if c not in df.columns]
    return out.select(*df.columns, *new)


def _outputs(steps: Sequence[Step], working: Sequence[str]) -> list[str]:
    """The columns the steps give back to Spark (working columns stay on the worker)."""
    return [c for c in dict.fromkeys(c for s in steps for c in s.outputs) if c not in working]


def steps_in_process(
    columns: Sequence[str], steps: Sequence[Step], *, working: Sequence[str] = ()
) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """What a Python worker runs for :func:`run_steps`, to call on pandas batches here.

    For benchmarks that measure one worker without Spark. ``columns`` are the
    batch's; integer columns must already hold ints.

    Example::

        run = steps_in_process(S.INPUT_COLUMNS, per_photo_steps(...), working=S.PER_PHOTO_ONLY)
        rows = run(pd.DataFrame({S.IMAGE_ID: [...], S.PATH: [...], S.LABEL: [...]}))
    """
    steps = list(steps)
    planned, _ = _plan(columns, steps, working)
    return partial(apply_steps, steps=planned, outputs=_outputs(steps, working), ints=())


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
    """Append ``outputs`` computed by ``fn`` from batches of clean rows: one :class:`Step`.

    ``fn`` gets a list of rows (dicts of the ``inputs`` and of those
    ``optional`` columns ``df`` has) and returns one mapping per row; it must
    be picklable (a module-level function or a ``functools.partial`` of one).
    A missing input column fails here, on the driver, with ``hint`` as the fix.
    An output that is also an input replaces it in place.
    """
    step = Step(fn, tuple(inputs), tuple(outputs), name, tuple(optional), hint)
    return run_steps(df, [step])


def map_rows(
    df: DataFrame, fn: RowFn, inputs: Sequence[str], outputs: Sequence[str], **options: Any
) -> DataFrame:
    """Like :func:`map_batches` (same keyword ``options``) for ``fn(row) -> mapping``."""
    return map_batches(df, partial(each_row, fn=fn), inputs, outputs, **options)
