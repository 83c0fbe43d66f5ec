"""What each route of the review server answers (JSON in, JSON out; no HTTP here).

Requests a client must fix raise :class:`BadRequest` with a status and a
message; the handler turns it into a 4xx JSON reply.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from crowdlens import schema as S
from crowdlens.review.agreement import agreement, photo_state
from crowdlens.review.csvsafe import FORMULA_START, label_problem
from crowdlens.review.detail import MEASURES, read_detail
from crowdlens.review.photos import (
    THUMB_PX,
    VARIANTS,
    NotShown,
    original_source,
    placeholder_svg,
    released_source,
    render_jpeg,
)
from crowdlens.review.queue import MAX_PAGE, PageQuery, row_json

if TYPE_CHECKING:  # pragma: no cover
    from crowdlens.review.server import ReviewServer

MAX_LABEL = 200
MAX_BATCH = 500

# Titles of the page's "show" and "sort" menus where they differ from the value.
SHOW_TITLES = {
    S.REVIEW_SHOW_TODO: "to do",
    S.REVIEW_CONFLICT: "conflicts",
    S.REVIEW_SHOW_MINE: "decided by me",
}
SORT_TITLES = {S.LABEL: "item"}


class BadRequest(Exception):
    """A request the client must fix; carries the HTTP status and the message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _bad(message: str) -> BadRequest:
    return BadRequest(HTTPStatus.BAD_REQUEST, message)


def _int(query: dict[str, list[str]], name: str, default: int, lo: int, hi: int) -> int:
    raw = (query.get(name) or [str(default)])[0]
    if not raw.isascii() or not raw.isdigit() or not lo <= int(raw) <= hi:
        raise _bad(f"{name} must be an integer in [{lo}, {hi}]. Got {raw[:40]!r}.")
    return int(raw)


def page_query(query: dict[str, list[str]], page_size: int) -> PageQuery:
    """The validated page request of ``/api/queue``."""

    def text(name: str, default: str = "") -> str:
        return (query.get(name) or [default])[0][:MAX_LABEL]

    show, sort, order = text("show", "todo"), text("sort", "uncertainty"), text("order", "")
    if show not in S.REVIEW_SHOWS:
        raise _bad(f"show must be one of {', '.join(S.REVIEW_SHOWS)}. Got {show!r}.")
    if sort not in S.REVIEW_SORTS:
        raise _bad(f"sort must be one of {', '.join(S.REVIEW_SORTS)}. Got {sort!r}.")
    if order not in ("", "asc", "desc"):
        raise _bad(f"order must be 'asc' or 'desc'. Got {order!r}.")
    return PageQuery(
        item=text("item").strip(),
        reason=text("reason"),
        verdict=text("verdict"),
        country=text("country"),
        contributor=text("contributor").strip(),
        show=show,
        sort=sort,
        # Most uncertain first by default; names and ids A-Z.
        descending=order == "desc" or (order == "" and sort in ("uncertainty", "score")),
        offset=_int(query, "offset", 0, 0, 10**9),
        limit=_int(query, "limit", page_size, 1, MAX_PAGE),
    )


def vocabulary() -> dict[str, Any]:
    """The value words the page tests, sends and offers, from the schema.

    app.js spells none of them: a word renamed in :mod:`crowdlens.schema`
    reaches the page with the session.
    """
    return {
        "ACCEPT": S.DECISION_ACCEPT,
        "REJECT": S.DECISION_REJECT,
        "RELABEL": S.REVIEW_RELABEL,
        "PENDING": S.REVIEW_PENDING,
        "DECIDED": S.REVIEW_DECIDED,
        "CONFLICT": S.REVIEW_CONFLICT,
        "SECOND": S.REVIEW_SECOND,
        "TODO": S.REVIEW_SHOW_TODO,
        "shows": [[v, SHOW_TITLES.get(v, v)] for v in S.REVIEW_SHOWS],
        "sorts": [[v, SORT_TITLES.get(v, v)] for v in S.REVIEW_SORTS],
        "measures": list(MEASURES),
    }


def session(server: ReviewServer, reviewer: str) -> dict[str, Any]:
    """What the page needs once: who is signed in, the menus, the vocabulary, the known items."""
    return {
        "vocabulary": vocabulary(),
        "reviewer": reviewer,
        "reviewers": server.store.reviewers(),
        "total": len(server.queue.rows),
        "facets": server.queue.facets(),
        "labels": server.known_labels(),
        "page_size": server.cfg.page_size,
        "originals": bool(server.roots),
        "double_review": server.cfg.double_review,
    }


def page(server: ReviewServer, query: dict[str, list[str]], reviewer: str) -> dict[str, Any]:
    """One page of the queue, filtered and sorted on the server."""
    q = page_query(query, server.cfg.page_size)
    version, state = server.store.snapshot()
    out = server.queue.page(q, state, reviewer, version)
    out["agreement"] = agreement(state)
    return out


def _row(server: ReviewServer, image_id: str) -> Any:
    row = server.queue.by_id.get(image_id)
    if row is None:
        raise BadRequest(HTTPStatus.NOT_FOUND, f"no photo {image_id[:80]!r} in the review queue")
    return row


def item(server: ReviewServer, image_id: str, reviewer: str) -> dict[str, Any]:
    """Everything the detail view shows about one photo, with its audit trail."""
    row = _row(server, image_id)
    detail = read_detail(server.results, image_id) or {}
    per = server.store.of(image_id)
    detail["queue"] = row_json(row, per, photo_state(per, double=row.double), reviewer)
    detail["history"] = [
        {**d.public(), "prev_action": d.prev_action, "prev_label": d.prev_label}
        for d in server.store.history_of(image_id)[-20:]
    ]
    return detail


def check_label(server: ReviewServer, label: Any, new_item: Any, reviewer: str) -> str:
    """A relabel's label: one of the known items, or a new one only when asked for."""
    if not isinstance(label, str) or not label.strip() or len(label) > MAX_LABEL:
        raise _bad(f"relabel needs a label of 1-{MAX_LABEL} characters")
    problem = label_problem(label)
    if problem:
        raise _bad(problem)
    label = label.strip()
    known = server.known_labels()
    if label in known:
        return label
    if new_item is not True:
        close = [k for k in known if k.casefold() == label.casefold()]
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise _bad(
            f"{label!r} is not a known item{hint}: pick one from the list, or use "
            "'new item' to add it on purpose"
        )
    if label.startswith(FORMULA_START):
        raise _bad("a new item name cannot start with =, +, -, @ (spreadsheet formulas)")
    if any(k.casefold() == label.casefold() for k in known):
        raise _bad(f"an item named {label!r} exists already with other capitals")
    server.store.add_item(label, reviewer)
    return label


def decide(server: ReviewServer, data: Any, reviewer: str) -> dict[str, Any]:
    """One decision (or a bulk one) on one or more photos: one batch, one transaction."""
    if not isinstance(data, dict):
        raise _bad("send a JSON object with ids (a list of image ids) and action")
    ids, action = data.get("ids"), data.get("action")
    if isinstance(data.get("image_id"), str) and ids is None:
        ids = [data["image_id"]]
    if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_BATCH:
        raise _bad(f"ids must be a list of 1-{MAX_BATCH} image ids")
    if not all(isinstance(i, str) and i in server.queue.by_id for i in ids):
        raise _bad("ids contains an image id that is not a photo of the review queue")
    if action not in S.REVIEW_ACTIONS:
        raise _bad(f"action must be one of {', '.join(S.REVIEW_ACTIONS)}")
    label = None
    if action == S.REVIEW_RELABEL:
        given = data.get("label")  # vocabulary: a request field, not a TOPK one
        label = check_label(server, given, data.get("new_item"), reviewer)
    ids = list(dict.fromkeys(ids))
    batch, _ = server.store.record([(i, action, label) for i in ids], reviewer)
    return {"batch": batch, "items": _rows(server, ids, reviewer)}


def undo(server: ReviewServer, data: Any, reviewer: str) -> dict[str, Any]:
    """Undo one of the reviewer's own batches (appends the previous values)."""
    batch = data.get("batch") if isinstance(data, dict) else None
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise _bad("send a JSON object with batch (the number a decision returned)")
    try:
        new, decisions = server.store.undo(batch, reviewer)
    except LookupError as exc:
        raise BadRequest(HTTPStatus.NOT_FOUND, str(exc)) from None
    ids = list(dict.fromkeys(d.image_id for d in decisions))
    return {"batch": new, "items": _rows(server, ids, reviewer)}


def _rows(server: ReviewServer, ids: list[str], reviewer: str) -> list[dict[str, Any]]:
    out = []
    for i in ids:
        row, per = server.queue.by_id[i], server.store.of(i)
        out.append(row_json(row, per, photo_state(per, double=row.double), reviewer))
    return out


def audit_csv(server: ReviewServer) -> bytes:
    """The whole decision log as CSV (cells neutralised)."""
    from crowdlens.review.export import audit_lines

    return "".join(audit_lines(server.store)).encode("utf-8")


def photo(server: ReviewServer, image_id: str, variant: str) -> tuple[bytes, str, str | None]:
    """``(body, content type, placeholder reason or None)`` for a picture of the queue."""
    row = _row(server, image_id)
    if variant not in VARIANTS:
        raise _bad(f"v must be one of {', '.join(VARIANTS)}")
    key = (image_id, variant)
    cached = server.cache.get(key)
    if cached is not None:
        return cached, "image/jpeg", None
    size = THUMB_PX if variant == "thumb" else server.cfg.preview_px
    try:
        if variant == "original":
            source = original_source(row.path, server.roots)
        else:
            source = released_source(server.dir, row.redacted_path)
        body = render_jpeg(source, size)
    except NotShown as exc:
        return placeholder_svg(str(exc), size=THUMB_PX), "image/svg+xml", str(exc)
    server.cache.put(key, body)
    return body, "image/jpeg", None
