"""Thumbnails with text polygons drawn on them, as inline data URIs (pure PIL)."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crowdlens import schema as S

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

Polygon = Sequence[Sequence[float]]


def region_polygons(regions: Iterable[Any] | None) -> list[tuple[list[tuple[float, float]], bool]]:
    """``(points, has_pii)`` for every text region with at least 3 points."""
    out = []
    for r in regions if regions is not None else []:
        get = r.get if isinstance(r, dict) else (lambda k, r=r: getattr(r, k, None))
        poly = get(S.REGION_POLYGON)
        if poly is None:
            continue
        pts = [(float(p[0]), float(p[1])) for p in poly if p is not None and len(p) >= 2]
        pii = get(S.REGION_PII_TYPES)
        if len(pts) >= 3:
            out.append((pts, pii is not None and len(pii) > 0))
    return out


def draw_polygons(
    image: Image.Image,
    regions: Iterable[Any] | None,
    source_size: tuple[int, int] | None = None,
) -> Image.Image:
    """A copy of ``image`` with text outlines: red for PII, yellow for other text.

    Polygons are in the coordinates of ``source_size`` (the decoded photo);
    they are scaled to ``image``, which may be a thumbnail.
    """
    from PIL import ImageDraw

    out = image.copy()
    sx = sy = 1.0
    if source_size and source_size[0] and source_size[1]:
        sx, sy = out.width / source_size[0], out.height / source_size[1]
    draw = ImageDraw.Draw(out)
    width = max(1, round(min(out.size) / 120))
    for pts, pii in region_polygons(regions):
        scaled = [(x * sx, y * sy) for x, y in pts]
        draw.line([*scaled, scaled[0]], fill=(230, 30, 30) if pii else (255, 210, 0), width=width)
    return out


def load_thumbnail(path: str | Path, size: int) -> tuple[Image.Image, tuple[int, int]] | None:
    """A thumbnail (longest side ``size``) and the full decoded size, or None if unreadable.

    ``path`` is a local path or an object-store URL (read through fsspec)."""
    from crowdlens.config import DecodeConfig
    from crowdlens.decode import DecodeError, decode_image
    from crowdlens.io.read import read_file

    data, _ = read_file(str(path), int(DecodeConfig().max_file_mb * 1e6))
    if data is None:
        return None
    try:
        decoded = decode_image(data, draft_size=(size, size))
    except (OSError, DecodeError):
        return None
    im = decoded.image
    im.thumbnail((size, size))
    return im, (decoded.width, decoded.height)


def data_uri(image: Image.Image, fmt: str = "JPEG", quality: int = 80) -> str:
    """``data:image/...;base64,...`` for an image, to inline it in HTML."""
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format=fmt, quality=quality)
    mime = "jpeg" if fmt.upper() == "JPEG" else fmt.lower()
    return f"data:image/{mime};base64," + base64.b64encode(buf.getvalue()).decode("ascii")
