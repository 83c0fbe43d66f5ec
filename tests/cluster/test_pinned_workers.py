"""``StandaloneCluster(pin_cpus=True)``: a worker's executors and Python workers
run on the worker's own CPUs only (what the scaling benchmark relies on to
stand in for separate one-core machines)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from crowdlens.spark.standalone import StandaloneCluster

pytestmark = [pytest.mark.cluster, pytest.mark.spark, pytest.mark.slow]

# Runs in its own process: this one may already hold the local[2] SparkContext.
JOB = """
import json, os, sys
from pyspark.sql import SparkSession
spark = SparkSession.builder.master(sys.argv[1]).config("spark.ui.enabled", "false").getOrCreate()
cpus = spark.sparkContext.parallelize(range(8), 8).map(
    lambda _: sorted(os.sched_getaffinity(0))).collect()
print(json.dumps(sorted({tuple(c) for c in cpus})))
spark.stop()
"""


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs two CPUs to tell pinned from not")
def test_each_workers_python_tasks_run_on_its_own_cpu():
    with StandaloneCluster(workers=2, cores=1, memory="1g", pin_cpus=True) as cluster:
        out = subprocess.run(
            [sys.executable, "-c", JOB, cluster.master_url],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"},
        )
    assert out.returncode == 0, out.stderr[-3000:]
    seen = {tuple(c) for c in json.loads(out.stdout.strip().splitlines()[-1])}
    # Unpinned, every task would see all CPUs; pinned, one CPU each: worker i on CPU i.
    assert seen and seen <= {(0,), (1,)}
