"""Reviewers and their decisions, durably: SQLite (WAL), one transaction per request.

The decision log is append-only: every decision is a row with its reviewer,
time, batch and the reviewer's previous value for that photo (the audit
trail). Each reviewer's latest decision per photo counts; two reviewers who
disagree make a conflict (see :mod:`crowdlens.review.agreement`), nothing is
overwritten. ``pending`` takes a photo back (undo appends it too). Reviewers
sign in with their own token; only its SHA-256 is stored. The file lives
next to the results (``DIR/review.sqlite``), which are never modified.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from crowdlens import schema as S
from crowdlens.errors import CrowdlensError

ACTIONS = S.REVIEW_ACTIONS
DB_NAME = "review.sqlite"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,39}$")


def sql_text(value: str) -> str:
    """A string as an SQL literal (quotes doubled).

    >>> sql_text("it's")
    "'it''s'"
    """
    return "'" + value.replace("'", "''") + "'"


def schema_sql(actions: Sequence[str] = ACTIONS, relabel: str = S.REVIEW_RELABEL) -> str:
    """The tables, their CHECKs built from the schema's review vocabulary.

    The log refuses any action the schema does not name. (SQLite keeps a
    table's CHECKs from its creation: a file made before an action was added
    refuses it until the table is rebuilt.)
    """
    return f"""
CREATE TABLE IF NOT EXISTS review_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    batch INTEGER NOT NULL,
    image_id TEXT NOT NULL,
    reviewer TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ({", ".join(map(sql_text, actions))})),
    label TEXT,
    prev_action TEXT,
    prev_label TEXT,
    decided_at TEXT NOT NULL,
    CHECK (action != {sql_text(relabel)} OR (label IS NOT NULL AND label != ''))
);
CREATE INDEX IF NOT EXISTS review_log_batch ON review_log (batch);
CREATE INDEX IF NOT EXISTS review_log_image ON review_log (image_id, seq);
CREATE TABLE IF NOT EXISTS reviewers (
    name TEXT PRIMARY KEY,
    token_sha256 TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS new_items (
    label TEXT PRIMARY KEY,
    reviewer TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""


_COLUMNS = "seq, batch, image_id, reviewer, action, label, prev_action, prev_label, decided_at"


@dataclass(frozen=True)
class Decision:
    """One row of the decision log."""

    seq: int
    batch: int
    image_id: str
    reviewer: str
    action: str
    label: str | None
    prev_action: str | None
    prev_label: str | None
    decided_at: str

    def public(self) -> dict[str, object]:
        return {
            "reviewer": self.reviewer,
            "action": self.action,
            "label": self.label,
            "decided_at": self.decided_at,
        }


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class DecisionStore:
    """Reviewers, new items and the decision log in one SQLite file, shared by threads.

    The current state (each reviewer's latest decision per photo) is kept in
    memory and reloaded when another process wrote to the file.

    Example::

        store = DecisionStore("out/run1/review.sqlite")
        token = store.add_reviewer("alice")
        batch, _ = store.record([("img001", "relabel", "Pear")], "alice")
        store.current()["img001"]["alice"].label  # 'Pear'
        store.undo(batch, "alice")
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._state: dict[str, dict[str, Decision]] = {}
        self._reviewers: dict[str, str] = {}  # token hash -> name
        self._items: list[str] = []
        self._version = -1
        self.changes = 0  # grows with every change of the live state (a cache key)
        try:
            self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            # FULL: a decision acknowledged to the browser survives a power cut.
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.executescript(schema_sql())
            self._migrate_v1()
        except sqlite3.Error as exc:
            raise CrowdlensError(
                f"Cannot open the review database {str(self.path)!r}: {exc}. "
                "Check that the folder is writable."
            ) from None

    def _migrate_v1(self) -> None:
        """Decisions of the single-token version (table ``decisions``) join the log once."""
        old = self._conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name='decisions'"
        ).fetchone()
        done = self._conn.execute("SELECT COUNT(*) FROM review_log").fetchone()[0]
        if old and not done:
            self._conn.execute(
                "INSERT INTO review_log (batch, image_id, reviewer, action, label, decided_at) "
                "SELECT seq, image_id, 'reviewer', action, label, decided_at FROM decisions "
                "ORDER BY seq"
            )

    # --- state ------------------------------------------------------------

    def _refresh(self) -> None:
        """Reload the in-memory state if another connection committed since."""
        version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        if version == self._version:
            return
        self._version = version
        self._state = {}
        self.changes += 1
        for row in self._conn.execute(f"SELECT {_COLUMNS} FROM review_log ORDER BY seq"):
            self._apply(Decision(*row))
        self._reviewers = dict(self._conn.execute("SELECT token_sha256, name FROM reviewers"))
        self._items = [r[0] for r in self._conn.execute("SELECT label FROM new_items")]

    def _apply(self, d: Decision) -> None:
        # Copy on write: a snapshot handed out earlier never changes under its reader.
        per = dict(self._state.get(d.image_id, {}))
        if d.action == S.REVIEW_PENDING:
            per.pop(d.reviewer, None)
        else:
            per[d.reviewer] = d
        if per:
            self._state[d.image_id] = per
        else:
            self._state.pop(d.image_id, None)
        self.changes += 1

    def current(self) -> dict[str, dict[str, Decision]]:
        """Each photo's live decisions, by reviewer (a photo nobody decided is absent).

        A snapshot: later decisions do not change it. Treat it as read-only
        (the inner dicts are shared with the store, which never mutates them).
        """
        with self._lock:
            self._refresh()
            return dict(self._state)

    def snapshot(self) -> tuple[int, dict[str, dict[str, Decision]]]:
        """``(change counter, current())`` read together, for caching derived figures."""
        with self._lock:
            self._refresh()
            return self.changes, dict(self._state)

    def of(self, image_id: str) -> dict[str, Decision]:
        with self._lock:
            self._refresh()
            return dict(self._state.get(image_id, {}))

    # --- reviewers and items ------------------------------------------------

    def add_reviewer(self, name: str, *, replace: bool = False, token: str | None = None) -> str:
        """Create reviewer ``name`` (or give it a new token) and return the token.

        ``token`` sets a chosen token instead of a new random one.
        """
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise CrowdlensError(
                f"The reviewer name must be 1-40 letters, digits, '.', '_', '@' or '-', "
                f"starting with a letter or digit. Got {name!r}."
            )
        token = token or secrets.token_urlsafe(24)
        with self._lock:
            exists = self._conn.execute(
                "SELECT 1 FROM reviewers WHERE name = ?", (name,)
            ).fetchone()
            if exists and not replace:
                raise CrowdlensError(
                    f"Reviewer {name!r} exists already; pass --new-token to give them a new "
                    "token (the old one stops working)."
                )
            self._conn.execute(
                "INSERT INTO reviewers (name, token_sha256, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET token_sha256 = excluded.token_sha256",
                (name, token_hash(token), _now()),
            )
            self._version = -1
        return token

    def reviewer_for(self, token: str) -> str | None:
        """The reviewer whose token this is, or None."""
        if not token:
            return None
        with self._lock:
            self._refresh()
            return self._reviewers.get(token_hash(token))

    def reviewers(self) -> list[str]:
        with self._lock:
            self._refresh()
            return sorted(self._reviewers.values())

    def add_item(self, label: str, reviewer: str) -> None:
        """Register a new item name (a reviewer's explicit 'new item' action)."""
        with self._lock:
            self._conn.execute(
                "INSERT OR IGNORE INTO new_items (label, reviewer, created_at) VALUES (?, ?, ?)",
                (label, reviewer, _now()),
            )
            if label not in self._items:
                self._items.append(label)

    def new_items(self) -> list[str]:
        with self._lock:
            self._refresh()
            return list(self._items)

    # --- decisions ----------------------------------------------------------

    def record(
        self, decisions: Sequence[tuple[str, str, str | None]], reviewer: str
    ) -> tuple[int, list[Decision]]:
        """Store ``(image_id, action, label)`` rows as one batch, in one transaction."""
        for _, action, label in decisions:
            if action not in ACTIONS:
                raise ValueError(f"action must be one of {', '.join(ACTIONS)}, got {action!r}")
            if action == S.REVIEW_RELABEL and not label:
                raise ValueError("a relabel decision needs the new label")
        when = _now()
        with self._lock:
            self._refresh()
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                batch = self._conn.execute(
                    "SELECT COALESCE(MAX(batch), 0) + 1 FROM review_log"
                ).fetchone()[0]
                out = []
                for image_id, action, label in decisions:
                    prev = self._state.get(image_id, {}).get(reviewer)
                    row = (
                        batch,
                        image_id,
                        reviewer,
                        action,
                        label if action == S.REVIEW_RELABEL else None,
                        prev.action if prev else None,
                        prev.label if prev else None,
                        when,
                    )
                    cur = self._conn.execute(
                        "INSERT INTO review_log (batch, image_id, reviewer, action, label, "
                        "prev_action, prev_label, decided_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        row,
                    )
                    d = Decision(int(cur.lastrowid or 0), *row)
                    self._apply(d)
                    out.append(d)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                self._version = -1  # the memory state may be ahead of the file: reload
                raise
        return batch, out

    def undo(self, batch: int, reviewer: str) -> tuple[int, list[Decision]]:
        """Restore the reviewer's values from before ``batch`` (a new batch, audited)."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM review_log WHERE batch = ? AND reviewer = ? ORDER BY seq",
                (batch, reviewer),
            ).fetchall()
            if not rows:
                raise LookupError(f"no batch {batch} of reviewer {reviewer!r} to undo")
            back = [Decision(*r) for r in reversed(rows)]
            return self.record(
                [(d.image_id, d.prev_action or S.REVIEW_PENDING, d.prev_label) for d in back],
                reviewer,
            )

    def history(self) -> Iterator[Decision]:
        """Every decision ever recorded, oldest first (the audit trail)."""
        with self._lock:
            rows = self._conn.execute(f"SELECT {_COLUMNS} FROM review_log ORDER BY seq").fetchall()
        for r in rows:
            yield Decision(*r)

    def history_of(self, image_id: str) -> list[Decision]:
        """The audit trail of one photo, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM review_log WHERE image_id = ? ORDER BY seq", (image_id,)
            ).fetchall()
        return [Decision(*r) for r in rows]

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM review_log").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()
