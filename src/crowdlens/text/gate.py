"""The cheap has-text gate in front of OCR.

Reading text (angle classifier + recogniser on every line, detector at full
resolution) costs about a second per phone photo on one core; most survey
photos show a product and at most a price tag. The gate runs the *detector
alone* on a copy whose longest side is ``gate_max_side`` pixels, with a box
threshold lower than the reader's, and lets a photo through to OCR as soon as
one text box is found. Its boxes are then read where they are (recognition
on crops of the full photo), so the detector runs once per photo. It is tuned for recall, not precision: a gate that
lets through a photo without text costs one second, a gate that stops a
photo with a phone number on it leaks personal information. Its recall on
photos with PII is measured by ``benchmarks/text_pii.py`` (docs/text.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crowdlens.spark.worker import per_worker

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


def shrink(image: np.ndarray, max_side: int) -> np.ndarray:
    """A copy of ``image`` whose longest side is at most ``max_side`` (area resampling)."""
    import cv2

    h, w = image.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1.0:
        return image
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def lookup_preprocess(detector: object) -> object:
    """rapidocr's detector preprocessing with its normalisation read from a table.

    ``DetPreProcess.normalize`` computes ``(x / 255 - mean) / std`` (partly
    in float64) over the whole 960-px copy, then casts it to float32: 13 of
    the 16 ms the preprocessing took per photo. Its own ``normalize``,
    evaluated once on the 256 byte values and looked up per pixel, gives the
    same float32 numbers bit for bit (``tests/text/test_gate.py``) in about
    4 ms (#14).
    """
    import numpy as np
    from rapidocr.ch_ppocr_det.utils import DetPreProcess

    class LookupPreProcess(DetPreProcess):
        def __init__(self, *args: object) -> None:
            super().__init__(*args)
            values = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
            self.table = self.normalize(values).astype(np.float32)  # (256, 3)

        def __call__(self, img: np.ndarray) -> np.ndarray | None:
            resized = self.resize(img)
            if resized is None:
                return None
            if resized.dtype != np.uint8 or resized.ndim != 3 or resized.shape[2] != 3:
                return super().__call__(img)  # not 8-bit RGB: rapidocr's own arithmetic
            out = np.empty((1, 3, *resized.shape[:2]), dtype=np.float32)
            for c in range(3):
                out[0, c] = self.table[:, c][resized[..., c]]
            return out

    d = detector
    return LookupPreProcess(d.limit_side_len, d.limit_type, d.mean, d.std)  # type: ignore[attr-defined]


class TextGate:
    """Decide cheaply whether a photo has text worth reading.

    Example::

        gate = TextGate(max_side=960, box_threshold=0.3)
        if gate.has_text(np.asarray(rgb_image)):
            lines = get_ocr().read(np.asarray(rgb_image))
    """

    def __init__(
        self,
        max_side: int = 960,
        box_threshold: float = 0.3,
        threads: int = 1,
        model_path: str | None = None,
    ) -> None:
        from rapidocr import RapidOCR

        self.max_side = max_side
        params: dict[str, object] = {
            "Global.log_level": "error",
            "Global.use_cls": False,
            "Global.use_rec": False,
            "Global.max_side_len": max_side,
            # "max": never upscale for the gate (the reader's default, "min",
            # blows a 348-pixel photo up to 736).
            "Det.limit_type": "max",
            "Det.limit_side_len": max_side,
            "Det.box_thresh": box_threshold,
        }
        if model_path is not None:  # e.g. the int8 detector (crowdlens.text.quantize)
            params["Det.model_path"] = model_path
        if threads > 0:
            params["EngineConfig.onnxruntime.intra_op_num_threads"] = threads
            params["EngineConfig.onnxruntime.inter_op_num_threads"] = 1
        self._engine = RapidOCR(params=params)
        load = getattr(self._engine, "_load_det_model", None)  # rapidocr 3.10's own detector
        detector = load() if load is not None else None
        if detector is not None and hasattr(detector, "get_preprocess"):
            preprocess = lookup_preprocess(detector)  # its table built once per gate
            detector.get_preprocess = lambda: preprocess

    def find(self, image: np.ndarray, small: np.ndarray | None = None) -> np.ndarray:
        """The text boxes the detector finds on the shrunken copy, in ``image`` pixels.

        ``small``: the same photo already decoded at a reduced size (e.g.
        through Pillow's ``draft``), used instead of shrinking ``image``
        (which saves about a quarter of a full 12 MP decode); boxes are
        still returned in ``image`` pixels.

        An ``(N, 4, 2)`` float32 array of quadrilaterals in reading order.
        Boxes whose short side exceeds half the photo's short side are
        dropped: on smooth gradients and large plain blobs the detector
        returns one box over (nearly) the whole photo, and no text line is
        that tall. The OCR can read these boxes directly
        (:meth:`~crowdlens.text.ocr.RapidOCREngine.read_regions`), so a
        photo that passes the gate is not detected a second time.
        """
        import cv2
        import numpy as np

        small = shrink(image if small is None else small, self.max_side)
        result = self._engine(small)
        found = getattr(result, "boxes", None)
        if found is None or len(found) == 0:
            return np.zeros((0, 4, 2), dtype=np.float32)
        boxes = np.asarray(found, dtype=np.float32).reshape(-1, 4, 2)
        limit = 0.5 * min(small.shape[:2])
        keep = [min(cv2.minAreaRect(b)[1]) <= limit for b in boxes]
        boxes = boxes[np.asarray(keep, dtype=bool)]
        boxes[..., 0] *= image.shape[1] / small.shape[1]
        boxes[..., 1] *= image.shape[0] / small.shape[0]
        return boxes

    def boxes(self, image: np.ndarray, small: np.ndarray | None = None) -> int:
        """Number of text boxes the detector finds (see :meth:`find`)."""
        return len(self.find(image, small))

    def has_text(self, image: np.ndarray) -> bool:
        """True when at least one text box is found (then run OCR)."""
        return self.boxes(image) > 0


@per_worker(maxsize=4)
def get_gate(
    max_side: int = 960, box_threshold: float = 0.3, threads: int = 1, int8: bool = True
) -> TextGate:
    """The cached gate of this Python worker for these settings.

    ``int8`` runs the int8 copy of the detector (built once and cached, see
    :mod:`crowdlens.text.quantize`); false runs the wheel's fp32 model.
    """
    model = None
    if int8:
        from crowdlens.text.quantize import int8_detector

        model = str(int8_detector())
    return TextGate(max_side=max_side, box_threshold=box_threshold, threads=threads,
                    model_path=model)  # fmt: skip
