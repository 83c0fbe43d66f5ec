"""A real Spark standalone cluster on this machine, from the pyspark package.

Used by the ``cluster`` tests and the scaling benchmarks: a master and N
workers on 127.0.0.1, started with the package's own ``spark-class`` (the pip
package has no start-master.sh), stopped by PID.

Example::

    with StandaloneCluster(workers=2, cores=1, memory="2g") as cluster:
        spark = get_spark(SparkConfig(master=cluster.master_url))
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)


def spark_home() -> str:
    import pyspark

    return os.path.dirname(pyspark.__file__)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class StandaloneCluster:
    """Start a master and ``workers`` workers of ``cores`` cores each on 127.0.0.1."""

    workers: int = 2
    cores: int = 1
    memory: str = "2g"
    work_dir: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    start_timeout: float = 90.0
    # Pin worker i (and so its executors and Python workers, which inherit it) to
    # CPUs [i*cores, (i+1)*cores) modulo the machine's: "cores" then really bounds
    # what a worker uses, as on separate machines (Spark's cores are task slots,
    # and native libraries may start threads beyond them).
    pin_cpus: bool = False

    def __post_init__(self) -> None:
        self.port = free_port()
        self.ui_port = free_port()
        self.master_url = f"spark://127.0.0.1:{self.port}"
        self._procs: list[subprocess.Popen] = []
        self._logs: list[Path] = []
        self._tmp = None

    def _spawn(self, name: str, args: list[str], cpus: set[int] | None = None) -> subprocess.Popen:
        assert self.work_dir is not None
        logf = self.work_dir / f"{name}.log"
        self._logs.append(logf)
        env = {
            **os.environ,
            "SPARK_HOME": spark_home(),
            "SPARK_LOCAL_IP": "127.0.0.1",
            "PYSPARK_PYTHON": sys.executable,
            "SPARK_NO_DAEMONIZE": "1",
            **self.env,
        }
        cmd = [os.path.join(spark_home(), "bin", "spark-class"), *args]
        with open(logf, "wb") as fh:
            proc = subprocess.Popen(
                cmd,
                stdout=fh,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
            )
        self._procs.append(proc)
        return proc

    def state(self) -> dict:
        """The master's JSON status (workers, apps)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ui_port}/json/", timeout=5) as r:
            return json.load(r)

    def alive_workers(self) -> int:
        """Workers the master lists as ALIVE; 0 while it cannot answer yet.

        A master that is still starting can refuse the connection or answer
        with an empty or partial page (not JSON): both mean "not yet".
        """
        try:
            return sum(1 for w in self.state().get("workers", []) if w.get("state") == "ALIVE")
        except (OSError, ValueError):
            return 0

    def start(self) -> StandaloneCluster:
        if self.work_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="crowdlens-cluster-")
            self.work_dir = Path(self._tmp.name)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        try:  # whatever stops the start (an error, Ctrl-C) stops what it spawned
            self._spawn_all()
            self._wait_for_workers()
        except BaseException:
            self.stop()
            raise
        log.info("standalone cluster up: %s, %d workers", self.master_url, self.workers)
        return self

    def _spawn_all(self) -> None:
        assert self.work_dir is not None
        self._spawn(
            "master",
            [
                "org.apache.spark.deploy.master.Master",
                "--host", "127.0.0.1",
                "--port", str(self.port),
                "--webui-port", str(self.ui_port),
            ],
        )  # fmt: skip
        n_cpu = os.cpu_count() or 1
        for i in range(self.workers):
            wdir = self.work_dir / f"worker-{i}"
            wdir.mkdir(exist_ok=True)
            cpus = {(i * self.cores + k) % n_cpu for k in range(self.cores)}
            self._spawn(
                f"worker-{i}",
                [
                    "org.apache.spark.deploy.worker.Worker",
                    "--host", "127.0.0.1",
                    "--cores", str(self.cores),
                    "--memory", self.memory,
                    "--webui-port", str(free_port()),
                    "--work-dir", str(wdir),
                    self.master_url,
                ],
                cpus if self.pin_cpus else None,
            )  # fmt: skip

    def _wait_for_workers(self) -> None:
        """Return once every worker is ALIVE; raise with the logs if one exits or time runs out."""
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.alive_workers() == self.workers:
                return
            if any(p.poll() is not None for p in self._procs):
                break
            time.sleep(0.5)
        tail = "\n".join(p.read_text(errors="replace")[-2000:] for p in self._logs if p.exists())
        raise RuntimeError(f"standalone cluster did not start; logs:\n{tail}")

    def executor_pids(self) -> list[int]:
        """PIDs of the executor JVMs our workers launched (for fault tests)."""
        # -ww: the class name comes after a long classpath; without it ps cuts the line.
        out = subprocess.run(
            ["ps", "-ww", "-eo", "pid,ppid,args"], capture_output=True, text=True
        ).stdout
        workers = {p.pid for p in self._procs[1:]}
        pids = []
        for line in out.splitlines()[1:]:
            pid, ppid, args = line.split(None, 2)
            if "CoarseGrainedExecutorBackend" in args and int(ppid) in workers:
                pids.append(int(pid))
        return pids

    def stop(self) -> None:
        for proc in reversed(self._procs):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in self._procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        self._procs.clear()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> StandaloneCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
