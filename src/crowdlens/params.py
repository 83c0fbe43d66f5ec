"""Constraints as data: what each setting may hold, checked by one function.

In the manner of scikit-learn's ``utils/_param_validation``: a config class
declares a table ``PARAMS`` (setting name -> constraint), and ``RULES`` for
checks across settings, and calls :func:`validate` from ``__post_init__``. The same table gives the one message
shape for a bad value, the valid ranges printed into docs/configuration.md
(``scripts/config_doc.py``), and the command-line choices (:func:`choices`),
so none of them can drift from the others.

Example::

    @dataclass(frozen=True)
    class BlurConfig:
        radius: int = 3
        mode: str = "gauss"

        PARAMS: ClassVar[Params] = {
            "radius": Interval(int, 1, 64),
            "mode": Options(("gauss", "box")),
        }

        def __post_init__(self) -> None:
            validate(self)

    BlurConfig(radius=0)
    # ConfigError: The 'radius' parameter of BlurConfig must be an int in [1, 64]. Got 0.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from crowdlens.errors import param_error

_CLOSED = ("both", "left", "right", "neither")


class Constraint:
    """A rule one setting's value must follow, and its description for messages and docs."""

    def ok(self, value: Any) -> bool:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


Params = Mapping[str, Constraint]


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


@dataclass(frozen=True)
class Interval(Constraint):
    """An int or float between ``left`` and ``right`` (``None``: unbounded on that side).

    >>> Interval(float, 0, 1, closed="right").describe()
    'a float in (0, 1]'
    >>> Interval(int, 1, None, note="0 = off").describe()
    'an int >= 1 (0 = off)'
    """

    type: type
    left: float | None
    right: float | None
    closed: str = "both"
    note: str = ""

    def __post_init__(self) -> None:
        if self.closed not in _CLOSED or self.type not in (int, float):
            raise TypeError(f"Interval(type in (int, float), closed in {_CLOSED}); got {self!r}")

    def ok(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.type is int and not isinstance(value, int):
            return False
        lo_in = self.closed in ("both", "left")
        hi_in = self.closed in ("both", "right")
        if self.left is not None and not (value >= self.left if lo_in else value > self.left):
            return False
        return self.right is None or (value <= self.right if hi_in else value < self.right)

    def describe(self) -> str:
        kind = "an int" if self.type is int else "a float"
        lo_in = self.closed in ("both", "left")
        hi_in = self.closed in ("both", "right")
        if self.left is not None and self.right is not None:
            span = f"({_num(self.left)}, {_num(self.right)})"
            if self.closed == "neither":
                text = f"{kind} in the open interval {span}"
            else:
                text = f"{kind} in {'[' if lo_in else '('}{span[1:-1]}{']' if hi_in else ')'}"
        elif self.left is not None:
            text = f"{kind} {'>=' if lo_in else '>'} {_num(self.left)}"
        elif self.right is not None:
            text = f"{kind} {'<=' if hi_in else '<'} {_num(self.right)}"
        else:
            text = kind
        return f"{text} ({self.note})" if self.note else text


@dataclass(frozen=True)
class Options(Constraint):
    """One of a fixed set of values.

    >>> Options(("blur", "fill")).describe()
    'one of blur, fill'
    """

    values: tuple[Any, ...]
    note: str = ""
    ignore_case: bool = False

    def ok(self, value: Any) -> bool:
        if self.ignore_case and isinstance(value, str):
            return value.upper() in {str(v).upper() for v in self.values}
        return value in self.values and not isinstance(value, bool)

    def describe(self) -> str:
        text = f"one of {', '.join(map(str, self.values))}"
        return f"{text} ({self.note})" if self.note else text


@dataclass(frozen=True)
class NonEmpty(Constraint):
    """A string with something in it besides spaces: ``NonEmpty("column name")``."""

    what: str = "string"

    def ok(self, value: Any) -> bool:
        return isinstance(value, str) and bool(value.strip())

    def describe(self) -> str:
        return f"a non-empty {self.what}"


@dataclass(frozen=True)
class Pattern(Constraint):
    """A string matching a regular expression (the whole of it)."""

    regex: str
    text: str

    def ok(self, value: Any) -> bool:
        return isinstance(value, str) and re.fullmatch(self.regex, value) is not None

    def describe(self) -> str:
        return self.text


@dataclass(frozen=True)
class Each(Constraint):
    """A list (tuple) whose every item follows ``item``, with at least ``min_len`` items."""

    item: Constraint
    text: str
    min_len: int = 0

    def ok(self, value: Any) -> bool:
        if not isinstance(value, tuple | list) or len(value) < self.min_len:
            return False
        return all(self.item.ok(v) for v in value)

    def describe(self) -> str:
        return self.text


@dataclass(frozen=True)
class OrNone(Constraint):
    """``inner``, or ``None`` (which means ``meaning``: "off", "the mode's default", ...)."""

    inner: Constraint
    meaning: str = "off"

    def ok(self, value: Any) -> bool:
        return value is None or self.inner.ok(value)

    def describe(self) -> str:
        return f"{self.inner.describe()} or None" + (f" ({self.meaning})" if self.meaning else "")


@dataclass(frozen=True)
class Satisfies(Constraint):
    """Any other rule: a predicate and the words for it."""

    test: Callable[[Any], bool]
    text: str

    def ok(self, value: Any) -> bool:
        try:
            return bool(self.test(value))
        except (TypeError, ValueError, AttributeError):
            return False

    def describe(self) -> str:
        return self.text


@dataclass(frozen=True)
class Rule:
    """A check across settings, run after each setting passed its own: ``test(config)``.

    ``name`` is the setting the message blames; ``text`` is what it must be.

    >>> Rule("hi", lambda c: c.hi > c.lo, "greater than lo").text
    'greater than lo'
    """

    name: str
    test: Callable[[Any], bool]
    text: str


def validate(obj: object) -> None:
    """Check ``obj`` against its class's ``PARAMS``, then its ``RULES``; raise on the first miss."""
    owner = type(obj).__name__
    for name, constraint in params_of(type(obj)).items():
        value = getattr(obj, name)
        if not constraint.ok(value):
            raise param_error(owner, name, constraint.describe(), value)
    for rule in rules_of(type(obj)):
        if not rule.test(obj):
            raise param_error(owner, rule.name, rule.text, getattr(obj, rule.name))


def rules_of(cls: type) -> tuple[Rule, ...]:
    """The cross-setting ``RULES`` of a config class (empty when it declares none)."""
    return getattr(cls, "RULES", ())


def params_of(cls: type) -> Params:
    """The ``PARAMS`` table of a config class (empty when it declares none)."""
    return getattr(cls, "PARAMS", {})


def choices(cls: type, name: str) -> tuple[Any, ...]:
    """The values :class:`Options` allows for ``cls.name``: the CLI offers exactly these.

    >>> from crowdlens.text.config import TextConfig
    >>> choices(TextConfig, "redact_mode")
    ('blur', 'pixelate', 'fill')
    """
    c = params_of(cls).get(name)
    while isinstance(c, OrNone):
        c = c.inner
    if not isinstance(c, Options):
        raise TypeError(f"{cls.__name__}.{name} is not declared with Options(...) in its PARAMS")
    return c.values


def describe(cls: type, names: Iterable[str]) -> dict[str, str]:
    """``name -> what it must be`` for the settings of ``cls`` that declare a constraint."""
    table = params_of(cls)
    return {n: table[n].describe() for n in names if n in table}
