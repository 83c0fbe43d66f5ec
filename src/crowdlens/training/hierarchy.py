"""Label hierarchy: parent (coarse) labels and accuracy at the parent level.

Where parent labels come from, in order:

1. a manifest column (``--parent-label-column``, e.g. item -> item group);
2. a ``classes.csv`` beside (or one folder above) the photo folder, with
   ``Class Name`` and ``Coarse Class Name`` columns (the grocery data set's);
3. the folder layout ``<Group>/<Coarse>/<Fine>/photo.jpg``: the folder above
   the label folder, for photos at the deepest level; a label whose photos sit
   one level higher (``<Group>/<Fine>/photo.jpg``) is its own parent.

Example::

    parents = {"Granny-Smith": "Apple", "Pink-Lady": "Apple", "Banana": "Banana"}
    parent_accuracy(["Granny-Smith", "Banana"], ["Pink-Lady", "Banana"], parents)  # 1.0
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

log = logging.getLogger(__name__)

CLASSES_FILE = "classes.csv"
_FINE = ("Class Name (str)", "Class Name", "class", "label")
_COARSE = ("Coarse Class Name (str)", "Coarse Class Name", "coarse", "parent_label")


def read_classes_csv(path: str | Path) -> dict[str, str]:
    """Fine -> coarse label map from a ``classes.csv``; ``{}`` if the columns are absent."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return {}
    cols = {c.strip(): c for c in rows[0]}
    fine = next((cols[c] for c in _FINE if c in cols), None)
    coarse = next((cols[c] for c in _COARSE if c in cols), None)
    if fine is None or coarse is None:
        return {}
    return {r[fine].strip(): r[coarse].strip() for r in rows if r[fine] and r[coarse]}


def find_classes_csv(root: str | Path) -> Path | None:
    """A ``classes.csv`` in ``root`` or its parent folder (train/ and val/ share one)."""
    root = Path(root)
    for d in (root, root.parent):
        if (d / CLASSES_FILE).is_file():
            return d / CLASSES_FILE
    return None


def parents_from_layout(root: str | Path, paths: Sequence[str]) -> dict[str, str]:
    """Fine -> coarse map from the folder layout (see the module docstring)."""
    root = Path(root).resolve()
    rel = [Path(p).resolve().relative_to(root).parts for p in paths]
    if not rel:
        return {}
    deepest = max(len(r) for r in rel)
    out: dict[str, str] = {}
    for parts in rel:
        if len(parts) < 2:
            continue
        fine = parts[-2]
        coarse = parts[-3] if len(parts) == deepest and len(parts) >= 4 else fine
        out.setdefault(fine, coarse)
    return out


def parent_map(root: str | Path, paths: Sequence[str]) -> dict[str, str]:
    """Fine -> coarse for a photo folder: ``classes.csv`` if found, else the layout."""
    found = find_classes_csv(root)
    if found is not None:
        mapping = read_classes_csv(found)
        if mapping:
            log.info("parent labels from %s (%d classes)", found, len(mapping))
            return mapping
    return parents_from_layout(root, paths)


def parent_accuracy(
    predicted: Sequence[str], actual: Sequence[str], parents: Mapping[str, str]
) -> float:
    """Fraction of photos whose predicted label has the same parent as the true one.

    A label missing from ``parents`` is its own parent.
    """
    if not actual:
        return float("nan")
    hits = sum(parents.get(p, p) == parents.get(a, a) for p, a in zip(predicted, actual))
    return hits / len(actual)
