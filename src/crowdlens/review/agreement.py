"""Several reviewers on one photo: its state, conflicts, double review and Cohen's kappa.

Pure functions over plain values (no SQLite, no HTTP).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from crowdlens import schema as S

PENDING, DECIDED, CONFLICT, SECOND = (
    S.REVIEW_PENDING,
    S.REVIEW_DECIDED,
    S.REVIEW_CONFLICT,
    S.REVIEW_SECOND,
)


def verdict_key(action: str, label: str | None) -> str:
    """What two reviewers must share to agree: the action, and the label of a relabel."""
    return f"{S.REVIEW_RELABEL}:{label}" if action == S.REVIEW_RELABEL else action


def photo_state(decisions: Mapping[str, Any], *, double: bool = False) -> str:
    """``pending`` / ``decided`` / ``conflict`` / ``second`` from the live decisions by reviewer.

    ``decisions`` maps reviewer -> an object with ``action`` and ``label``;
    ``double`` marks a photo of the double-review sample, decided only once
    two reviewers agree.

    >>> from types import SimpleNamespace as D
    >>> photo_state({})
    'pending'
    >>> photo_state({"ann": D(action="accept", label=None)}, double=True)
    'second'
    >>> photo_state({"ann": D(action="accept", label=None), "bo": D(action="reject", label=None)})
    'conflict'
    """
    if not decisions:
        return PENDING
    if len(decisions) == 1:  # the common case, without building a set
        return SECOND if double else DECIDED
    keys = {verdict_key(d.action, d.label) for d in decisions.values()}
    if len(keys) > 1:
        return CONFLICT
    if double and len(decisions) < 2:
        return SECOND
    return DECIDED


def in_double_sample(image_id: str, fraction: float) -> bool:
    """Whether a photo belongs to the double-review sample (stable, by hash of its id).

    >>> in_double_sample("img001", 0.0), in_double_sample("img001", 1.0)
    (False, True)
    """
    if fraction <= 0:
        return False
    h = int.from_bytes(hashlib.sha256(image_id.encode("utf-8")).digest()[:8], "big")
    return h / 2**64 < fraction


def cohen_kappa(pairs: Iterable[tuple[str, str]]) -> float | None:
    """Cohen's kappa of two raters over ``(first, second)`` category pairs; None if undefined.

    >>> cohen_kappa([("a", "a"), ("r", "r"), ("a", "a"), ("r", "a")])
    0.5
    >>> cohen_kappa([]) is None
    True
    """
    pairs = list(pairs)
    n = len(pairs)
    if n == 0:
        return None
    observed = sum(a == b for a, b in pairs) / n
    first = Counter(a for a, _ in pairs)
    second = Counter(b for _, b in pairs)
    expected = sum(first[c] * second[c] for c in first) / (n * n)
    if expected >= 1.0:
        return 1.0 if observed == 1.0 else None
    return round((observed - expected) / (1.0 - expected), 4)


def agreement(state: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Kappa over the photos two reviewers decided (the first two decisions in time)."""
    pairs = []
    for per in state.values():
        if len(per) < 2:
            continue
        a, b = sorted(per.values(), key=lambda d: d.seq)[:2]
        pairs.append((verdict_key(a.action, a.label), verdict_key(b.action, b.label)))
    return {"photos": len(pairs), "kappa": cohen_kappa(pairs)}
