"""Reviewers' decisions, durably: SQLite, one transaction per decision.

Every decision is appended (the history is kept); the latest one per photo
counts. The file lives next to the results (``DIR/review.sqlite``), which are
never modified.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from crowdlens.errors import CrowdlensError

ACTIONS = ("accept", "reject", "relabel")
DB_NAME = "review.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    image_id TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('accept', 'reject', 'relabel')),
    label TEXT,
    decided_at TEXT NOT NULL,
    CHECK (action != 'relabel' OR (label IS NOT NULL AND label != ''))
);
CREATE INDEX IF NOT EXISTS decisions_image ON decisions (image_id, seq);
"""


@dataclass(frozen=True)
class Decision:
    image_id: str
    action: str
    label: str | None
    decided_at: str


class DecisionStore:
    """Append-only decisions in a SQLite file, safe to share between server threads.

    Example::

        store = DecisionStore("out/run1/review.sqlite")
        store.record("img001", "relabel", "Pear")
        store.latest()["img001"].label  # 'Pear'
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            # FULL: a decision acknowledged to the browser survives a power cut.
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise CrowdlensError(
                f"Cannot open the review database {str(self.path)!r}: {exc}. "
                "Check that the results folder is writable."
            ) from None

    def record(self, image_id: str, action: str, label: str | None = None) -> Decision:
        """Store one decision in its own transaction and return it."""
        if action not in ACTIONS:
            raise ValueError(f"action must be one of {', '.join(ACTIONS)}, got {action!r}")
        if action == "relabel" and not label:
            raise ValueError("a relabel decision needs the new label")
        when = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        label = label if action == "relabel" else None
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute(
                    "INSERT INTO decisions (image_id, action, label, decided_at) VALUES (?, ?, ?, ?)",
                    (image_id, action, label, when),
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return Decision(image_id, action, label, when)

    def latest(self) -> dict[str, Decision]:
        """The latest decision of every reviewed photo."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT image_id, action, label, decided_at FROM decisions WHERE seq IN "
                "(SELECT MAX(seq) FROM decisions GROUP BY image_id)"
            ).fetchall()
        return {r[0]: Decision(*r) for r in rows}

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()
