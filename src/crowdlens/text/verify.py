"""Every release is verified: the redacted regions are read again.

After redaction each text line that carried personal information is cut out
of the *released* pixels (a little larger than the line) and read again by
the recogniser alone. If any personal item of that line can still be read
(:func:`still_readable`), the line is redacted more strongly (the whole
line, padded twice as much, filled with its mean colour) and read again; if
it is readable even then, no copy is released (:func:`release_copy` returns
``None``) and the photo goes to review with the reason ``pii_still_readable``.

The result is the ``release_verified`` column: ``True`` (nothing readable,
perhaps after the stronger pass), ``False`` (withheld), ``null`` (no personal
information was redacted, so there was nothing to verify: the released copy
then holds the very pixels the text stage read, losslessly for most JPEGs,
see :mod:`crowdlens.text.strip`, re-encoded otherwise).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crowdlens.text.lexicon import fold
from crowdlens.text.redact import as_rgb, cover_polygon, redact, rgb_array

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    from PIL import Image

    from crowdlens.text.config import TextConfig
    from crowdlens.text.ocr import Polygon
    from crowdlens.text.photo import PhotoText
    from crowdlens.text.redact import Photo


@dataclass(frozen=True)
class Verified:
    """A released image (``None`` when withheld) and the verification result."""

    image: Image.Image | None
    verified: bool | None
    strengthened: int = 0  # lines that needed the stronger pass


def _norm(text: str) -> str:
    return re.sub(r"[^0-9a-zß]", "", fold(text))


def still_readable(secret: str, read: str) -> bool:
    """Whether any identifying part of ``secret`` appears in the ``read`` text.

    Five digits in a row of a number, or any word of three letters or more
    (a surname alone still identifies someone), count as readable.

    >>> still_readable("+44 20 7946 0958", "Tel +44 2O 7946 0958")
    True
    >>> still_readable("Ana Lopez", "Name: ;:'.,")
    False
    >>> still_readable("Ana Lopez", "Name: LOPEZ")
    True
    """
    digits = re.sub(r"\D", "", secret)
    got_digits = re.sub(r"\D", "", read)
    if len(digits) >= 5 and any(digits[i : i + 5] in got_digits for i in range(len(digits) - 4)):
        return True
    got = _norm(read)
    tokens = [_norm(t) for t in re.split(r"[\s@._+-]+", secret)]
    return any(len(t) >= 3 and not t.isdigit() and t in got for t in tokens)


def line_crop(rgb: np.ndarray, polygon: Polygon, margin: float = 0.3) -> np.ndarray:
    """The rotated text line ``polygon`` cut out level, ``margin`` line heights larger."""
    import cv2
    import numpy as np

    pts = np.asarray(polygon, dtype=np.float32).reshape(-1, 2)
    box = cover_polygon([pts.tolist()], margin)
    # Order the corners: top-left, top-right, bottom-right, bottom-left.
    s, d = box.sum(axis=1), np.diff(box, axis=1).ravel()
    ordered = np.array([box[s.argmin()], box[d.argmin()], box[s.argmax()], box[d.argmax()]])
    w = int(max(np.linalg.norm(ordered[0] - ordered[1]), np.linalg.norm(ordered[3] - ordered[2])))
    h = int(max(np.linalg.norm(ordered[0] - ordered[3]), np.linalg.norm(ordered[1] - ordered[2])))
    w, h = max(w, 2), max(h, 2)
    target = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    m = cv2.getPerspectiveTransform(ordered.astype(np.float32), target)
    crop = cv2.warpPerspective(rgb, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    if h > 1.5 * w:  # a vertical line: turn it so the recogniser reads along it
        crop = np.rot90(crop)
    return np.ascontiguousarray(crop)


def readable_lines(image: Photo, found: PhotoText, ocr: object) -> list[int]:
    """Indexes of the PII lines of ``found`` on which a personal item can still be read."""
    rgb = rgb_array(image)
    lines = sorted(found.secrets)
    crops = [line_crop(rgb, found.lines[i].polygon) for i in lines]
    recognize = getattr(ocr, "recognize", None)
    if recognize is not None:
        texts = recognize(crops)
    else:  # an OCR with only ``read``: read each crop whole
        texts = [" ".join(ln.text for ln in ocr.read(c)) for c in crops]  # type: ignore[attr-defined]
    return [
        i
        for i, text in zip(lines, texts)
        if any(still_readable(secret, text) for secret in found.secrets[i])
    ]


def release_copy(image: Photo, found: PhotoText, cfg: TextConfig, ocr: object) -> Verified:
    """Redact ``image`` where ``found`` says, verify the result, strengthen or withhold.

    ``image``: the photo as a Pillow image or as H x W x 3 uint8 RGB pixels;
    the released image is a new Pillow image.

    Example::

        found = read_photo(rgb, cfg, ocr=ocr, analyzer=analyzer)
        out = release_copy(photo, found, cfg, ocr)
        if out.image is not None:
            save_clean(out.image, "released.jpg")
    """
    if not found.cover:
        return Verified(as_rgb(image), None)
    released = redact(image, found.cover, cfg.redact_mode)
    bad = readable_lines(released, found, ocr)
    if not bad:
        return Verified(released, True)
    stronger = [cover_polygon([found.lines[i].polygon], max(2 * cfg.padding, 0.5)) for i in bad]
    released = redact(released, stronger, "fill")
    if readable_lines(released, found, ocr):
        return Verified(None, False, len(bad))
    return Verified(released, True, len(bad))
