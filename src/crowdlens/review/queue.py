"""The review queue: the ``review`` photos of a results table, served one page at a time.

Only the light columns of the queue are held in memory (a slotted row per
photo); a photo's details are read from the table when it is opened. Pages
are filtered and sorted here, on the server, so the browser never holds more
than one page. Pure helpers: no Spark and no HTTP.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crowdlens import schema as S
from crowdlens.io.results import columns_of, open_results
from crowdlens.review.agreement import in_double_sample, photo_state
from crowdlens.stages.decide import reason_kind

LIGHT = (
    S.IMAGE_ID,
    S.PATH,
    S.LABEL,
    S.COUNTRY,
    S.CONTRIBUTOR,
    S.PRED_LABEL,
    S.PRED_SCORE,
    S.LABEL_PROB,
    S.LABEL_VERDICT,
    S.REDACTED_PATH,
    S.REASONS,
)
MAX_PAGE = 200


def json_safe(value: Any) -> Any:
    """JSON-safe plain Python: numpy arrays/scalars become lists/numbers, NaN becomes None."""
    if value is None:
        return None
    if hasattr(value, "tolist") and not isinstance(value, str | bytes):
        value = value.tolist()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, bytes):
        return None
    return value


def uncertainty(item: Mapping[str, Any]) -> float:
    """How unsure the pipeline is about a photo, in [0, 1] (1 = a coin toss).

    A claimed-label probability near 0.5 is the most uncertain; near 0 (a
    clear mismatch) or 1 it is easy. Without it, 1 - the top prediction score.

    >>> uncertainty({"label_prob": 0.5})
    1.0
    >>> round(uncertainty({"label_prob": 0.01}), 2)
    0.02
    """
    p = item.get(S.LABEL_PROB)
    if isinstance(p, int | float) and math.isfinite(p):
        return 1.0 - abs(2.0 * float(p) - 1.0)
    s = item.get(S.PRED_SCORE)
    if isinstance(s, int | float) and math.isfinite(s):
        return 1.0 - float(s)
    return 0.5


@dataclass(slots=True)
class Row:
    """What the queue keeps in memory per photo."""

    image_id: str
    path: str | None
    label: str | None
    pred_label: str | None
    score: float | None
    uncertainty: float
    verdict: str | None
    reasons: tuple[str, ...]
    country: str | None
    contributor: str | None
    redacted_path: str | None
    double: bool


@dataclass(frozen=True)
class PageQuery:
    """One page request: filters (empty = any), sort and window.

    ``item`` matches the claimed or predicted label (substring, any case);
    ``reason`` a reason kind; ``show`` one of :data:`S.REVIEW_SHOWS`.
    """

    item: str = ""
    reason: str = ""
    verdict: str = ""
    country: str = ""
    contributor: str = ""
    show: str = S.REVIEW_SHOW_TODO
    sort: str = "uncertainty"
    descending: bool = True
    offset: int = 0
    limit: int = 60


_SORT_KEYS: dict[str, Callable[[Row], Any]] = {
    "uncertainty": lambda r: r.uncertainty,
    "score": lambda r: -1.0 if r.score is None else r.score,
    "label": lambda r: (r.label or "").casefold(),
    "country": lambda r: (r.country or "").casefold(),
    "contributor": lambda r: (r.contributor or "").casefold(),
    "id": lambda r: r.image_id,
}


def _str(v: Any) -> str | None:
    v = json_safe(v)
    return None if v is None or v == "" else str(v)


def _num(v: Any) -> float | None:
    v = json_safe(v)
    return float(v) if isinstance(v, int | float) else None


class Queue:
    """The ``review`` photos of one results table; pages, counts and details.

    Example::

        queue = Queue.load("out/run1")
        page = queue.page(PageQuery(reason="label mismatch"), state={}, reviewer="ann")
    """

    def __init__(self, results: str | Path, rows: list[Row], labels: list[str]) -> None:
        self.results = results
        self.rows = rows
        self.by_id = {r.image_id: r for r in rows}
        self.labels = labels
        self._orders: dict[str, list[Row]] = {}
        self._counts: dict[tuple[int | None, str], dict[str, int]] = {}
        self._subsets: OrderedDict[tuple, tuple[list[Row], set[str] | None]] = OrderedDict()

    @classmethod
    def load(cls, results: str | Path, *, double_fraction: float = 0.0) -> Queue:
        """Read the light columns of the ``review`` rows (and the known items of the run)."""
        import pyarrow.compute as pc
        import pyarrow.dataset as pads

        names = set(columns_of(results))
        if S.DECISION not in names:
            return cls(results, [], [])
        dataset = open_results(results)
        cols = [c for c in LIGHT if c in names]
        table = dataset.to_table(columns=cols, filter=pads.field(S.DECISION) == S.DECISION_REVIEW)
        data = {c: table.column(c).to_pylist() for c in cols}
        n = table.num_rows
        intern: dict[str, str] = {}

        def col(name: str) -> list[Any]:
            return data.get(name) or [None] * n

        def shared(v: Any) -> str | None:
            s = _str(v)
            return None if s is None else intern.setdefault(s, s)

        rows = []
        for i, (iid, path, label, prob, score) in enumerate(
            zip(col(S.IMAGE_ID), col(S.PATH), col(S.LABEL), col(S.LABEL_PROB), col(S.PRED_SCORE))
        ):
            image_id = str(iid)
            kinds = tuple(sorted({shared(reason_kind(x)) or "" for x in col(S.REASONS)[i] or []}))
            rows.append(
                Row(
                    image_id=image_id,
                    path=_str(path),
                    label=shared(label),
                    pred_label=shared(col(S.PRED_LABEL)[i]),
                    score=_num(score),
                    uncertainty=round(uncertainty({S.LABEL_PROB: prob, S.PRED_SCORE: score}), 4),
                    verdict=shared(col(S.LABEL_VERDICT)[i]),
                    reasons=kinds,
                    country=shared(col(S.COUNTRY)[i]),
                    contributor=shared(col(S.CONTRIBUTOR)[i]),
                    redacted_path=_str(col(S.REDACTED_PATH)[i]),
                    double=in_double_sample(image_id, double_fraction),
                )
            )
        known: set[str] = set()
        for c in (S.LABEL, S.PRED_LABEL):
            if c in names:
                known.update(
                    str(x) for x in pc.unique(dataset.to_table(columns=[c])[c]).to_pylist()
                )
        if S.TOPK in names:
            topk = dataset.to_table(columns=[S.TOPK])[S.TOPK].combine_chunks()
            if len(topk):
                labels = pc.unique(pc.list_flatten(topk).field("label"))
                known.update(str(x) for x in labels.to_pylist())
        known.discard("None")
        known.discard("")
        queue = cls(results, rows, sorted(known))
        queue.ordered("uncertainty", True)  # the default order, sorted once at start
        return queue

    def ordered(self, sort: str, descending: bool) -> list[Row]:
        """The rows in one order (cached: the queue itself never changes)."""
        key = f"{sort}:{descending}"
        if key not in self._orders:
            by = _SORT_KEYS[sort]
            # Ties broken by id, in the same direction, so pages are stable.
            self._orders[key] = sorted(
                self.rows, key=lambda r: (by(r), r.image_id), reverse=descending
            )
        return self._orders[key]

    def facets(self) -> dict[str, list[str]]:
        """Distinct reason kinds, verdicts and countries, for the filter menus."""
        return {
            "reasons": sorted({k for r in self.rows for k in r.reasons}),
            "verdicts": sorted({r.verdict for r in self.rows if r.verdict}),
            "countries": sorted({r.country for r in self.rows if r.country}),
        }

    def subset(self, q: PageQuery) -> tuple[list[Row], set[str] | None]:
        """The rows passing the (unchanging) filters, in order, and their ids (None = all).

        Cached per filter and sort, so paging through one filter scans once.
        """
        key = (q.item, q.reason, q.verdict, q.country, q.contributor, q.sort, q.descending)
        if key in self._subsets:
            self._subsets.move_to_end(key)
            return self._subsets[key]
        ordered = self.ordered(q.sort, q.descending)
        if not any(key[:5]):
            return ordered, None
        want = _matcher(q)
        rows = [r for r in ordered if want(r)]
        self._subsets[key] = (rows, {r.image_id for r in rows})
        while len(self._subsets) > 8:
            self._subsets.popitem(last=False)
        return self._subsets[key]

    def counts(
        self, state: Mapping[str, Mapping[str, Any]], reviewer: str, version: int | None = None
    ) -> dict[str, int]:
        """Photos by state in the whole queue, and how many the reviewer has to do.

        Costs one step per *decided* photo: undecided ones are pending and to do.
        With ``version`` (the store's change counter) the answer is cached.
        """
        key = (version, reviewer)
        if version is not None and key in self._counts:
            return dict(self._counts[key])
        counts = dict.fromkeys(S.REVIEW_STATES, 0)
        todo = 0
        for image_id, per in state.items():
            row = self.by_id.get(image_id)
            if row is None or not per:
                continue
            st = photo_state(per, double=row.double)
            counts[st] += 1
            todo += st == S.REVIEW_SECOND and reviewer not in per
        counts[S.REVIEW_PENDING] = len(self.rows) - sum(counts.values())
        counts[S.REVIEW_SHOW_TODO] = counts[S.REVIEW_PENDING] + todo
        if version is not None:
            if len(self._counts) > 16:
                self._counts.clear()
            self._counts[key] = dict(counts)
        return counts

    def page(
        self,
        q: PageQuery,
        state: Mapping[str, Mapping[str, Any]],
        reviewer: str,
        version: int | None = None,
    ) -> dict[str, Any]:
        """One page of rows (JSON-ready), how many rows match, and the counts by state.

        Rows nobody decided are pending (the common case, no work per row);
        the page stops scanning once it is full, except for shows that only
        decided photos pass (decided, conflict, mine).
        """
        rows, members = self.subset(q)
        decided = [
            (image_id, per)
            for image_id, per in state.items()
            if per and image_id in self.by_id and (members is None or image_id in members)
        ]
        matched = 0 if q.show != S.REVIEW_SHOW_ALL else len(rows)
        undecided = len(rows) - len(decided)
        if q.show in (S.REVIEW_SHOW_TODO, S.REVIEW_PENDING):
            matched = undecided
        for image_id, per in decided:
            st = photo_state(per, double=self.by_id[image_id].double)
            todo = st == S.REVIEW_SECOND and reviewer not in per
            matched += q.show != S.REVIEW_SHOW_ALL and _shows(q.show, st, todo, reviewer in per)
        if q.show not in (S.REVIEW_SHOW_TODO, S.REVIEW_PENDING, S.REVIEW_SHOW_ALL):
            rows = [r for r in rows if r.image_id in state]
        out: list[dict[str, Any]] = []
        hits = 0
        for r in rows:
            per = state.get(r.image_id) or {}
            st = photo_state(per, double=r.double) if per else S.REVIEW_PENDING
            todo = st == S.REVIEW_PENDING or (st == S.REVIEW_SECOND and reviewer not in per)
            if not _shows(q.show, st, todo, reviewer in per):
                continue
            if hits >= q.offset:
                out.append(row_json(r, per, st, reviewer))
                if len(out) >= q.limit:
                    break
            hits += 1
        return {
            "items": out,
            "matched": matched,
            "offset": q.offset,
            "counts": self.counts(state, reviewer, version),
        }


def _matcher(q: PageQuery) -> Callable[[Row], bool]:
    item = q.item.casefold()
    country, contributor = q.country.casefold(), q.contributor.casefold()

    def want(r: Row) -> bool:
        if item and not (
            item in (r.label or "").casefold() or item in (r.pred_label or "").casefold()
        ):
            return False
        if q.reason and q.reason not in r.reasons:
            return False
        if q.verdict and q.verdict != r.verdict:
            return False
        if country and country != (r.country or "").casefold():
            return False
        return not (contributor and contributor != (r.contributor or "").casefold())

    return want


def _shows(show: str, st: str, todo: bool, mine: bool) -> bool:
    if show == S.REVIEW_SHOW_ALL:
        return True
    if show == S.REVIEW_SHOW_TODO:
        return todo
    if show == S.REVIEW_PENDING:
        return st in (S.REVIEW_PENDING, S.REVIEW_SECOND)
    if show == S.REVIEW_SHOW_MINE:
        return mine
    return st == show


def row_json(r: Row, per: Mapping[str, Any], st: str, reviewer: str) -> dict[str, Any]:
    """A queue row as the grid shows it."""
    mine = per.get(reviewer)
    return {
        "image_id": r.image_id,
        "label": r.label,
        "pred_label": r.pred_label,
        "pred_score": None if r.score is None else round(r.score, 4),
        "uncertainty": r.uncertainty,
        "verdict": r.verdict,
        "reasons": list(r.reasons),
        "country": r.country,
        "contributor": r.contributor,
        "state": st,
        "double": r.double,
        "mine": mine.public() if mine else None,
        "others": [d.public() for k, d in sorted(per.items()) if k != reviewer],
    }
