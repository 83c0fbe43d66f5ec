"""Files a run writes beside its results, and the one way to find them again.

The results table stores the released copy (``redacted_path``) and the
reviewer preview (``text_preview_path``) **relative to the results folder**,
as POSIX paths (``redacted/aisle-3/p17.jpg``). A results folder can then be
moved, copied or read from another working directory and its pictures still
resolve; nothing depends on where the job was started.

Every reader (report, review server, release) resolves a stored value with
:func:`resolve_output`. When the file is not there, readers show a
placeholder that says so: they never substitute the contributor's original,
which may carry personal data that the released copy hides.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

from crowdlens.io.fs import is_url, join

#: Folders below the results folder.
RELEASED_DIR = "redacted"
PREVIEWS_DIR = "text_previews"


def local_path(path: str) -> str:
    """A filesystem path from Spark's ``file:`` URIs (other schemes are kept).

    >>> local_path("file:///data/a%20b.jpg")
    '/data/a b.jpg'
    """
    if path.startswith("file:"):
        return unquote(urlparse(path).path)
    return path


def output_target(out_dir: str, stored: str) -> str:
    """Where a stored relative output path is written, below ``out_dir`` (path or URL).

    >>> output_target("s3://b/run", "redacted/x.jpg")
    's3://b/run/redacted/x.jpg'
    >>> output_target("out/run", "redacted/x.jpg")
    'out/run/redacted/x.jpg'
    """
    if is_url(out_dir):
        return join(out_dir, stored)
    return os.path.join(out_dir, *PurePosixPath(stored).parts)


def resolve_output(results_dir: str | Path | None, stored: object) -> str | Path | None:
    """The file behind a stored ``redacted_path``/``text_preview_path``, or None.

    A relative value is resolved against ``results_dir`` (a folder or URL).
    Absolute paths and URLs, as older runs stored them, are taken as they
    are. Returns None for a missing value, for a relative value without a
    results folder, and for a local file that does not exist (URLs are not
    probed here: reading them says whether they exist).

    >>> resolve_output("s3://b/run", "redacted/x.jpg")
    's3://b/run/redacted/x.jpg'
    >>> resolve_output(None, "redacted/x.jpg") is None
    True
    """
    if not isinstance(stored, str) or not stored:
        return None
    p = local_path(stored)
    if is_url(p):
        return p
    if not os.path.isabs(p):
        if results_dir is None:
            return None
        base = str(results_dir)
        if is_url(base):
            return join(base, p)
        q = Path(base).joinpath(*PurePosixPath(p).parts)
    else:
        q = Path(p)
    return q if q.is_file() else None
