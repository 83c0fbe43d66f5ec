"""Perceptual hash (pHash) of a photo, as 16 hex digits, and Hamming distance.

The algorithm is the one of ``imagehash.phash`` (grey, 32x32 Lanczos, 2-D
DCT-II, top-left 8x8 block against its median), re-implemented with a numpy
DCT matrix so workers need neither imagehash nor scipy; the tests check the
two agree bit for bit on real photos.

Example::

    a, b = phash(photo), phash(photo.resize((200, 150)))
    hamming(a, b)  # small: the same picture
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

HASH_BITS = 64
HASH_HEX_DIGITS = HASH_BITS // 4
_HASH_SIZE = 8
_DCT_SIZE = 32


@lru_cache(maxsize=1)
def _dct_matrix(n: int = _DCT_SIZE) -> np.ndarray:
    """Unnormalised DCT-II as a matrix, the convention of ``scipy.fftpack.dct``."""
    k = np.arange(n)[:, None]
    x = np.arange(n)[None, :]
    return 2.0 * np.cos(np.pi * k * (2 * x + 1) / (2 * n))


def phash(image: Image.Image) -> str:
    """The 64-bit perceptual hash of ``image`` as 16 lowercase hex digits.

    >>> from PIL import Image
    >>> len(phash(Image.new("RGB", (64, 48), "red")))
    16
    """
    from PIL import Image

    small = image.convert("L").resize((_DCT_SIZE, _DCT_SIZE), Image.Resampling.LANCZOS)
    pixels = np.asarray(small, dtype=np.float64)
    c = _dct_matrix()
    low = (c @ pixels @ c.T)[:_HASH_SIZE, :_HASH_SIZE]
    bits = (low > np.median(low)).flatten()
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return f"{value:0{HASH_HEX_DIGITS}x}"


def hamming(a: str, b: str) -> int:
    """Number of differing bits between two hex hashes of equal length.

    >>> hamming("ff00", "0f01")
    5
    """
    if len(a) != len(b):
        raise ValueError(f"cannot compare hashes of different lengths ({len(a)} and {len(b)})")
    return (int(a, 16) ^ int(b, 16)).bit_count()
