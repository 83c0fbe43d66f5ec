"""Making personal information unreadable, and releasing photos without metadata.

Every function returns a new image; the input (and the original file) is
never modified. Released files are re-encoded from pixels only, so no EXIF,
XMP, GPS, maker notes or text chunks can survive, and are written under a
temporary name then renamed, so a task that Spark retries overwrites a whole
file with the same whole file and never leaves half of one.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from crowdlens.io.outputs import RELEASED_DIR, local_path

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    from PIL import Image

    from crowdlens.text.ocr import Polygon

    #: A photo as the text functions take it: a Pillow image, or H x W x 3 uint8 RGB pixels.
    Photo = Image.Image | np.ndarray

#: Extensions written as they came; anything else (HEIC, TIFF, GIF, ...) becomes JPEG.
KEEP_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP"}


def as_rgb(image: Photo) -> Image.Image:
    """``image`` as an RGB Pillow image, copied only when it must be.

    An RGB image is returned as it is (``Image.convert("RGB")`` copies even
    an RGB image: 48 MB at 12 MP); an array becomes a new image.
    """
    from PIL import Image

    if not isinstance(image, Image.Image):
        return Image.fromarray(rgb_array(image))
    return image if image.mode == "RGB" else image.convert("RGB")


def rgb_array(image: Photo) -> np.ndarray:
    """``image`` as H x W x 3 uint8 RGB pixels (no copy for such an array)."""
    import numpy as np

    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(
                f"expected H x W x 3 uint8 RGB pixels, got {image.shape} {image.dtype}"
            )
        return image
    return np.asarray(as_rgb(image))


def cover_polygon(polygons: Sequence[Polygon], padding: float) -> np.ndarray:
    """One rotated rectangle over all ``polygons``, padded on every side.

    The words of one entity on one line are covered by a single rectangle,
    so the gaps between "Ana" and "Lopez" are covered too. ``padding`` is a
    fraction of the rectangle's height (its short side): descenders,
    accents and the detector's tight boxes otherwise leave readable edges.

    >>> sorted(cover_polygon([[[0, 0], [10, 0], [10, 2], [0, 2]]], 0.5).round().tolist())
    [[-1.0, -1.0], [-1.0, 3.0], [11.0, -1.0], [11.0, 3.0]]
    """
    import cv2
    import numpy as np

    pts = np.asarray([p for poly in polygons for p in poly], dtype=np.float32).reshape(-1, 2)
    (cx, cy), (w, h), angle = cv2.minAreaRect(pts)
    pad = padding * max(min(w, h), 1.0)
    rect = ((cx, cy), (w + 2 * pad, h + 2 * pad), angle)
    return cv2.boxPoints(rect).astype(np.float32)


def _obscure(patch: np.ndarray, text_height: float, mode: str) -> np.ndarray:
    """Destroy the detail of ``patch`` at the scale of text ``text_height`` high."""
    import cv2
    import numpy as np

    h, w = patch.shape[:2]
    if mode == "fill":
        return np.broadcast_to(patch.reshape(-1, 3).mean(axis=0), patch.shape).astype(np.uint8)
    # Keep about three samples per text height: strokes cannot survive that,
    # colour and light do, so the photo still looks like a photo.
    block = max(2.0, text_height / 3.0)
    small = (max(1, round(w / block)), max(1, round(h / block)))
    reduced = cv2.resize(patch, small, interpolation=cv2.INTER_AREA)
    if mode == "pixelate":
        return cv2.resize(reduced, (w, h), interpolation=cv2.INTER_NEAREST)
    up = cv2.resize(reduced, (w, h), interpolation=cv2.INTER_LINEAR)
    k = int(block) * 2 + 1
    return cv2.GaussianBlur(up, (k, k), 0)


def redact(image: Photo, regions: Sequence[np.ndarray], mode: str = "blur") -> Image.Image:
    """A copy of ``image`` with every polygon in ``regions`` blurred, pixelated or filled.

    Example::

        box = cover_polygon(word_polygons, padding=0.25)
        clean = redact(photo, [box], mode="pixelate")
    """
    import cv2
    import numpy as np
    from PIL import Image

    arr = np.array(rgb_array(image))  # a copy: the caller's image is untouched
    height, width = arr.shape[:2]
    for region in regions:
        poly = np.asarray(region, dtype=np.float32).reshape(-1, 2)
        x0, y0 = np.floor(poly.min(axis=0)).astype(int)
        x1, y1 = np.ceil(poly.max(axis=0)).astype(int)
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
        if x1 <= x0 or y1 <= y0:
            continue
        rect = cv2.minAreaRect(poly)
        text_height = max(2.0, min(rect[1]))
        patch = arr[y0:y1, x0:x1]
        obscured = _obscure(patch, text_height, mode)
        mask = np.zeros(patch.shape[:2], dtype=np.uint8)
        cv2.fillPoly(mask, [np.round(poly - [x0, y0]).astype(np.int32)], 1)
        patch[mask.astype(bool)] = obscured[mask.astype(bool)]
    return Image.fromarray(arr, mode="RGB")


def mirrored_path(
    out_dir: str, path: str, input_root: str | None, image_id: str, folder: str = RELEASED_DIR
) -> str:
    """Where the released copy of ``path`` goes: ``out_dir/<folder>/<path relative to root>``.

    With ``out_dir=""`` this is the form stored in the results (relative to
    the results folder, see :mod:`crowdlens.io.outputs`).

    Photos outside ``input_root`` (or when no root is given) go to
    ``redacted/<image_id>/<file name>``, which cannot collide. Formats that
    are not kept as they are get a ``.jpg`` suffix.

    >>> mirrored_path("/out", "file:/data/in/a/b.jpg", "/data/in", "x")
    '/out/redacted/a/b.jpg'
    >>> mirrored_path("", "s3://bucket/c.heic", None, "id7")
    'redacted/id7/c.heic.jpg'
    """
    local = PurePosixPath(local_path(path))
    rel: PurePosixPath | None = None
    if input_root:
        root = PurePosixPath(local_path(input_root))
        try:
            rel = local.relative_to(root)
        except ValueError:
            rel = None
        if rel is not None and ".." in rel.parts:
            rel = None
    if rel is None or not rel.parts:
        safe_id = "".join(c if c.isalnum() or c in "-_." else "_" for c in image_id) or "photo"
        rel = PurePosixPath(safe_id) / (local.name or "photo.jpg")
    if rel.suffix.lower() not in KEEP_FORMATS:
        rel = rel.with_name(rel.name + ".jpg")
    return os.path.join(out_dir, folder, str(rel))


def write_file(path: str, payload: bytes) -> str:
    """Write ``payload`` to ``path`` whole or not at all (local: temp + rename; object store: one PUT)."""
    if "://" in path:  # an object store: one PUT is atomic, a retry overwrites it
        from crowdlens.io.fs import filesystem

        fs, key = filesystem(path)
        fs.pipe(key, payload)
        return path
    from crowdlens.io.atomic import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_bytes(payload)
    return path


def save_clean(image: Photo, path: str, *, jpeg_quality: int = 92) -> str:
    """Write ``image`` to ``path`` without any metadata, atomically. Returns ``path``.

    The pixels are re-encoded into a fresh file: Pillow writes EXIF, XMP or
    PNG text only when asked to, and we never ask.
    """
    import io

    from PIL import Image

    fmt = KEEP_FORMATS.get(os.path.splitext(path)[1].lower(), "JPEG")
    # A new image (no ``info``: nothing of the original's metadata can be
    # written) holding the pixels, copied once.
    if isinstance(image, Image.Image):
        fresh = Image.new("RGB", image.size)
        fresh.paste(as_rgb(image))
    else:
        fresh = as_rgb(image)
    options = {"quality": jpeg_quality} if fmt in ("JPEG", "WEBP") else {}
    buf = io.BytesIO()
    fresh.save(buf, format=fmt, **options)
    return write_file(path, buf.getvalue())


def write_metadata_free(
    data: bytes, path: str, *, jpeg_quality: int = 92, image: Photo | None = None
) -> bool:
    """Write a metadata-free copy of photo ``data`` to ``path``, atomically; True if lossless.

    A JPEG (to a ``.jpg``/``.jpeg`` path) is copied losslessly when
    :func:`crowdlens.text.strip.release_bytes` accepts it; anything else is
    re-encoded from ``image`` (decoded from ``data`` when None) by :func:`save_clean`.
    The one place that decides between the two, for released and public copies.
    """
    from crowdlens.text.strip import NotLossless, release_bytes

    if path.lower().endswith((".jpg", ".jpeg")):
        try:
            write_file(path, release_bytes(data))
            return True
        except NotLossless:
            pass  # re-encoded below, as every photo used to be
    if image is None:
        from crowdlens.decode import decode_pixels

        image = decode_pixels(data)
    save_clean(image, path, jpeg_quality=jpeg_quality)
    return False
