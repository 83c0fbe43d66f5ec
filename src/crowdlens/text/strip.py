"""Lossless, metadata-free JPEG release: the scan data copied, every metadata marker dropped.

A photo with nothing to cover used to be decoded and re-encoded (q92) only
to shed its metadata: a full 12 MP decode plus 0.09 s of encoding per photo,
and a second generation of JPEG loss. :func:`release_bytes` instead copies
the compressed image byte for byte and keeps only the markers a decoder
needs, so the released copy decodes to exactly the pixels the text stage
read.

Security review (also in docs/architecture.md, "Released copies"):

* **Kept, by a whitelist** (everything else refuses): SOI; DQT, DHT, DRI;
  one frame header of type SOF0 (baseline), SOF1 (extended) or SOF2
  (progressive), with 1 or 3 components; each SOS with its entropy-coded
  data and RST0-7 markers; EOI. These carry quantisation and Huffman
  tables, the frame size, the restart interval and the coded pixels, and
  nothing else. DQT, DHT, DRI, SOF and SOS are parsed and must be exactly
  as long as their tables, so no slack bytes ride along in a kept segment.
* **Dropped:** every APP0-APP15 segment (JFIF, EXIF with GPS, maker notes and
  its thumbnail, XMP, ICC profiles, MPF, Photoshop/IPTC, Adobe, vendor
  blocks), every COM, and everything after the first EOI (the further
  images of an MPO, motion-photo video, vendor trailers). The re-encode
  drops the same things: an ICC profile was never carried into a released
  copy either.
* **Refused (the caller re-encodes instead):** anything but a JPEG (or the
  first image of an MPO); EXIF orientation other than 1 or an unreadable
  EXIF block (the pixels would show rotated once the tag is gone); 4
  components (CMYK/YCCK); an Adobe APP14 transform other than YCbCr, or
  component ids 'R','G','B' (dropping the marker would change how the
  colours are read); arithmetic coding (DAC, SOF9-11), lossless,
  hierarchical or JPEG-LS frames; more than one frame; DNL, DHP, EXP, JPGn,
  reserved or stray markers; a length that overruns the file; no EOI.
* **Verified on every output** (:func:`check_stripped`): it is parsed again
  and must hold only whitelisted markers and end exactly at its EOI; Pillow
  must open it (header only) at the original's size and mode, with no EXIF,
  no ICC profile, no APP segment and nothing else in ``info``.
* **Not removed:** bytes inside the kept segments' coded data (e.g. bytes an
  encoder left after the last block of a scan). A decoder never shows them
  and cameras put no metadata there; a contributor who wants to hide data
  in a photo can do so in the pixels anyway, which any release keeps.

Example::

    try:
        clean = release_bytes(jpeg)  # metadata-free, same pixels
    except NotLossless:
        clean = None  # decode and re-encode instead
"""

from __future__ import annotations

import re

#: Frame types copied: baseline, extended sequential and progressive Huffman.
SOF_TYPES = frozenset({0xC0, 0xC1, 0xC2})
DQT, DHT, DRI, SOS, EOI, COM = 0xDB, 0xC4, 0xDD, 0xDA, 0xD9, 0xFE
#: Markers an output may hold (RSTn only inside a scan's coded data).
KEPT = SOF_TYPES | {DQT, DHT, DRI, SOS}
_RGB_IDS = (82, 71, 66)  # component ids 'R', 'G', 'B'
# A marker inside coded data: 0xFF followed by neither a stuffed 0x00, a
# restart marker, nor another 0xFF (a fill byte).
_MARKER_IN_SCAN = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


class NotLossless(ValueError):
    """This photo cannot be released losslessly (the message says why): re-encode it."""


def _tables_fill(body: bytes, marker: int) -> bool:
    """Whether a DQT or DHT body is made exactly of whole tables (no slack bytes)."""
    pos = 0
    while pos < len(body):
        if marker == DQT:
            pos += 1 + (128 if body[pos] >> 4 else 64)
        else:
            if pos + 17 > len(body):
                return False
            pos += 17 + sum(body[pos + 1 : pos + 17])
    return pos == len(body) and len(body) > 0


def _check_segment(marker: int, body: bytes) -> None:
    """Refuse a kept segment whose length does not match its contents."""
    if marker in (DQT, DHT):
        ok = _tables_fill(body, marker)
    elif marker == DRI:
        ok = len(body) == 2
    elif marker == SOS:
        ok = len(body) >= 1 and len(body) == 4 + 2 * body[0]
    else:  # a frame header: 6 bytes and 3 per component, a height written there
        ok = len(body) >= 6 and len(body) == 6 + 3 * body[5] and body[1:3] != b"\0\0"
    if not ok:
        raise NotLossless(f"marker 0x{marker:02X} has a length that does not match its contents")


def _colour_check(frame: bytes, adobe: int | None) -> None:
    """Refuse frames whose colours are read differently once the APP markers are gone."""
    count = frame[5]
    if count not in (1, 3):
        raise NotLossless(f"{count} colour components (CMYK/YCCK or unusual): re-encoded")
    if count == 3:
        ids = tuple(frame[6 + 3 * i] for i in range(3))
        if ids == _RGB_IDS or adobe not in (None, 1):
            raise NotLossless("the colour transform depends on an APP marker: re-encoded")


def _scan_end(data: bytes, pos: int) -> tuple[bytes, int]:
    """The coded data of a scan starting at ``pos`` (fill bytes trimmed), and where it ends."""
    found = _MARKER_IN_SCAN.search(data, pos)
    if found is None:
        raise NotLossless("the file ends inside the image data (no EOI)")
    return data[pos : found.start()].rstrip(b"\xff"), found.start()


def strip_jpeg(data: bytes) -> bytes:
    """The JPEG ``data`` with only the whitelisted markers (see the module docstring).

    Raises :class:`NotLossless` saying why when the file is not one this
    copies safely. The kept segments and the coded data are copied byte for
    byte, so the result decodes to the same pixels.
    """
    if data[:2] != b"\xff\xd8":
        raise NotLossless("not a JPEG (no SOI marker)")
    out, pos, n = [b"\xff\xd8"], 2, len(data)
    frame: bytes | None = None
    adobe: int | None = None
    scans = 0
    while True:
        if pos >= n or data[pos] != 0xFF:
            raise NotLossless(f"no marker where one must be (byte {pos})")
        while pos < n and data[pos] == 0xFF:  # fill bytes before a marker
            pos += 1
        if pos + 3 > n and not (pos < n and data[pos] == EOI):
            raise NotLossless("the file ends inside a marker")
        marker = data[pos]
        pos += 1
        if marker == EOI:
            break
        length = int.from_bytes(data[pos : pos + 2], "big")
        if 0xD0 <= marker <= 0xD8 or marker in (0x00, 0x01) or length < 2 or pos + length > n:
            raise NotLossless(f"marker 0x{marker:02X} at byte {pos - 1} is stray or overruns")
        body, pos = data[pos + 2 : pos + length], pos + length
        if 0xE0 <= marker <= 0xEF or marker == COM:
            if marker == 0xEE and body.startswith(b"Adobe"):
                adobe = body[11] if len(body) >= 12 else -1
            continue  # metadata: dropped
        if marker not in KEPT:
            raise NotLossless(f"marker 0x{marker:02X} is not one this copies (re-encoded)")
        _check_segment(marker, body)
        out.append(bytes((0xFF, marker)) + data[pos - length : pos])
        if marker in SOF_TYPES:
            if frame is not None:
                raise NotLossless("more than one frame header")
            frame = body
        elif marker == SOS:
            if frame is None:
                raise NotLossless("a scan before the frame header")
            coded, pos = _scan_end(data, pos)
            out.append(coded)
            scans += 1
    if frame is None or scans == 0:
        raise NotLossless("no frame header or no scan before EOI")
    _colour_check(frame, adobe)
    out.append(b"\xff\xd9")
    return b"".join(out)


def markers(data: bytes) -> list[int]:
    """The markers of a JPEG in order, coded data skipped; raises :class:`NotLossless`.

    Also raises when anything follows the EOI. Used to check outputs.
    """
    if data[:2] != b"\xff\xd8":
        raise NotLossless("not a JPEG (no SOI marker)")
    found, pos = [0xD8], 2
    while pos + 1 < len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        found.append(marker)
        if marker == EOI:
            if pos + 2 != len(data):
                raise NotLossless(f"{len(data) - pos - 2} bytes follow the EOI")
            return found
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker == SOS:
            pos = _scan_end(data, pos)[1]
    raise NotLossless(f"no marker where one must be (byte {pos})")


def _header(data: bytes) -> tuple[tuple[int, int], str, str, int, object]:
    """Size, mode, format, EXIF orientation and ``info`` of an image, from its header only."""
    import io
    import warnings

    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            im = Image.open(io.BytesIO(data))
        except Exception as exc:
            raise NotLossless(f"not an image Pillow opens ({type(exc).__name__})") from None
        with im:
            try:
                exif = im.getexif()
            except Exception:  # a broken EXIF block: the orientation is not known
                raise NotLossless("the EXIF block cannot be read") from None
            left = sorted(set(im.info) - {"progressive", "progression"})
            left += [name for name, _ in getattr(im, "applist", [])]
            return im.size, im.mode, im.format or "", exif.get(0x0112, 1), (left, len(exif))


def check_stripped(out: bytes, size: tuple[int, int], mode: str) -> None:
    """Refuse ``out`` unless it holds only kept markers, ends at EOI and opens as ``size``/``mode``."""
    extra = [m for m in markers(out)[1:-1] if m not in KEPT]
    if extra:
        raise NotLossless(f"the copy still holds markers {[hex(m) for m in extra]}")
    got_size, got_mode, fmt, _, (left, exif_tags) = _header(out)
    if (got_size, got_mode, fmt) != (size, mode, "JPEG") or left or exif_tags:
        raise NotLossless(
            f"the copy opens as {fmt} {got_mode} {got_size} with {left or exif_tags}, "
            f"not JPEG {mode} {size} without metadata"
        )


def release_bytes(data: bytes) -> bytes:
    """A metadata-free copy of JPEG ``data`` that decodes to the same pixels, or :class:`NotLossless`.

    Example::

        clean = release_bytes(Path("photo.jpg").read_bytes())
    """
    size, mode, fmt, orientation, _ = _header(data)
    if fmt not in ("JPEG", "MPO"):
        raise NotLossless(f"{fmt or 'an unrecognised format'} is not a JPEG")
    if orientation != 1:
        raise NotLossless(f"EXIF orientation {orientation}: the pixels must be turned")
    out = strip_jpeg(data)
    check_stripped(out, size, mode)
    return out
