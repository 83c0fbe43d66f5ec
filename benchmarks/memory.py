"""Peak executor memory at 1x and 10x the photos: it must stay flat.

    python benchmarks/memory.py            # the 296 val photos, then 10 copies (2,960)
    python benchmarks/memory.py --quick    # 60 photos, then 10 copies (600)
    python benchmarks/memory.py --photos 100 --times 20

Executors stream partitions (bytes are read, decoded and dropped photo by
photo inside a partition; only light rows are kept) and the driver never
collects photos, so the memory an executor needs depends on the partition
size and the models, not on how many photos a job has. This measures it: a
standalone cluster with one 1-core worker runs ``crowdlens moderate`` (quality,
duplicates, model, validation; text off) on a manifest of N photos, then on
a manifest repeating them ``--times`` times with distinct image_ids. A
sampler reads the resident memory (RSS, from /proc) of the executor JVM plus
all its Python workers every 0.2 s; the peak of the sum is reported, and the
driver's (the ``crowdlens`` process and its JVM) beside it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scaling import CLI, REPO, photos_of, warm_up, write_config, write_manifest

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    out = subprocess.run(["ps", "-eo", "pid,ppid"], capture_output=True, text=True).stdout
    children: dict[int, list[int]] = {}
    for line in out.splitlines()[1:]:
        p, pp = map(int, line.split())
        children.setdefault(pp, []).append(p)
    found, todo = [pid], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            found.append(c)
            todo.append(c)
    return found


def rss_mb(pids: Sequence[int]) -> float:
    """The summed resident memory of ``pids``: a page two of them share counts twice."""
    return summed_mb(pids, "/proc/{}/status", "VmRSS:")


def pss_mb(pids: Sequence[int]) -> float:
    """The summed proportional memory of ``pids``: a shared page (libraries, the
    page cache of mapped files) is split between the processes that map it, so
    this is what the processes hold together, each page once."""
    return summed_mb(pids, "/proc/{}/smaps_rollup", "Pss:")


def summed_mb(pids: Sequence[int], path: str, key: str) -> float:
    """The sum over ``pids`` of the ``key`` line (in kB) of ``path`` (``{}``: the pid), in MB."""
    total = 0
    for pid in pids:
        try:
            with open(path.format(pid)) as f:
                for line in f:
                    if line.startswith(key):
                        total += int(line.split()[1])
                        break
        except OSError:
            continue  # the process ended between ps and now
    return total / 1024


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds ``pid`` has used so far (None once it has ended)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class PeakSampler(threading.Thread):
    """Peak memory of each executor (its JVM + its Python workers) and of the driver tree.

    ``executor_peak`` is the largest resident memory (RSS) any one executor's
    processes held together, ``executor_peak_pss`` the same in proportional
    memory (shared pages once), ``jvm_peak`` / ``python_peak`` the largest
    single executor JVM / Python process. It also keeps the last CPU time
    seen of every executor process, so ``executor_cpu_s`` is the CPU the
    executors used for the job (up to one sampling interval of a process
    that ends): unlike wall time, it does not grow when other jobs share the
    machine; ``jvms`` are the executor JVMs' pids (their share of it).
    """

    def __init__(self, cluster: object, driver_pid: int, every: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.cluster, self.driver_pid, self.every = cluster, driver_pid, every
        self.executor_peak = self.executor_peak_pss = self.driver_peak = 0.0
        self.jvm_peak = self.python_peak = 0.0
        self.samples = 0
        self.cpu: dict[int, float] = {}
        self.jvms: set[int] = set()
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            for jvm in self.cluster.executor_pids():
                procs = tree(jvm)  # the JVM first, then its Python processes
                self.jvms.add(jvm)
                rss = [rss_mb([p]) for p in procs]
                self.executor_peak = max(self.executor_peak, sum(rss))
                self.executor_peak_pss = max(self.executor_peak_pss, pss_mb(procs))
                self.jvm_peak = max(self.jvm_peak, rss[0])
                self.python_peak = max([self.python_peak, *rss[1:]])
                self.samples += 1
                for pid in procs:
                    used = cpu_seconds(pid)
                    if used is not None:
                        self.cpu[pid] = max(self.cpu.get(pid, 0.0), used)
            self.driver_peak = max(self.driver_peak, rss_mb(tree(self.driver_pid)))
            self._done.wait(self.every)

    def stop(self) -> None:
        self._done.set()
        self.join()


def measure(cluster: object, manifest: Path, config: Path, out: Path) -> dict[str, Any]:
    """One ``crowdlens moderate`` on ``cluster``: peak memory, wall time and its stdout."""
    cmd = [*CLI, "moderate", str(manifest), "--out", str(out), "--overwrite",
           "--config", str(config), "--master", cluster.master_url]  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO
    )
    sampler = PeakSampler(cluster, proc.pid)
    sampler.start()
    stdout, stderr = proc.communicate()
    sampler.stop()
    if proc.returncode != 0:
        sys.exit(f"moderate failed:\n{stdout[-2000:]}{stderr[-4000:]}")
    if not sampler.samples:
        sys.exit("no executor process was seen while the job ran: nothing was measured")
    return {
        "executor_peak_mb": sampler.executor_peak,
        "executor_peak_pss_mb": sampler.executor_peak_pss,
        "jvm_peak_mb": sampler.jvm_peak,
        "python_peak_mb": sampler.python_peak,
        "executor_cpu_s": sum(sampler.cpu.values()),
        "executor_jvm_cpu_s": sum(sampler.cpu.get(pid, 0.0) for pid in sampler.jvms),
        "driver_peak_mb": sampler.driver_peak,
        "samples": sampler.samples,
        "wall_s": time.perf_counter() - t0,
        "stdout": stdout,
    }


def main(argv: Sequence[str] | None = None) -> None:
    from crowdlens.spark.standalone import StandaloneCluster

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="60 photos x 1 and x 10")
    ap.add_argument("--photos", type=int, help="photos at 1x (default: all 296 val photos)")
    ap.add_argument("--times", type=int, default=10, help="the larger run repeats them N times")
    ap.add_argument("--per-partition", type=int, default=64, help="photos per partition")
    args = ap.parse_args(argv)
    n = args.photos or (60 if args.quick else 296)

    with tempfile.TemporaryDirectory(prefix="crowdlens-memory-") as tmp:
        work = Path(tmp)
        photos = photos_of("val", n)
        warm_up(photos)
        config = write_config(work / "c.toml", text=False, per_partition=args.per_partition)
        small = write_manifest(photos, work / "x1.csv")
        large = write_manifest(photos, work / f"x{args.times}.csv", copies=args.times)
        with StandaloneCluster(workers=1, cores=1, memory="3g") as cluster:
            r1 = measure(cluster, small, config, work / "out1")
            rn = measure(cluster, large, config, work / "outn")

    print("\npeak memory, 1 worker x 1 core, moderate (text off), RSS sampled every 0.2 s")
    print(f"{'photos':>8}{'executor MB':>14}{'PSS MB':>9}{'JVM MB':>9}{'Python MB':>11}"
          f"{'driver MB':>12}{'wall s':>9}")  # fmt: skip
    for k, r in ((n, r1), (n * args.times, rn)):
        print(f"{k:>8}{r['executor_peak_mb']:>14.0f}{r['executor_peak_pss_mb']:>9.0f}"
              f"{r['jvm_peak_mb']:>9.0f}{r['python_peak_mb']:>11.0f}"
              f"{r['driver_peak_mb']:>12.0f}{r['wall_s']:>9.0f}")  # fmt: skip
    print(
        f"ratio {args.times}x / 1x: executor {rn['executor_peak_mb'] / r1['executor_peak_mb']:.2f}, "
        f"driver {rn['driver_peak_mb'] / r1['driver_peak_mb']:.2f} (flat = about 1)"
    )


if __name__ == "__main__":
    main()
