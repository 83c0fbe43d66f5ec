"""Every ``crowdlens COMMAND`` that a message, help text or docstring in src/ names exists.

A message that tells users to run a command the CLI does not have is a dead
end (two once said ``crowdlens models ...``). This collects every command a
string literal in src/ names and checks it against the real parser.
"""

from __future__ import annotations

import argparse
import ast
import re
from pathlib import Path

from crowdlens.cli import build_parser

SRC = Path(__file__).resolve().parents[1] / "src" / "crowdlens"

# A command mention: "crowdlens WORD" after a quote, backtick or parenthesis,
# after "run ", or indented at the start of a line (an example in help text).
# Prose ("the rest of crowdlens sees ...") has a single space before it.
MENTION = re.compile(r"""(?:['"`(]|\brun |^[ \t]+|\n[ \t]+|\$ )crowdlens ([a-z][a-z0-9_-]*)""")


def _strings(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def named_commands() -> dict[str, list[str]]:
    """Command name -> where it is named (file:line), over every string in src/."""
    found: dict[str, list[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        for line, text in _strings(path):
            for m in MENTION.finditer(text):
                where = f"{path.relative_to(SRC)}:{line}"
                found.setdefault(m.group(1), []).append(where)
    return found


def cli_commands() -> set[str]:
    parser = build_parser()
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert len(subs) == 1
    return set(subs[0].choices)


def test_the_scan_finds_command_mentions():
    # Guards the regex: these are named in help epilogs and error messages today.
    found = named_commands()
    for name in ("moderate", "train", "review", "inspect", "import-onnx", "export-model"):
        assert name in found, name


def test_the_scan_catches_a_command_that_does_not_exist():
    assert [m.group(1) for m in MENTION.finditer("model name (crowdlens models list)")] == [
        "models"
    ]
    assert [m.group(1) for m in MENTION.finditer("run 'crowdlens models export'")] == ["models"]
    assert not list(MENTION.finditer("The rest of crowdlens sees only OCR"))


def test_every_command_named_in_src_exists():
    known = cli_commands()
    missing = {name: where for name, where in named_commands().items() if name not in known}
    assert not missing, (
        f"strings in src/ name crowdlens commands that do not exist: {missing}; "
        f"commands: {sorted(known)}"
    )
