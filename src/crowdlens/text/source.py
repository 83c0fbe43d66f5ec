"""The pixels the text stage works on, decoded no larger than it needs.

The gate shrinks every photo to 960 px and the recogniser cuts its lines
from a copy of at most ``ocr_max_side`` (2000) px, so a 12 MP photo (4000 x
3000) decoded in full is shrunk twice and its full size is used only to
redact and re-encode. A :class:`TextSource` therefore decodes a large JPEG
at 1/2 DCT scale (Pillow ``draft``) for the text work when that copy is
still at least ``ocr_max_side`` long, so recognition reads lines at the
resolution it always did; the full-size decode happens only when it is
asked for (to redact a photo with personal information, or to re-encode
one that cannot be released losslessly, see :mod:`crowdlens.text.strip`).
Not 1/4: the gate on a 1/4-scale decode lost a passport number
(docs/benchmarks.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image


class TextSource:
    """One photo's bytes, its working copy for the text work and (on demand) its full decode.

    ``scale`` is (full width / working width, full height / working height):
    multiply working-copy pixels by it to get full-size pixels.

    Example::

        src = TextSource(jpeg_bytes, half=True, min_side=2000)
        found = read_photo(np.asarray(src.work), cfg, ocr=ocr, analyzer=analyzer)
        clean = redact(src.full(), scale_found(found, src.scale).cover)
    """

    def __init__(self, data: bytes | None, *, half: bool, min_side: int) -> None:
        from crowdlens.decode import decode_image

        self.data = data
        self._full: Image.Image | None = None
        draft = _half_size(data, min_side) if half else None
        decoded = decode_image(data, draft_size=draft)
        self.work = decoded.image
        self.scale = (decoded.width / self.work.width, decoded.height / self.work.height)
        if self.scale == (1.0, 1.0):
            self._full = self.work

    @property
    def reduced(self) -> bool:
        """Whether the working copy is smaller than the photo."""
        return self._full is not self.work

    def full(self) -> Image.Image:
        """The photo at full size (decoded on the first call when the working copy is reduced)."""
        if self._full is None:
            from crowdlens.decode import decode_image

            self._full = decode_image(self.data).image
        return self._full


def _half_size(data: bytes | None, min_side: int) -> tuple[int, int] | None:
    """The draft size for a 1/2-scale decode, or None when the photo should be read in full.

    Only JPEGs whose half is still at least ``min_side`` on its long side
    (the recogniser's own limit): smaller photos are read as they are.
    """
    import io
    import warnings

    from PIL import Image

    if not data or data[:3] != b"\xff\xd8\xff":
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a bomb is refused by decode_image
            with Image.open(io.BytesIO(data)) as im:
                w, h = im.size
    except Exception:  # decode_image reports what is wrong with the file
        return None
    if max(w, h) // 2 < min_side:
        return None
    return (w + 1) // 2, (h + 1) // 2
