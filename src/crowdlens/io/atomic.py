"""Atomic local writes: build the output under a unique temporary name beside it, then rename.

One helper for every local write-then-rename in crowdlens (results, bundles,
checkpoints, redacted photos, reports, caches): a reader sees the old output
or the new one, never half of one; two writers never share a temporary name;
a failed write leaves the target untouched and no temporary behind.

Object stores are not handled here: there one PUT is already atomic, and
callers keep their own remote branch.

Example::

    with atomic_path("out/report.html") as tmp:
        tmp.write_text(html, encoding="utf-8")
    # out/report.html is now the new report
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def temp_path(target: str | os.PathLike[str]) -> Path:
    """A unique hidden name in ``target``'s folder: ``.<name>.tmp-<random>``."""
    t = Path(target)
    return t.with_name(f".{t.name}.tmp-{uuid.uuid4().hex}")


def replace_atomically(tmp: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Move ``tmp`` (a file or a folder) to ``target``.

    A file replaces a file in one ``os.replace``. A folder cannot replace a
    folder in one step: the existing one is renamed aside, the new one
    renamed in, and the old one removed.
    """
    tmp, target = Path(tmp), Path(target)
    if target.exists() and (target.is_dir() or tmp.is_dir()):
        old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex}")
        os.replace(target, old)
        os.replace(tmp, target)
        _remove(old)
    else:
        os.replace(tmp, target)


@contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a unique temporary path beside ``target``; on success it becomes ``target``.

    Write a file or a folder at the yielded path (it does not exist yet; the
    parent folder does). When the block ends normally the temporary replaces
    ``target`` (:func:`replace_atomically`); when it raises, the temporary
    is removed and ``target`` is left as it was.
    """
    t = Path(target)
    t.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(t)
    try:
        yield tmp
        replace_atomically(tmp, t)
    finally:
        _remove(tmp)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
