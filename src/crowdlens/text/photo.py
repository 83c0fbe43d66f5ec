"""The text work on one photo, without Spark: gate -> OCR -> PII -> what to cover.

:func:`read_photo` takes the parts it needs (an :class:`~crowdlens.text.ocr.OCR`,
an optional gate, a presidio analyzer) as arguments, so tests can hand it
real or fake parts and the Spark stage hands it the per-worker cached ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crowdlens import schema as S
from crowdlens.text.pii import PiiHit, document, find_pii, map_spans
from crowdlens.text.redact import cover_polygon

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    from presidio_analyzer import AnalyzerEngine

    from crowdlens.text.config import TextConfig
    from crowdlens.text.gate import TextGate
    from crowdlens.text.ocr import OCR, TextLine


@dataclass
class PhotoText:
    """What was found on one photo."""

    has_text: bool
    gated_out: bool  # the gate saw no text, so OCR did not run
    lines: list[TextLine] = field(default_factory=list)
    line_pii: list[list[str]] = field(default_factory=list)  # PII types of each line
    pii_types: list[str] = field(default_factory=list)  # sorted, unique
    cover: list[np.ndarray] = field(default_factory=list)  # polygons to redact
    # The personal items of each line (text of the words covered), to verify the release.
    secrets: dict[int, list[str]] = field(default_factory=dict)

    def regions(self) -> list[dict[str, Any]]:
        """Rows for the ``text_regions`` column."""
        return [
            {
                S.REGION_POLYGON: [[float(x), float(y)] for x, y in line.polygon],
                S.REGION_TEXT: line.text,
                S.REGION_CONFIDENCE: float(line.confidence),
                S.REGION_PII_TYPES: types,
            }
            for line, types in zip(self.lines, self.line_pii)
        ]


def line_hits(lines: list[TextLine], cfg: TextConfig, analyzer: AnalyzerEngine) -> list[PiiHit]:
    """The personal information on OCR ``lines``: which words of which line carry what.

    The one PII decision of the text path, shared by the stage, the
    verification of released copies and the benchmarks.
    """
    if not lines:
        return []
    text, starts = document(lines)
    found = find_pii(
        text,
        analyzer,
        languages=cfg.languages,
        entities=cfg.entities,
        score_threshold=cfg.score_threshold,
        phone_regions=cfg.phone_regions,
    )
    return map_spans(lines, starts, found)


def read_lines(
    rgb: np.ndarray,
    cfg: TextConfig,
    ocr: OCR,
    gate: TextGate | None,
    small: np.ndarray | None = None,
) -> list[TextLine] | None:
    """The text lines of a photo, or None when the gate saw no text.

    With a gate and ``cfg.read_gate_boxes``, the gate's boxes are read where
    they are (an OCR with ``read_regions``), so the detector runs once.
    ``small`` is the photo already decoded at a reduced size, for the gate.
    """
    if gate is None:
        return ocr.read(rgb)
    boxes = gate.find(rgb) if small is None else gate.find(rgb, small)
    if len(boxes) == 0:
        return None
    read_regions = getattr(ocr, "read_regions", None)
    if cfg.read_gate_boxes and read_regions is not None:
        return read_regions(rgb, boxes)
    return ocr.read(rgb)


def read_photo(
    rgb: np.ndarray,
    cfg: TextConfig,
    *,
    ocr: OCR,
    analyzer: AnalyzerEngine,
    gate: TextGate | None = None,
    small: np.ndarray | None = None,
) -> PhotoText:
    """Find, read and check the text of one RGB photo (H x W x 3 uint8).

    ``small`` (optional): the same photo decoded at a reduced size, same
    aspect, which the gate detects on instead of shrinking ``rgb``.

    Example::

        found = read_photo(np.asarray(photo), TextConfig(), ocr=get_ocr(),
                           analyzer=get_analyzer(("en",), ("US",)))
        clean = redact(photo, found.cover)
    """
    lines = read_lines(rgb, cfg, ocr, gate, small)
    if lines is None:
        return PhotoText(has_text=False, gated_out=True)
    if not lines:
        return PhotoText(has_text=False, gated_out=False)
    hits = line_hits(lines, cfg, analyzer)
    line_pii: list[set[str]] = [set() for _ in lines]
    cover = []
    secrets: dict[int, list[str]] = {}
    for hit in hits:
        line_pii[hit.line].add(hit.entity_type)
        words = lines[hit.line].words
        cover.append(cover_polygon([words[j].polygon for j in hit.words], cfg.padding))
        secrets.setdefault(hit.line, []).append(" ".join(words[j].text for j in hit.words))
    return PhotoText(
        has_text=True,
        gated_out=False,
        lines=lines,
        line_pii=[sorted(t) for t in line_pii],
        pii_types=sorted(set().union(*line_pii)),
        cover=cover,
        secrets=secrets,
    )
