"""The row layer: clean values in, schema-typed columns out, on real Spark."""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
import pytest

from crowdlens import schema as S
from crowdlens.errors import CrowdlensError
from crowdlens.spark.rows import (
    Step,
    clean,
    map_batches,
    map_rows,
    row_step,
    run_steps,
    steps_in_process,
    to_rows,
    typed_frame,
)
from crowdlens.spark.worker import per_worker


def test_clean_turns_pandas_and_numpy_values_into_plain_python():
    assert clean(float("nan")) is None and clean(pd.NA) is None and clean(pd.NaT) is None
    assert clean(np.array([1.5, 2.0], dtype=np.float32)) == [1.5, 2.0]
    nested = np.array([{"label": "a", "score": np.float32(0.5)}], dtype=object)
    assert clean(nested) == [{"label": "a", "score": 0.5}]
    assert type(clean(np.int64(3))) is int and clean(np.bool_(False)) is False
    assert clean(b"\xff\xd8") == b"\xff\xd8"


def test_to_rows_gives_ints_back_to_integer_columns():
    batch = pd.DataFrame({S.WIDTH: [640.0, np.nan], S.STATUS: ["ok", None]})
    rows = to_rows(batch, ints=[S.WIDTH])
    assert rows == [{S.WIDTH: 640, S.STATUS: "ok"}, {S.WIDTH: None, S.STATUS: None}]
    assert type(rows[0][S.WIDTH]) is int


def test_typed_frame_types_columns_from_the_schema():
    out = typed_frame(
        [{S.WIDTH: 3, S.PRED_SCORE: 0.5, S.HAS_TEXT: True}, {S.QUALITY_FLAGS: ["blurry"]}],
        [S.WIDTH, S.PRED_SCORE, S.HAS_TEXT, S.QUALITY_FLAGS],
    )
    assert [str(t) for t in out.dtypes] == ["Int32", "Float32", "boolean", "object"]
    assert out[S.WIDTH].isna().tolist() == [False, True]  # a missing key is a null
    with pytest.raises(KeyError):
        typed_frame([{}], ["not_a_column"])


def test_map_rows_on_spark_sees_clean_rows_and_writes_schema_types(spark):
    # Defined inside the test: cloudpickle ships it by value to the workers,
    # which cannot import test modules.
    def _describe(row: dict) -> dict:
        flags = row[S.QUALITY_FLAGS]
        return {
            S.SHORT_SIDE: None if row[S.WIDTH] is None else row[S.WIDTH] // 2,
            S.DECISION: f"{type(row[S.WIDTH]).__name__}/{type(flags).__name__}",
        }

    df = spark.createDataFrame(
        [("a", 640, ["blurry"]), ("b", None, None)],
        f"{S.IMAGE_ID} string, {S.WIDTH} int, {S.QUALITY_FLAGS} array<string>",
    )
    out = map_rows(df, _describe, [S.WIDTH, S.QUALITY_FLAGS], [S.SHORT_SIDE, S.DECISION], name="t")
    assert out.columns == [S.IMAGE_ID, S.WIDTH, S.QUALITY_FLAGS, S.SHORT_SIDE, S.DECISION]
    assert dict(out.dtypes)[S.SHORT_SIDE] == "int"
    got = {r[S.IMAGE_ID]: r for r in out.collect()}
    assert (got["a"][S.SHORT_SIDE], got["a"][S.DECISION]) == (320, "int/list")
    assert (got["b"][S.SHORT_SIDE], got["b"][S.DECISION]) == (None, "NoneType/NoneType")


def test_a_missing_input_column_fails_on_the_driver_with_the_fix(spark):
    df = spark.createDataFrame([("a",)], f"{S.IMAGE_ID} string")
    with pytest.raises(CrowdlensError, match=r"needs the columns \['width'\].*decode first"):
        map_rows(df, dict, [S.WIDTH], [S.SHORT_SIDE], name="t", hint="decode first")


def test_a_stage_that_loses_rows_fails_with_an_exact_message(spark):
    def _drop_one(rows: list[dict]) -> list[dict]:
        return rows[1:]

    df = spark.createDataFrame([("a",), ("b",)], f"{S.IMAGE_ID} string").coalesce(1)
    out = map_batches(df, _drop_one, [S.IMAGE_ID], [S.DECISION], name="lossy")
    with pytest.raises(Exception, match="returned 1 rows for a batch of 2"):
        out.collect()


def test_per_worker_builds_once_per_key_and_forgets_the_oldest():
    built: list[tuple] = []

    @per_worker(maxsize=2)
    def load(name: str, threads: int) -> object:
        built.append((name, threads))
        return object()

    assert load("a", 1) is load("a", 1)
    load("b", 1)
    load("c", 1)  # evicts ("a", 1), the least recently used
    assert len(load) == 2
    load("a", 1)
    assert built == [("a", 1), ("b", 1), ("c", 1), ("a", 1)]
    with pytest.raises(ValueError, match="maxsize"):
        per_worker(maxsize=0)(partial(load, "x"))


def test_run_steps_feeds_later_steps_in_one_pass_and_keeps_working_columns_inside(spark):
    # Step functions defined here ship by value to the workers (see above).
    def _bytes(rows: list[dict]) -> list[dict]:
        return [{S.CONTENT: r[S.IMAGE_ID].encode() * 3, S.WIDTH: 2} for r in rows]

    def _size(rows: list[dict]) -> list[dict]:
        # Sees only its own columns: the image id is not among them.
        return [
            {S.FILE_SIZE: len(r[S.CONTENT]) * r[S.WIDTH], S.DECISION: ",".join(sorted(r))}
            for r in rows
        ]

    df = spark.createDataFrame([("ab",), ("xyz",)], f"{S.IMAGE_ID} string")
    steps = [
        Step(_bytes, (S.IMAGE_ID,), (S.CONTENT, S.WIDTH), "make"),
        # CONTENT and WIDTH are not columns of df: the step before provides them.
        Step(_size, (S.CONTENT, S.WIDTH), (S.FILE_SIZE, S.DECISION), "size"),
    ]
    out = run_steps(df, steps, working=[S.CONTENT])
    assert out.columns == [S.IMAGE_ID, S.WIDTH, S.FILE_SIZE, S.DECISION]  # no CONTENT
    got = {r[S.IMAGE_ID]: r for r in out.collect()}
    assert got["ab"][S.FILE_SIZE] == 12 and got["xyz"][S.FILE_SIZE] == 18
    assert got["ab"][S.DECISION] == f"{S.CONTENT},{S.WIDTH}"
    # The same steps one UDF each give the same rows.
    staged = run_steps(run_steps(df, steps[:1]), steps[1:]).drop(S.CONTENT)
    assert sorted(staged.collect()) == sorted(out.collect())
    # What a worker runs, called here on a pandas batch (benchmarks/worker_memory.py):
    # the same output columns and values, without the working column.
    here = steps_in_process([S.IMAGE_ID], steps, working=[S.CONTENT])(
        pd.DataFrame({S.IMAGE_ID: ["ab", "xyz"]})
    )
    assert list(here.columns) == [S.WIDTH, S.FILE_SIZE, S.DECISION]
    assert here[S.FILE_SIZE].tolist() == [12, 18]
    assert here[S.DECISION].tolist() == [got["ab"][S.DECISION], got["xyz"][S.DECISION]]


def test_run_steps_refuses_on_the_driver_what_no_step_provides(spark):
    df = spark.createDataFrame([("a",)], f"{S.IMAGE_ID} string")
    steps = [
        row_step(dict, [S.IMAGE_ID], [S.CONTENT], name="make"),
        row_step(dict, [S.CONTENT, S.WIDTH], [S.FILE_SIZE], name="size", hint="decode first"),
    ]
    with pytest.raises(CrowdlensError, match=r"size stage needs the columns \['width'\].*decode"):
        run_steps(df, steps)
    # Order matters: a step cannot read what a later step adds.
    with pytest.raises(CrowdlensError, match=r"size stage needs the columns \['content', 'width'"):
        run_steps(df, steps[::-1])


def test_a_step_output_reaches_later_steps_as_spark_would_hand_it_over(spark):
    def _vector(rows: list[dict]) -> list[dict]:
        return [{S.LOGITS: np.array([0.5, 1.5], dtype=np.float32)} for _ in rows]

    def _kind(rows: list[dict]) -> list[dict]:
        return [{S.DECISION: type(r[S.LOGITS]).__name__} for r in rows]

    df = spark.createDataFrame([("a",)], f"{S.IMAGE_ID} string")
    steps = [
        Step(_vector, (S.IMAGE_ID,), (S.LOGITS,), "vector"),
        Step(_kind, (S.LOGITS,), (S.DECISION,), "kind"),
    ]
    fused = run_steps(df, steps).collect()[0]
    staged = run_steps(run_steps(df, steps[:1]), steps[1:]).collect()[0]
    assert fused[S.DECISION] == staged[S.DECISION] == "list"
