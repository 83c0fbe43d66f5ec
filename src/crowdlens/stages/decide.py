"""Moderation decisions: every measure becomes ``accept``, ``reject`` or ``review``.

Each photo gets a decision and the readable reasons behind it. A reason reads
``"<kind>: <detail>"`` (``"quality: blurry"``, ``"label mismatch: claimed
'Apple', looks like 'Pear' (p=0.01)"``); the kind before the colon is what the
report counts and the review UI filters by (:func:`reason_kind`).

The rules, in the :class:`Policy` (config file section ``[policy]``):

* decode error -> ``reject`` (or ``review`` with ``reject_on_error = false``);
* a quality flag matching ``reject_flags`` -> ``reject``; matching
  ``accept_flags`` -> noted only; any other flag -> ``review``;
* label verdict ``mismatch`` / ``suspect`` / ``unknown`` -> the action named
  by ``mismatch`` / ``suspect`` / ``unknown_label``; no claimed label ->
  ``no_label``;
* personal information -> the photo is released *redacted*, not rejected: the
  reason is noted and the decision is unchanged, unless no redacted copy was
  written, which sends it to ``pii_unredacted`` (``review``). When the
  redacted regions, read again, still showed personal data
  (``release_verified`` false), the copy was withheld and the reason kind is
  ``pii_still_readable`` (action ``pii_unredacted``).

The strongest action wins: reject > review > accept.
"""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from crowdlens import schema as S
from crowdlens.config import load_section
from crowdlens.params import Each, NonEmpty, Options, Params, Rule, validate
from crowdlens.spark.rows import map_rows

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame

ACCEPT = S.DECISION_ACCEPT
REVIEW = S.DECISION_REVIEW
REJECT = S.DECISION_REJECT
DECISIONS = S.DECISIONS
_SEVERITY = {ACCEPT: 0, REVIEW: 1, REJECT: 2}

# Reason kinds (the text before the colon).
KIND_ERROR = "decode error"
KIND_QUALITY = "quality"
KIND_MISMATCH = "label mismatch"
KIND_SUSPECT = "label suspect"
KIND_UNKNOWN = "label unknown"
KIND_NO_LABEL = "no label"
KIND_PII = "personal information"
KIND_CHECK = "check failed"

# Every column decide reads when the table has it; missing ones are skipped.
INPUTS = (
    S.STATUS,
    S.ERROR,
    S.QUALITY_FLAGS,
    S.LABEL,
    S.PRED_LABEL,
    S.LABEL_PROB,
    S.LABEL_RANK,
    S.LABEL_VERDICT,
    S.PII_TYPES,
    S.REDACTED_PATH,
    S.QUALITY_ERROR,
    S.TEXT_ERROR,
    S.RELEASE_VERIFIED,
    S.DUPLICATE_NOTE,
    S.LABEL_PREFERRED,
    S.LABEL_RELATION,
    S.LABEL_EVIDENCE,
)
OUTPUTS = (S.DECISION, S.REASONS)


@dataclass(frozen=True)
class Policy:
    """What each finding does to a photo (config file section ``[policy]``).

    Flag lists take exact quality-flag names or shell patterns (``"dup*"``).

    Example (TOML)::

        [policy]
        reject_flags = ["exact_duplicate", "too_small"]
        accept_flags = ["low_contrast"]
        suspect = "review"
        mismatch = "reject"
    """

    reject_on_error: bool = True
    # An accidental shot (pocket, floor, lens cap) shows nothing to review.
    reject_flags: tuple[str, ...] = (S.FLAG_LOW_INFORMATION,)
    accept_flags: tuple[str, ...] = ()
    mismatch: str = REVIEW
    suspect: str = REVIEW
    unknown_label: str = REVIEW
    no_label: str = ACCEPT
    pii_unredacted: str = REVIEW
    check_failed: str = REVIEW

    _FLAGS: ClassVar[Each] = Each(NonEmpty(), "a list of quality-flag names or patterns")
    PARAMS: ClassVar[Params] = {
        "reject_flags": _FLAGS,
        "accept_flags": _FLAGS,
        **dict.fromkeys(
            ("mismatch", "suspect", "unknown_label", "no_label", "pii_unredacted", "check_failed"),
            Options(S.DECISIONS),
        ),
    }
    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "accept_flags",
            lambda p: not set(p.reject_flags) & set(p.accept_flags),
            "disjoint from reject_flags (no flag may be in both lists)",
        ),
    )

    def __post_init__(self) -> None:
        validate(self)

    def flag_action(self, flag: str) -> str:
        if any(fnmatch.fnmatchcase(flag, p) for p in self.reject_flags):
            return REJECT
        if any(fnmatch.fnmatchcase(flag, p) for p in self.accept_flags):
            return ACCEPT
        return REVIEW


def load_policy(path: str | Path | None) -> Policy:
    """The ``[policy]`` section of a TOML config file (defaults when absent).

    >>> load_policy(None).mismatch
    'review'
    """
    return load_section(Policy, path, "policy")


def reason_kind(reason: str) -> str:
    """The kind of a reason, the text before its first colon.

    >>> reason_kind("quality: blurry")
    'quality'
    """
    return reason.split(":", 1)[0].strip()


def _present(value: Any) -> bool:
    """True for a value that is set: not None, not an empty string or list."""
    if isinstance(value, str | list | tuple):
        return len(value) > 0
    return value is not None


def _is_false(value: Any) -> bool:
    """False, but not null: a check that ran and failed."""
    return value is not None and not isinstance(value, str) and not value


def _seq(value: Any) -> list[Any]:
    return list(value) if _present(value) and not isinstance(value, str) else []


def _label_steps(row: Mapping[str, Any], policy: Policy) -> list[tuple[str, str]]:
    """What the label verdict of a row asks for, with a reason that names the items."""
    steps: list[tuple[str, str]] = []
    verdict = row.get(S.LABEL_VERDICT)
    label = row.get(S.LABEL)
    pred = row.get(S.PRED_LABEL)
    prob = row.get(S.LABEL_PROB)
    by = ", by image and text" if row.get(S.LABEL_EVIDENCE) == S.EVIDENCE_IMAGE_TEXT else ""
    p = f" (p={float(prob):.2f}{by})" if _present(prob) else ""
    looks = f", looks like {pred!r}" if _present(pred) and pred != label else ""
    if verdict == S.VERDICT_MISMATCH:
        steps.append((policy.mismatch, f"{KIND_MISMATCH}: claimed {label!r}{looks}{p}"))
    elif verdict == S.VERDICT_SUSPECT:
        rank = row.get(S.LABEL_RANK)
        r = f" ranked {int(rank)}" if _present(rank) else " outside the top predictions"
        preferred = row.get(S.LABEL_PREFERRED)
        if _present(preferred):
            relation = row.get(S.LABEL_RELATION)
            kind = f", a {str(relation).replace('_', ' ')}" if _present(relation) else ""
            looks = f", looks like {preferred!r}{kind}"
        steps.append((policy.suspect, f"{KIND_SUSPECT}: claimed {label!r}{r}{looks}{p}"))
    elif verdict == S.VERDICT_UNKNOWN:
        if not _present(label):
            steps.append((policy.no_label, f"{KIND_NO_LABEL}: the photo claims no item"))
        else:
            steps.append(
                (
                    policy.unknown_label,
                    f"{KIND_UNKNOWN}: {label!r} could not be checked "
                    "(not a label the model knows, or no prediction)",
                )
            )
    elif verdict is None and S.LABEL_VERDICT in row and not _present(label):
        steps.append((policy.no_label, f"{KIND_NO_LABEL}: the photo claims no item"))
    return steps


def decide(row: Mapping[str, Any], policy: Policy) -> tuple[str, list[str]]:
    """The decision and reasons for one row of the results table.

    >>> decide({"status": "ok", "quality_flags": ["blurry"]}, Policy())
    ('review', ['quality: blurry'])
    >>> decide({"status": "error", "error": "empty file"}, Policy())
    ('reject', ['decode error: empty file'])
    """
    steps: list[tuple[str, str]] = []
    if row.get(S.STATUS) != S.STATUS_OK:
        err = row.get(S.ERROR)
        steps.append(
            (
                REJECT if policy.reject_on_error else REVIEW,
                f"{KIND_ERROR}: {err if _present(err) else 'the photo could not be read'}",
            )
        )
        return _combine(steps)

    for flag in _seq(row.get(S.QUALITY_FLAGS)):
        steps.append((policy.flag_action(str(flag)), f"{KIND_QUALITY}: {flag}"))
    note = row.get(S.DUPLICATE_NOTE)
    if _present(note):  # names both photos (and contributors, items) of a copy
        steps.append((ACCEPT, f"{KIND_QUALITY}: {note}"))

    steps += _label_steps(row, policy)

    # A check that could not run on this photo leaves it unchecked: a person
    # looks (a photo whose text was not checked is never released as clean).
    for column, what in ((S.QUALITY_ERROR, "quality check"), (S.TEXT_ERROR, "text check")):
        if _present(row.get(column)):
            steps.append((policy.check_failed, f"{KIND_CHECK}: {what} failed: {row[column]}"))

    pii = sorted({str(t) for t in _seq(row.get(S.PII_TYPES))})
    if pii and _is_false(row.get(S.RELEASE_VERIFIED)):
        steps.append(
            (
                policy.pii_unredacted,
                f"{S.REASON_PII_STILL_READABLE}: {', '.join(pii)} could still be read after "
                "redaction, so no copy was released; redact it by hand or reject it",
            )
        )
    elif pii:
        if _present(row.get(S.REDACTED_PATH)) or S.REDACTED_PATH not in row:
            steps.append((ACCEPT, f"{KIND_PII}: {', '.join(pii)} (released redacted)"))
        else:
            steps.append(
                (
                    policy.pii_unredacted,
                    f"{KIND_PII}: {', '.join(pii)} found but no redacted copy was written",
                )
            )
    return _combine(steps)


def _combine(steps: Sequence[tuple[str, str]]) -> tuple[str, list[str]]:
    decision = max((a for a, _ in steps), key=_SEVERITY.__getitem__, default=ACCEPT)
    return decision, [r for _, r in steps]


def decide_row(row: Mapping[str, Any], policy: Policy) -> dict[str, Any]:
    """:func:`decide` as the stage's output columns."""
    decision, reasons = decide(row, policy)
    return {S.DECISION: decision, S.REASONS: reasons}


def decide_stage(df: DataFrame, policy: Policy) -> DataFrame:
    """Add :data:`S.DECISION` and :data:`S.REASONS` from whatever measures the table has.

    Runs last: columns of stages that did not run are simply not considered.

    Example::

        df = decide_stage(df, load_policy("crowdlens.toml"))
    """
    compute = functools.partial(decide_row, policy=policy)
    return map_rows(df, compute, (), OUTPUTS, name="decide", optional=INPUTS)
