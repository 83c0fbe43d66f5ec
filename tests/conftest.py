"""Shared fixtures: one real local[2] SparkSession for the whole test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data" / "grocery-store"
SAMPLE = REPO / "examples" / "sample"

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


@pytest.fixture(scope="session")
def spark():
    """A real Spark session in local mode with two cores."""
    from crowdlens.config import SparkConfig
    from crowdlens.spark.session import get_spark

    session = get_spark(
        SparkConfig(
            master="local[2]",
            app_name="crowdlens-tests",
            conf={"spark.sql.shuffle.partitions": "4"},
        )
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is not present (the project's shared data folder)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def grocery_model() -> Path:
    """The shipped grocery classifier, rebuilt from its head if set-up did not yet."""
    model = REPO / "models" / "grocery-lite0"
    if not (model / "model.onnx").is_file():
        from crowdlens.models.head_bundle import rebuild

        rebuild(model)
    return model
