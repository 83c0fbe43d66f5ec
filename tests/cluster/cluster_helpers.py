"""Helpers of the cluster tests: run the real CLI against the cluster, poll,
compare results tables.

The jobs run in ``crowdlens`` subprocesses (the command users run): a Python
process holds one SparkContext, and the test session's own ``local[2]``
session (the ``spark`` fixture) may already be up in this process.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crowdlens import schema as S

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "crowdlens"]

# Barrier jobs (TorchDistributor across executors) need every slot free; fail
# fast and retry the check every second instead of Spark's 15 s default.
BARRIER_CONF = (
    "spark.scheduler.barrier.maxConcurrentTasksCheck.maxFailures=1",
    "spark.scheduler.barrier.maxConcurrentTasksCheck.interval=1s",
)


def _env() -> dict[str, str]:
    return {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYTHONUNBUFFERED": "1"}


def run_cli(args: Sequence[str], *, timeout: float = 600) -> str:
    """Run ``crowdlens ARGS`` to completion; fail the test with its output if it fails."""
    proc = subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=timeout, cwd=REPO, env=_env()
    )
    if proc.returncode != 0:
        pytest.fail(
            f"crowdlens {' '.join(args)} exited with {proc.returncode}:\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
        )
    return proc.stdout


def start_cli(args: Sequence[str], log: Path) -> subprocess.Popen:
    """Start ``crowdlens ARGS`` in its own process group (so it can be killed whole)."""
    fh = open(log, "wb")  # noqa: SIM115 - closed by the child's exit; the test reads it
    return subprocess.Popen(
        [*CLI, *args],
        stdout=fh,
        stderr=subprocess.STDOUT,
        cwd=REPO,
        env=_env(),
        start_new_session=True,
    )


def rest(port: int, path: str) -> object:
    """GET from a driver's REST API (the UI's view of Spark's status store)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/{path}", timeout=5) as r:
        return json.load(r)


def wait_for(predicate, what: str, timeout: float, proc: subprocess.Popen | None = None):
    """Poll ``predicate`` until it returns something truthy; fail with ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the process ended (exit {proc.returncode}) before {what}")
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def executors_of(cluster: object, app_id: str | None = None) -> list[int]:
    """PIDs of the executor JVMs this cluster's workers run (for ``app_id`` only, if given).

    Read from /proc, not ``ps``: ``ps`` cuts command lines at 80 characters
    when it has no terminal (as under pytest), and an executor's class name
    comes after a long classpath. Executors are told apart from other
    clusters' by the worker URL (its port is in the master's status).
    """
    ports = {
        str(w["port"]) for w in cluster.state().get("workers", []) if w.get("state") == "ALIVE"
    }
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue  # ended meanwhile
        if "org.apache.spark.executor.CoarseGrainedExecutorBackend" not in args:
            continue
        opt = dict(itertools.pairwise(args))
        if opt.get("--worker-url", "").rsplit(":", 1)[-1] not in ports:
            continue
        if app_id is None or opt.get("--app-id") == app_id:
            found.append(int(proc.name))
    return sorted(found)


def _plain(value: object) -> object:
    """Arrays and nested rows as plain lists/dicts, so rows compare by value."""
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def results_table(path: str | Path) -> pd.DataFrame:
    """A results table sorted by image_id, without the per-run ``run_id``."""
    df = pd.read_parquet(path)
    assert df[S.IMAGE_ID].is_unique
    df = df.drop(columns=[S.RUN_ID]).sort_values(S.IMAGE_ID).reset_index(drop=True)
    return df[sorted(df.columns)]


def assert_same_results(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Same rows, same columns, same values (floats to 1e-6 relative)."""
    assert list(a.columns) == list(b.columns)
    assert a[S.IMAGE_ID].tolist() == b[S.IMAGE_ID].tolist()
    for col in a.columns:
        if pd.api.types.is_float_dtype(a[col]):
            np.testing.assert_allclose(
                a[col].to_numpy(), b[col].to_numpy(), rtol=1e-6, atol=1e-9, err_msg=col
            )
            continue
        left = [_plain(v) for v in a[col]]
        right = [_plain(v) for v in b[col]]
        diff = [i for i, (x, y) in enumerate(zip(left, right, strict=True)) if x != y]
        assert not diff, (
            f"column {col!r} differs in {len(diff)} rows, e.g. {a[S.IMAGE_ID][diff[0]]}: "
            f"{left[diff[0]]!r} != {right[diff[0]]!r}"
        )
