"""The one place a SparkSession is built.

``local[*]`` by default; any master URL and any ``--conf`` for a cluster.
Arrow is on, Arrow batches are sized for photos, logs are quiet (our own
log4j2 configuration, so no JVM noise on a normal run), and executors get
malloc and JVM settings that suit the job: a lean heap for the photo jobs
(ONNX Runtime), a kept heap for PyTorch training on the executors.
"""

from __future__ import annotations

import logging
import os
import sys
from importlib import resources
from typing import TYPE_CHECKING

from crowdlens.config import SparkConfig
from crowdlens.errors import CrowdlensError

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

# glibc returning memory to the OS after every large free makes eager PyTorch
# 2-2.5x slower on this kind of machine (measured, see docs/benchmarks.md): a
# job that trains with PyTorch on the executors keeps its heap.
MALLOC_TORCH = {
    "MALLOC_MMAP_THRESHOLD_": "33554432",
    "MALLOC_TRIM_THRESHOLD_": "1000000000000",
    "MALLOC_TOP_PAD_": "1000000000",
}
# The photo jobs run ONNX Runtime and Pillow on 12 MP photos: every buffer of
# 4 MB or more (a decoded photo, a detector's feature maps) is mapped and
# unmapped instead of fragmenting the heap, mapped buffers get transparent
# huge pages (so mapping them costs no more CPU than reusing heap did), and
# the heap goes back to the system once more than 64 MB of it is free. A text
# worker then peaks ~110 MB lower and barely grows after its first Arrow
# batch (docs/benchmarks.md, "Memory per executor").
MALLOC_ONNX = {
    "MALLOC_MMAP_THRESHOLD_": "4194304",
    "MALLOC_TRIM_THRESHOLD_": "67108864",
    "MALLOC_TOP_PAD_": "16777216",
    "GLIBC_TUNABLES": "glibc.malloc.hugetlb=1",
}
# The executor JVM only moves paths and light rows: the serial collector
# keeps it at ~450 MB instead of ~820 MB with G1, and a heap that starts at
# 64 MB (instead of 1/64 of the machine's memory) and grows as needed holds
# it 30-80 MB lower with 12 MP photos, for 2-5 CPU s more per job in the JVM
# (docs/benchmarks.md). The heap limit stays Spark's (spark.executor.memory).
EXECUTOR_JAVA_OPTIONS = "-XX:+UseSerialGC -Xms64m"

DEFAULT_CONF = {
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # The per-photo stages run in one Python pass over each Arrow batch, so a
    # batch is how many photos (bytes and decoded copy) a Python worker holds
    # at once: 16 keeps executor memory flatter than 64 at the same CPU per
    # photo (docs/benchmarks.md, "One Python pass").
    "spark.sql.execution.arrow.maxRecordsPerBatch": "16",
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.showConsoleProgress": "false",
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.adaptive.enabled": "true",
    "spark.python.worker.reuse": "true",
    # Faster JVM start-up for short jobs (11 s instead of 15 s here).
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1",
    "spark.task.maxFailures": "4",
}


def java_version() -> int | None:
    """The major version of the ``java`` on PATH (or JAVA_HOME), or None."""
    import re
    import shutil
    import subprocess

    java = (
        os.path.join(os.environ["JAVA_HOME"], "bin", "java") if "JAVA_HOME" in os.environ else None
    )
    java = java if java and os.path.exists(java) else shutil.which("java")
    if not java:
        return None
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2)) if major == 1 and m.group(2) else major


def require_java() -> None:
    version = java_version()
    if version is None:
        raise CrowdlensError(
            "Java was not found. Spark needs Java 17 or newer: install it "
            "(Debian/Ubuntu: sudo apt-get install openjdk-17-jre-headless) or set JAVA_HOME."
        )
    if version < 17:
        raise CrowdlensError(
            f"Java {version} was found, Spark 4 needs Java 17 or newer: install "
            "openjdk-17-jre-headless (or newer) and set JAVA_HOME to it."
        )


def _log4j_file() -> str:
    return str(resources.files("crowdlens.spark").joinpath("log4j2.properties"))


def is_local(master: str) -> bool:
    return master.startswith("local") or "127.0.0.1" in master or "localhost" in master


def malloc_env(torch: bool) -> dict[str, str]:
    """glibc's malloc settings for executors: PyTorch training's, or the photo jobs'."""
    return MALLOC_TORCH if torch else MALLOC_ONNX


def build_conf(cfg: SparkConfig, torch: bool = False) -> dict[str, str]:
    """The Spark configuration crowdlens uses: defaults, then the user's.

    ``torch``: the job trains with PyTorch on the executors (their heap is kept).
    """
    conf = dict(DEFAULT_CONF)
    log4j = f"-Dlog4j2.configurationFile=file:{_log4j_file()}"
    conf["spark.driver.extraJavaOptions"] += f" {log4j}"
    conf["spark.executor.extraJavaOptions"] = f"{log4j} {EXECUTOR_JAVA_OPTIONS}"
    if cfg.master.startswith("local"):
        # In local mode the driver JVM is the executor: the same settings hold
        # a text job on 12 MP photos ~200 MB lower (docs/benchmarks.md).
        conf["spark.driver.extraJavaOptions"] += f" {EXECUTOR_JAVA_OPTIONS}"
    for k, v in malloc_env(torch).items():
        conf[f"spark.executorEnv.{k}"] = v
    conf.update(cfg.conf)
    return conf


def get_spark(cfg: SparkConfig | None = None, *, torch: bool = False) -> SparkSession:
    """Build (or reuse) the SparkSession for ``cfg``.

    ``torch=True`` for jobs that train with PyTorch on the executors
    (finetune, scratch): they keep their heap (:data:`MALLOC_TORCH`).

    Example::

        spark = get_spark(SparkConfig(master="spark://10.0.0.5:7077",
                                      conf={"spark.executor.memory": "4g"}))
    """
    cfg = cfg or SparkConfig()
    require_java()
    if is_local(cfg.master):
        # Otherwise Spark picks another interface and warns about it.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    for k, v in malloc_env(torch).items():
        os.environ.setdefault(k, v)  # python workers of a local master inherit these

    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(cfg.master).appName(cfg.app_name)
    for k, v in build_conf(cfg, torch).items():
        builder = builder.config(k, v)
    log.info("starting Spark (master %s)", cfg.master)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # the JVM's own message is long; keep the first line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CrowdlensError(
            f"Spark could not start with master {cfg.master!r}: {first}. "
            "Check the master URL and that the cluster is reachable."
        ) from None
    spark.sparkContext.setLogLevel(cfg.log_level.upper())
    return spark


def default_partitions(spark: SparkSession, n_rows: int, per_partition: int) -> int:
    """Partitions sized to the data: enough for every core, ~per_partition photos each."""
    cores = max(1, spark.sparkContext.defaultParallelism)
    by_size = -(-n_rows // per_partition)
    return max(1, min(max(by_size, cores), max(n_rows, 1)))
