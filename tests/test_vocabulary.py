"""Value vocabularies live in ``crowdlens.schema``; no module spells them loose.

A decision, verdict, status, flag, relation, duplicate kind or review action
written as a string where code *tests or keys on* it (``== "reject"``,
``{"accept": ..., "reject": ...}``, ``row["polygon"]``, ``("accept", "review", "reject")``)
drifts from the schema the day one of them is renamed. The scan reads every
module under ``src/crowdlens`` with :mod:`ast` and flags only those contexts,
so docstrings, log messages and prose that happen to use the same words pass.

Struct-field names (``label``, ``score``, ``text``, ...) are ordinary words, so
they are flagged only where code reads a field (subscript, ``.get``) or builds
a struct (a dict literal whose two or more keys are all fields of one struct).

A value imported from a second home (``from crowdlens.stages.decide import
ACCEPT``) is refused too: import it from the schema.

A line that means another thing by the same word says so with a trailing
``# vocabulary: <why>`` comment.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from crowdlens import schema as S

SRC = Path(__file__).resolve().parents[1] / "src" / "crowdlens"
PRAGMA = "# vocabulary:"

_VALUE_PREFIXES = ("STATUS_", "FLAG_", "VERDICT_", "RELATION_", "DECISION_", "DUPLICATE_")
_VALUE_TUPLES = ("REVIEW_ACTIONS", "REVIEW_STATES", "REVIEW_SHOWS")
_NOT_VALUES = {"DUPLICATE_OF", "DUPLICATE_KIND", "DUPLICATE_NOTE", "DUPLICATE_CROSS_SUFFIX"}
STRUCTS = {
    "TOPK": (S.TOPK_LABEL, S.TOPK_SCORE),
    "TEXT_REGIONS": (S.REGION_POLYGON, S.REGION_TEXT, S.REGION_CONFIDENCE, S.REGION_PII_TYPES),
}
_GETTERS = ("get", "pop", "setdefault")


def vocabulary() -> dict[str, str]:
    """Every value word -> the schema name that holds it."""
    out: dict[str, str] = {}
    for name in dir(S):
        value = getattr(S, name)
        if name.startswith(_VALUE_PREFIXES) and name not in _NOT_VALUES and isinstance(value, str):
            out.setdefault(value, f"S.{name}")
    named = {getattr(S, n): n for n in dir(S) if n.startswith("REVIEW_")}
    for name in _VALUE_TUPLES:
        for value in getattr(S, name):
            out.setdefault(value, f"S.{named.get(value, name)}")
    out.setdefault(S.REASON_PII_STILL_READABLE, "S.REASON_PII_STILL_READABLE")
    return out


def _strings(nodes: list[ast.expr | None]) -> list[ast.Constant]:
    return [n for n in nodes if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _keyed(node: ast.AST) -> list[ast.Constant]:
    """String literals that ``node`` compares against, keys on or reads a field by."""
    if isinstance(node, ast.Compare):
        sides = [node.left, *node.comparators]
        inner = [e for s in sides if isinstance(s, ast.Tuple | ast.List | ast.Set) for e in s.elts]
        return _strings([*sides, *inner])
    if isinstance(node, ast.Subscript):
        return _strings([node.slice])
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
        return _strings(node.values[-1:])  # a fallback value: `kind or "near"`
    if isinstance(node, ast.Call) and node.args:
        name = getattr(node.func, "attr", getattr(node.func, "id", None))
        if name == "isin":
            return _strings(list(node.args))
        return _strings(node.args[:1]) if name in _GETTERS else []  # the key, not the default
    return []


def _mapped(node: ast.AST, values: dict[str, str]) -> list[ast.Constant]:
    """Keys of a dict literal keyed by two or more vocabulary words (``COLORS = {...}``).

    One such key among others is a JSON field that shares a word (``{"error": msg}``).
    """
    if not isinstance(node, ast.Dict):
        return []
    found = [k for k in _strings(list(node.keys)) if k.value in values]
    return found if len(found) >= 2 else []


def _listed(node: ast.AST, values: dict[str, str]) -> list[ast.Constant]:
    """A tuple/list/set of two or more vocabulary words and nothing else: a copied list."""
    if not isinstance(node, ast.Tuple | ast.List | ast.Set) or len(node.elts) < 2:
        return []
    found = [e for e in _strings(node.elts) if e.value in values]
    return found if len(found) == len(node.elts) else []


def _renamed(node: ast.AST, values: dict[str, str]) -> list[ast.Constant]:
    """``ACCEPT = "accept"``: a second constant for a word the schema already names."""
    if not isinstance(node, ast.Assign) or not isinstance(node.value, ast.Constant):
        return []
    named = all(isinstance(t, ast.Name) and t.id.isupper() for t in node.targets)
    return _strings([node.value]) if named and node.value.value in values else []


def _struct_fields(node: ast.AST) -> list[ast.Constant]:
    if isinstance(node, ast.Dict):
        keys = _strings(list(node.keys))
        names = {k.value for k in keys}
        struct = len(keys) == len(node.keys) >= 2
        return [k for k in keys if struct and any(names <= set(f) for f in STRUCTS.values())]
    if isinstance(node, ast.Subscript | ast.Call):
        fields = {f for fs in STRUCTS.values() for f in fs}
        return [c for c in _keyed(node) if c.value in fields]
    return []


def loose_copies(source: str, values: dict[str, str] | None = None) -> list[tuple[int, str, str]]:
    """``(line, word, schema name)`` for each loose vocabulary string in ``source``."""
    values = vocabulary() if values is None else values
    lines = source.splitlines()
    hits = set()
    for node in ast.walk(ast.parse(source)):
        keyed = [c for c in _keyed(node) if c.value in values]
        for c in [*keyed, *_mapped(node, values), *_listed(node, values), *_renamed(node, values)]:
            hits.add((c.lineno, c.value, values[c.value]))
        for c in _struct_fields(node):
            hits.add((c.lineno, c.value, "a REGION_* / TOPK_* field name"))
    return sorted(h for h in hits if PRAGMA not in lines[h[0] - 1])


def borrowed(source: str, values: dict[str, str] | None = None) -> list[tuple[int, str, str]]:
    """``from crowdlens.stages.decide import ACCEPT``: a value taken from a second home."""
    values = vocabulary() if values is None else values
    out = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith("crowdlens"):
            continue
        if node.module == "crowdlens.schema":
            continue
        module = importlib.import_module(node.module)
        for alias in node.names:
            value = getattr(module, alias.name, None)
            if isinstance(value, str) and value in values:
                out.append((node.lineno, f"{node.module}.{alias.name}", values[value]))
    return out


def test_the_scan_catches_real_loose_copies() -> None:
    src = (
        'COLORS = {"accept": "#3a923a", "review": "#e0a020", "reject": "#c03030"}\n'
        'if verdict == "mismatch": pass\n'
        'order = ("accept", "review", "reject")\n'
        'poly = region.get("polygon")\n'
        'region = {"polygon": p, "text": t}\n'
        'ok = status in (None, "ok")\n'
        'kind = row["near"]\n'
        'REJECT = "reject"\n'
        'kind = found or "near"\n'
    )
    found = {(line, word) for line, word, _ in loose_copies(src)}
    assert found == {
        (1, "accept"),
        (1, "review"),
        (1, "reject"),
        (2, "mismatch"),
        (3, "accept"),
        (3, "review"),
        (3, "reject"),
        (4, "polygon"),
        (5, "polygon"),
        (5, "text"),
        (6, "ok"),
        (7, "near"),
        (8, "reject"),
        (9, "near"),
    }


def test_the_scan_leaves_prose_and_other_meanings_alone() -> None:
    src = (
        '"""Photos to accept, review or reject; a mismatch is blurry."""\n'
        'log.info("accept %d, review %d", a, b)\n'
        'msg = f"decision must be accept or review, got {x}"\n'
        'ctx = {"label": lbl, "text": txt, "id": i}\n'
        'sort_keys = {"score": by_score, "label": by_label, "id": by_id}\n'
        'x = cfg.get("review", {})  # vocabulary: the [review] section of a config file\n'
        'body = {"photo": p, "error": msg}\n'
        'arch = meta.get("architecture", "unknown")\n'
        'Mode = "review"\n'
        'parser.add_argument("--mode", choices=["blur", "fill"])\n'
    )
    assert loose_copies(src) == []


def test_the_import_scan_catches_a_second_home() -> None:
    src = "from crowdlens.stages.decide import ACCEPT, Policy\nfrom crowdlens import schema as S\n"
    assert borrowed(src) == [(1, "crowdlens.stages.decide.ACCEPT", "S.DECISION_ACCEPT")]


@pytest.mark.parametrize(
    "path", sorted(p for p in SRC.rglob("*.py") if p.name != "schema.py"), ids=str
)
def test_no_module_keeps_a_loose_copy(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    where = path.relative_to(SRC.parent)
    spelled = [
        f"{where}:{line}: {word!r} is {name} in crowdlens.schema; import it "
        f"(or end the line with '{PRAGMA} <why>' if the word means something else)"
        for line, word, name in loose_copies(source)
    ]
    imported = [
        f"{where}:{line}: {what} is {name}; import it from crowdlens.schema"
        for line, what, name in borrowed(source)
    ]
    assert not spelled + imported, "\n".join(spelled + imported)
