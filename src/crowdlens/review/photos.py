"""What the review server may read, and how it shows a photo.

The grid and the "released" view show **only released copies**
(``redacted_path``, resolved with :func:`crowdlens.io.outputs.resolve_output`
and confined to the results folder). When there is none, a placeholder says
why; the contributor's original is never substituted, since it may carry
personal data the released copy hides. The original is shown only in the
detail view, and only when the server was started with ``--photos-root``.
Every picture is re-encoded as a downscaled JPEG without metadata.
"""

from __future__ import annotations

import io
import textwrap
from collections import OrderedDict
from pathlib import Path, PurePosixPath
from threading import Lock
from xml.sax.saxutils import escape

from crowdlens.io.fs import is_url
from crowdlens.io.outputs import local_path, resolve_output

VARIANTS = ("thumb", "released", "original")
THUMB_PX = 256
MAX_FILE_BYTES = 60_000_000


class NotShown(Exception):
    """A picture that cannot be shown; the message says why (for the placeholder)."""


def inside(path: str | Path, roots: list[Path]) -> Path | None:
    """``path`` resolved (symlinks followed) if it is a file inside one of ``roots``, else None."""
    try:
        real = Path(path).resolve(strict=True)
    except (OSError, RuntimeError, ValueError):
        return None
    if not real.is_file():
        return None
    return real if any(real.is_relative_to(Path(r).resolve()) for r in roots) else None


def inside_url(url: str, roots: list[str]) -> str | None:
    """``url`` if it lies below one of the URL ``roots`` (no ``..`` segments), else None.

    >>> inside_url("s3://b/run/redacted/x.jpg", ["s3://b/run"])
    's3://b/run/redacted/x.jpg'
    >>> inside_url("s3://b/run/../other/x.jpg", ["s3://b/run"]) is None
    True
    """
    if ".." in PurePosixPath(url.split("://", 1)[-1]).parts:
        return None
    return url if any(url.startswith(r.rstrip("/") + "/") for r in roots) else None


def allowed(target: str | Path, roots: list[str | Path]) -> str | Path | None:
    """A local file or URL if it is inside one of ``roots`` (local folders or URL prefixes)."""
    target = local_path(str(target))
    if is_url(target):
        return inside_url(target, [str(r) for r in roots if is_url(str(r))])
    return inside(target, [Path(r) for r in roots if not is_url(str(r))])


def released_source(results_dir: str | Path, stored: str | None) -> str | Path:
    """Where the released copy of a photo is, or :class:`NotShown` with the reason."""
    if not stored:
        raise NotShown("no released copy: the run wrote none for this photo")
    found = resolve_output(results_dir, stored)
    if found is None:
        raise NotShown("the released copy is missing from the results folder")
    ok = allowed(found, [results_dir])
    if ok is None:
        raise NotShown("the released copy is outside the results folder: not served")
    return ok


def original_source(path: str | None, roots: list[str | Path]) -> str | Path:
    """The contributor's original, only inside a ``--photos-root``; else :class:`NotShown`."""
    if not roots:
        raise NotShown(
            "originals are not shown: restart with --photos-root <the input folder> to see them"
        )
    ok = allowed(path, roots) if path else None
    if ok is None:
        raise NotShown("this photo is outside the folders given with --photos-root")
    return ok


def render_jpeg(source: str | Path, max_side: int) -> bytes:
    """Read, decode (EXIF-rotated, any mode) and downscale; a JPEG without metadata."""
    from crowdlens.decode import DecodeError, decode_image
    from crowdlens.io.read import read_file

    data, error = read_file(str(source), MAX_FILE_BYTES)
    if data is None:
        raise NotShown(f"cannot read the picture: {error}")
    try:
        im = decode_image(data, draft_size=(max_side, max_side)).image
    except DecodeError as exc:
        raise NotShown(f"cannot decode the picture: {exc}") from None
    im.thumbnail((max_side, max_side))
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=82)
    return buf.getvalue()


def placeholder_svg(reason: str, size: int = THUMB_PX) -> bytes:
    """A grey square that says why there is no picture (the text is XML-escaped)."""
    lines = textwrap.wrap(reason, 30, break_on_hyphens=False)[:7]
    text = "".join(f'<tspan x="50%" dy="1.3em">{escape(line)}</tspan>' for line in lines)
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
        f'viewBox="0 0 {THUMB_PX} {THUMB_PX}"><rect width="100%" height="100%" fill="#e4e4e4"/>'
        '<text x="50%" y="30%" text-anchor="middle" font-family="sans-serif" font-size="15" '
        f'fill="#444"><tspan x="50%" font-weight="bold">no picture</tspan>{text}</text></svg>'
    )
    return svg.encode("utf-8")


class PhotoCache:
    """The last rendered pictures (thumbnails are asked for again on every page turn)."""

    def __init__(self, capacity: int = 2000) -> None:
        self.capacity = capacity
        self._data: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._lock = Lock()

    def get(self, key: tuple[str, str]) -> bytes | None:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        return None

    def put(self, key: tuple[str, str], value: bytes) -> None:
        with self._lock:
            self._data[key] = value
            while len(self._data) > self.capacity:
                self._data.popitem(last=False)
