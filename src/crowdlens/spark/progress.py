"""Progress of a running Spark job, from the driver's status tracker.

A bar on a terminal (tqdm), a log line every ``interval_log`` seconds
otherwise; counts tasks of the active stages, which is what Spark knows.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from pyspark import SparkContext

log = logging.getLogger(__name__)


class SparkProgress:
    """Context manager showing task progress while Spark jobs run.

    Example::

        with SparkProgress(spark.sparkContext, "moderate"):
            df.write.parquet(path)
    """

    def __init__(
        self, sc: SparkContext, desc: str, poll: float = 0.5, interval_log: float = 15.0
    ) -> None:
        self.sc = sc
        self.desc = desc
        self.poll = poll
        self.interval_log = interval_log
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen: dict[int, tuple[int, int]] = {}  # stage id -> (done, total)

    def _counts(self) -> tuple[int, int]:
        tracker = self.sc.statusTracker()
        for stage_id in tracker.getActiveStageIds():
            info = tracker.getStageInfo(stage_id)
            if info is not None:
                self._seen[stage_id] = (info.numCompletedTasks, info.numTasks)
        done = sum(d for d, _ in self._seen.values())
        total = sum(t for _, t in self._seen.values())
        return done, total

    def _run(self) -> None:
        bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            bar = tqdm(desc=self.desc, unit="task", total=0, file=sys.stderr, leave=False)
        last_log = time.monotonic()
        try:
            while not self._stop.wait(self.poll):
                try:
                    done, total = self._counts()
                except Exception:  # the context is stopping
                    return
                if bar is not None:
                    bar.total = total
                    bar.n = done
                    bar.refresh()
                elif total and time.monotonic() - last_log >= self.interval_log:
                    log.info("%s: %d/%d tasks done", self.desc, done, total)
                    last_log = time.monotonic()
        finally:
            if bar is not None:
                bar.close()

    def __enter__(self) -> SparkProgress:
        self._thread = threading.Thread(target=self._run, name="crowdlens-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
