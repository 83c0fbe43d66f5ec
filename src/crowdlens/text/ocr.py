"""Reading text in photos: a narrow ``OCR`` interface and its rapidocr engine.

The rest of crowdlens sees only :class:`OCR` (one method, ``read``) and the
plain result types below, so tests and other engines (another ONNX model, a
cloud service) plug in through the constructor of whatever needs OCR.

The default engine is rapidocr 3.x on ONNX Runtime: a DB text detector
(rotated quadrilaterals), a 0/180 degree angle classifier and the multilingual
PP-OCRv6 recogniser, all shipped inside the wheel, so nothing is downloaded.
Engines are expensive to build (three ONNX sessions) and are cached: one per
Python worker and settings, reused across batches (see :func:`get_ocr`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from crowdlens.spark.worker import per_worker

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

Polygon = list[list[float]]  # [[x, y], ...] in full-image pixels, clockwise


@dataclass(frozen=True)
class Word:
    """One word (or, for scripts without spaces, one character) and its box."""

    text: str
    confidence: float
    polygon: Polygon
    start: int  # character offset of the word in its line's text
    end: int


@dataclass(frozen=True)
class TextLine:
    """A detected text line: rotated polygon, text read, and its words."""

    polygon: Polygon
    text: str
    confidence: float
    words: tuple[Word, ...] = field(default_factory=tuple)


class OCR(Protocol):
    """Anything that finds and reads text lines in an RGB image."""

    def read(self, image: np.ndarray) -> list[TextLine]:
        """Return the text lines of ``image`` (H x W x 3 uint8 RGB), best first."""
        ...


def _poly(points: object) -> Polygon:
    return [[float(x), float(y)] for x, y in points]  # type: ignore[attr-defined]


def split_words(
    text: str, pieces: list[tuple[str, float, object]], line_polygon: Polygon, confidence: float
) -> tuple[Word, ...]:
    """Attach character offsets to rapidocr's word boxes.

    The recogniser's words are substrings of the line text in order; a word
    that cannot be found (it should not happen) makes the whole line one
    word, so a PII span can always be mapped to *some* box.

    >>> words = split_words("Tel 555", [("Tel", 0.9, [[0,0],[3,0],[3,1],[0,1]]),
    ...                                  ("555", 0.8, [[4,0],[7,0],[7,1],[4,1]])],
    ...                     [[0,0],[7,0],[7,1],[0,1]], 0.9)
    >>> [(w.text, w.start, w.end) for w in words]
    [('Tel', 0, 3), ('555', 4, 7)]
    """
    out: list[Word] = []
    cursor = 0
    for piece, score, box in pieces:
        piece = piece.strip()
        if not piece or box is None:
            continue
        at = text.find(piece, cursor)
        if at < 0:
            return (Word(text, confidence, line_polygon, 0, len(text)),)
        out.append(Word(piece, float(score), _poly(box), at, at + len(piece)))
        cursor = at + len(piece)
    if not out:
        return (Word(text, confidence, line_polygon, 0, len(text)),)
    return tuple(out)


class RapidOCREngine:
    """rapidocr 3.x behind the :class:`OCR` interface.

    Example::

        engine = RapidOCREngine(max_side=2000, threads=2)
        for line in engine.read(np.asarray(pil_image)):
            print(line.text, line.confidence, line.polygon)
    """

    def __init__(
        self,
        max_side: int = 2000,
        text_score: float = 0.5,
        threads: int = 1,
        det_box_threshold: float = 0.3,
    ) -> None:
        from rapidocr import RapidOCR

        params: dict[str, object] = {
            "Global.log_level": "error",
            "Global.max_side_len": max_side,
            "Global.text_score": text_score,
            "Det.box_thresh": det_box_threshold,
        }
        if threads > 0:
            for part in ("onnxruntime",):
                params[f"EngineConfig.{part}.intra_op_num_threads"] = threads
                params[f"EngineConfig.{part}.inter_op_num_threads"] = 1
        self._engine = RapidOCR(params=params)

    def read(self, image: np.ndarray) -> list[TextLine]:
        # Every step named: rapidocr keeps the flags of the previous call
        # (after detect(), a bare call would skip recognition).
        steps = {"use_det": True, "use_cls": True, "use_rec": True}
        try:
            result = self._engine(image, return_word_box=True, **steps)
            return self._lines(result, words=True)
        except (IndexError, ValueError):
            # rapidocr drops lines whose word boxes it cannot compute and can
            # then misalign words and lines; line boxes alone are still right.
            result = self._engine(image, return_word_box=False, **steps)
            return self._lines(result, words=False)

    @staticmethod
    def _lines(result: object, *, words: bool) -> list[TextLine]:
        boxes = getattr(result, "boxes", None)
        txts = getattr(result, "txts", None)
        scores = getattr(result, "scores", None)
        if boxes is None or txts is None or scores is None or len(txts) == 0:
            return []
        word_results = getattr(result, "word_results", ()) or ()
        aligned = words and len(word_results) == len(txts)
        lines = []
        for i, (box, text, score) in enumerate(zip(boxes, txts, scores)):
            polygon = _poly(box)
            pieces = list(word_results[i]) if aligned else []
            if pieces and "".join(p[0] for p in pieces).replace(" ", "") != text.replace(" ", ""):
                pieces = []  # belongs to another line: do not trust it
            if pieces:
                line_words = split_words(text, pieces, polygon, float(score))
            else:
                line_words = (Word(text, float(score), polygon, 0, len(text)),)
            lines.append(TextLine(polygon, text, float(score), line_words))
        return lines

    def recognize(self, crops: list[np.ndarray]) -> list[str]:
        """Read each crop (RGB, one text line each) with the recogniser alone.

        No detector and no angle classifier: a few milliseconds per crop, so
        released copies can be read again where they were redacted.
        """
        if not crops:
            return []
        loaded = [self._engine.load_img(c) for c in crops]
        result = self._engine.recognize_txt(loaded)
        return [str(t) for t in (result.txts or ())]

    def detect(self, image: np.ndarray) -> list[tuple[Polygon, float]]:
        """Text polygons and detector scores only (no recognition)."""
        result = self._engine(image, use_det=True, use_cls=False, use_rec=False)
        boxes = getattr(result, "boxes", None)
        if boxes is None:
            return []
        scores = getattr(result, "scores", None) or [1.0] * len(boxes)
        return [(_poly(b), float(s)) for b, s in zip(boxes, scores)]

    def read_regions(self, image: np.ndarray, boxes: np.ndarray) -> list[TextLine]:
        """Read the text lines at ``boxes`` (``(N, 4, 2)``, ``image`` pixels), without detecting.

        The boxes come from a detector run elsewhere (the has-text gate, on a
        small copy). Lines are cut from ``image`` shrunk to this engine's
        ``max_side`` (as :meth:`read` does after its own detection), turned
        upright by the angle classifier and recognised, with word boxes.
        """
        import numpy as np
        from rapidocr.ch_ppocr_det import TextDetOutput

        if len(boxes) == 0:
            return []
        engine = self._engine
        engine.update_params(use_det=True, use_cls=True, use_rec=True, return_word_box=True)
        img, record = engine.preprocess_img(image)
        record["padding_1"] = {"top": 0, "left": 0}
        scaled = np.array(boxes, dtype=np.float32).reshape(-1, 4, 2)
        scaled[..., 0] /= record["preprocess"]["ratio_w"]
        scaled[..., 1] /= record["preprocess"]["ratio_h"]
        crops = engine.crop_text_regions(img, scaled)
        cls_imgs, cls_res = engine.cls_and_rotate(crops)
        rec = engine.recognize_txt(cls_imgs)
        det = TextDetOutput(boxes=scaled, scores=[1.0] * len(scaled))
        try:
            result = engine.build_final_output(image, det, cls_res, rec, crops, record)
            return self._lines(result, words=True)
        except (IndexError, ValueError):  # word boxes failed (see read): lines alone
            det = TextDetOutput(boxes=scaled.copy(), scores=[1.0] * len(scaled))
            rec.word_results = tuple(() for _ in rec.txts or ())
            result = engine.build_final_output(image, det, cls_res, rec, crops, record)
            return self._lines(result, words=False)


@per_worker(maxsize=4)
def get_ocr(
    max_side: int = 2000, text_score: float = 0.5, threads: int = 1, det_box_threshold: float = 0.3
) -> RapidOCREngine:
    """The cached OCR engine of this Python worker for these settings."""
    return RapidOCREngine(
        max_side=max_side,
        text_score=text_score,
        threads=threads,
        det_box_threshold=det_box_threshold,
    )
