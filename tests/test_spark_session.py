"""The Spark settings crowdlens gives a job: malloc and JVM settings that suit it."""

from __future__ import annotations

import pytest

from crowdlens.config import SparkConfig
from crowdlens.spark.session import MALLOC_ONNX, MALLOC_TORCH, build_conf


def _malloc(conf: dict[str, str]) -> dict[str, str]:
    prefix = "spark.executorEnv."
    return {
        k[len(prefix) :]: v
        for k, v in conf.items()
        if k.startswith((prefix + "MALLOC_", prefix + "GLIBC_"))
    }


def test_photo_jobs_give_heap_back_and_torch_jobs_keep_it():
    photos, torch = build_conf(SparkConfig()), build_conf(SparkConfig(), torch=True)
    assert _malloc(photos) == MALLOC_ONNX
    assert _malloc(torch) == MALLOC_TORCH
    # a worker gives heap back once 64 MB is free; PyTorch's never does
    assert int(MALLOC_ONNX["MALLOC_TRIM_THRESHOLD_"]) <= 64 << 20
    assert int(MALLOC_TORCH["MALLOC_TRIM_THRESHOLD_"]) >= 10**12
    # a photo's buffers (4 MB and more) are mapped, with transparent huge pages
    assert int(MALLOC_ONNX["MALLOC_MMAP_THRESHOLD_"]) <= 4 << 20
    assert "glibc.malloc.hugetlb=1" in MALLOC_ONNX["GLIBC_TUNABLES"]
    for conf in (photos, torch):
        options = conf["spark.executor.extraJavaOptions"]
        assert "-XX:+UseSerialGC" in options and "log4j2.configurationFile" in options
        assert "-Xms64m" in options and "-Xmx" not in options  # Spark sets the limit


def test_in_local_mode_the_driver_jvm_is_the_executor_and_gets_its_settings():
    local = build_conf(SparkConfig(master="local[2]"))["spark.driver.extraJavaOptions"]
    remote = build_conf(SparkConfig(master="spark://10.0.0.5:7077"))[
        "spark.driver.extraJavaOptions"
    ]
    assert "-XX:+UseSerialGC -Xms64m" in local and "log4j2.configurationFile" in local
    assert "UseSerialGC" not in remote and "log4j2.configurationFile" in remote


def test_the_user_s_settings_win():
    mine = {
        "spark.executorEnv.MALLOC_TRIM_THRESHOLD_": "1",
        "spark.executor.extraJavaOptions": "-XX:+UseG1GC",
    }
    conf = build_conf(SparkConfig(conf=mine))
    assert conf["spark.executorEnv.MALLOC_TRIM_THRESHOLD_"] == "1"
    assert conf["spark.executor.extraJavaOptions"] == "-XX:+UseG1GC"


@pytest.mark.spark
def test_python_workers_run_with_the_photo_jobs_settings(spark):
    """glibc reads them at process start: they must be in the workers' environment."""
    import os

    names = sorted(MALLOC_ONNX)

    def env(_):
        yield {name: os.environ.get(name) for name in names}

    seen = spark.sparkContext.parallelize(range(2), 2).mapPartitions(env).collect()
    assert seen == [MALLOC_ONNX, MALLOC_ONNX]
