"""What the review server may read, and how it shows a photo.

Files are served only when they resolve (symlinks followed) inside the
results folder or an explicitly allowed photo root; photos are re-encoded as
downscaled JPEGs without metadata, optionally blurred where personal
information was found (what the release copy shows).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from crowdlens import schema as S


def inside(path: str | Path, roots: list[Path]) -> Path | None:
    """``path`` resolved (symlinks followed) if it is a file inside one of ``roots``, else None."""
    try:
        real = Path(path).resolve(strict=True)
    except (OSError, RuntimeError, ValueError):
        return None
    if not real.is_file():
        return None
    return real if any(real.is_relative_to(Path(r).resolve()) for r in roots) else None


def render_photo(
    item: dict[str, Any], variant: str, results_dir: Path, roots: list[Path], max_side: int
) -> bytes:
    """A downscaled JPEG (no metadata) of a queue photo; ``blur`` shows what is released.

    ``blur`` is the redacted copy when the pipeline wrote one, otherwise a
    preview blurred here over the regions with personal information.
    """
    from PIL import Image

    from crowdlens.decode import decode_image
    from crowdlens.text.redact import local_path

    def resolve(p: Any) -> Path | None:
        if not isinstance(p, str) or not p or "://" in local_path(p):
            return None
        q = Path(local_path(p))
        return inside(q if q.is_absolute() else results_dir / q, roots)

    source = None
    blur_here = False
    if variant == "blur":
        source = resolve(item.get(S.REDACTED_PATH))
    if source is None:
        source = resolve(item.get(S.PATH))
        blur_here = variant == "blur"
    if source is None:
        raise PermissionError(
            "this photo is outside the folders the server may read: restart with "
            "--photos-root <the input folder> to show originals"
        )
    im: Image.Image = decode_image(source.read_bytes()).image
    if blur_here:
        regions = [
            r.get("polygon")
            for r in item.get(S.TEXT_REGIONS) or []
            if r and r.get("polygon") and r.get("pii_types")
        ]
        if regions:
            from crowdlens.text.redact import redact

            im = redact(im, regions, mode="blur")
    im.thumbnail((max_side, max_side))
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=85)
    return buf.getvalue()
