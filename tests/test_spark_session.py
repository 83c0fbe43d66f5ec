"""The Spark settings crowdlens gives a job: malloc and JVM settings that suit it."""

from __future__ import annotations

from crowdlens.config import SparkConfig
from crowdlens.spark.session import MALLOC_ONNX, MALLOC_TORCH, build_conf


def _malloc(conf: dict[str, str]) -> dict[str, str]:
    prefix = "spark.executorEnv."
    return {k[len(prefix) :]: v for k, v in conf.items() if k.startswith(prefix + "MALLOC_")}


def test_photo_jobs_give_heap_back_and_torch_jobs_keep_it():
    photos, torch = build_conf(SparkConfig()), build_conf(SparkConfig(), torch=True)
    assert _malloc(photos) == MALLOC_ONNX
    assert _malloc(torch) == MALLOC_TORCH
    # a worker gives heap back once 64 MB is free; PyTorch's never does
    assert int(MALLOC_ONNX["MALLOC_TRIM_THRESHOLD_"]) <= 64 << 20
    assert int(MALLOC_TORCH["MALLOC_TRIM_THRESHOLD_"]) >= 10**12
    for conf in (photos, torch):
        options = conf["spark.executor.extraJavaOptions"]
        assert "-XX:+UseSerialGC" in options and "log4j2.configurationFile" in options


def test_the_user_s_settings_win():
    mine = {
        "spark.executorEnv.MALLOC_TRIM_THRESHOLD_": "1",
        "spark.executor.extraJavaOptions": "-XX:+UseG1GC",
    }
    conf = build_conf(SparkConfig(conf=mine))
    assert conf["spark.executorEnv.MALLOC_TRIM_THRESHOLD_"] == "1"
    assert conf["spark.executor.extraJavaOptions"] == "-XX:+UseG1GC"
