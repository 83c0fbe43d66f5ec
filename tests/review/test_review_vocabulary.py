"""The review vocabulary outside Python comes from ``crowdlens.schema`` too: the
decision log's SQL CHECKs are built from it, and the page gets every value
word (actions, states, menus, measures) from the server's session instead of
spelling it in app.js or index.html."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from crowdlens import schema as S
from crowdlens.review import api
from crowdlens.review.detail import MEASURES
from crowdlens.review.store import DecisionStore, schema_sql

STATIC = Path(api.__file__).resolve().parent / "static"
WORDS = {*S.REVIEW_ACTIONS, *S.REVIEW_STATES, *S.REVIEW_SHOWS, *MEASURES}
# Sort keys are column names, and app.js names the filter parameters "country"
# and "contributor" too: the sort words are checked in the menus of index.html.
MENU_WORDS = WORDS | set(S.REVIEW_SORTS)
LOG = "INSERT INTO review_log (batch, image_id, reviewer, action, label, decided_at) VALUES "


def _log(conn: sqlite3.Connection, action: str, label: str | None = None) -> None:
    with conn:
        conn.execute(LOG + "(1, 'a', 'ann', ?, ?, 't')", (action, label))


def test_the_decision_log_refuses_exactly_what_the_schema_does_not_name(tmp_path):
    DecisionStore(tmp_path / "review.sqlite")  # creates the tables as the server does
    conn = sqlite3.connect(tmp_path / "review.sqlite")
    for action in S.REVIEW_ACTIONS:
        _log(conn, action, "Banana" if action == S.REVIEW_RELABEL else None)
    for bad in ("escalate", S.REVIEW_CONFLICT):
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            _log(conn, bad)
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        _log(conn, S.REVIEW_RELABEL)  # a relabel needs its label
    conn.close()
    # The CHECK is built from the vocabulary it is given, not from a copy of it.
    grown = sqlite3.connect(":memory:")
    grown.executescript(schema_sql((*S.REVIEW_ACTIONS, "escalate")))
    _log(grown, "escalate")
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        _log(grown, "shrug")


def test_the_session_serves_the_vocabulary_from_the_schema():
    v = api.vocabulary()
    assert [v[k] for k in ("ACCEPT", "REJECT", "RELABEL", "PENDING")] == list(S.REVIEW_ACTIONS)
    assert {v[k] for k in ("PENDING", "DECIDED", "CONFLICT", "SECOND")} == set(S.REVIEW_STATES)
    assert v["TODO"] == S.REVIEW_SHOW_TODO
    assert [value for value, _ in v["shows"]] == list(S.REVIEW_SHOWS)
    assert [value for value, _ in v["sorts"]] == list(S.REVIEW_SORTS)
    assert dict(v["shows"])[S.REVIEW_SHOW_TODO] == "to do" and dict(v["sorts"])[S.LABEL] == "item"
    assert v["measures"] == list(MEASURES) and S.SHARPNESS in v["measures"]


def _js_literals(source: str) -> list[str]:
    """The string literals of app.js, except element ids ($("accept") is a button)."""
    found = []
    for m in re.finditer(r"""(?<!\$\()(["'])((?:\\.|(?!\1)[^\\\n])*)\1""", source):
        found.append(m.group(2))
    return found


def test_the_page_spells_no_value_word():
    js = (STATIC / "app.js").read_text(encoding="utf-8")
    literals = [s for s in _js_literals(js) if s in WORDS]
    assert literals == [], f"app.js spells vocabulary words: {sorted(set(literals))}"
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    values = [v for v in re.findall(r'value="([^"]*)"', html) if v in MENU_WORDS]
    assert values == [], f"index.html spells vocabulary words: {values}"
    # the scan itself finds what it looks for
    assert _js_literals('x === "pending" || $("accept")') == ["pending"]
