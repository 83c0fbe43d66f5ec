"""An int8 copy of the OCR text detector, built locally and cached.

The DB text detector that rapidocr ships (``PP-OCRv6_det_small.onnx``, fp32)
is the dearest step of the text stage on phone photos. Static QDQ int8
quantisation (ONNX Runtime's own tool, per-channel weights) makes it about
3.5x cheaper at the gate's 960 px on this machine's CPU (AVX-512 VNNI),
with the same PII figures (docs/benchmarks.md, issue 14). The recogniser is
left in fp32: quantised, it misread two lines in three for a 1.3x gain.

Nothing is downloaded: the int8 model is made from the wheel's own fp32
model, calibrated on the repository's sample grocery photos
(``examples/sample/photos``) with lines of names, numbers and e-mails drawn
on half of them from a fixed seed, so every checkout with the same
onnxruntime builds the same model (the cached file's name carries a digest
of the model, the recipe, onnxruntime's version and the photos). It is built
once (``scripts/setup.sh`` runs ``python -m crowdlens.text.quantize``; a
worker that finds no copy builds it, under a lock) and kept in
``$CROWDLENS_CACHE/ocr`` (default ``~/.cache/crowdlens/ocr``).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

SOURCE_MODEL = "PP-OCRv6_det_small.onnx"
#: Bump when the recipe below changes: the cached file name carries it.
RECIPE = "qdq-u8s8-pc-minmax-v1"
CALIBRATION_SIDE = 960


def source_model() -> Path:
    """The fp32 detector inside the rapidocr wheel."""
    import rapidocr

    path = Path(rapidocr.__file__).parent / "models" / SOURCE_MODEL
    if not path.is_file():
        raise FileNotFoundError(
            f"the rapidocr wheel has no {SOURCE_MODEL} at {path}; install rapidocr==3.10.0 "
            "(its models ship inside the wheel) or set det_int8 = false in [text]"
        )
    return path


def cache_dir() -> Path:
    """``$CROWDLENS_CACHE/ocr``, by default ``~/.cache/crowdlens/ocr``."""
    root = os.environ.get("CROWDLENS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "crowdlens"
    )
    return Path(root) / "ocr"


def int8_path(files: list[Path] | None = None) -> Path:
    """Where the int8 detector for this model, recipe, onnxruntime and calibration set is cached."""
    import onnxruntime

    h = hashlib.sha256(source_model().read_bytes())
    h.update(f"|{RECIPE}|{onnxruntime.__version__}".encode())
    for f in files or calibration_files():
        h.update(f.read_bytes())
    key = h.hexdigest()
    return cache_dir() / f"{Path(SOURCE_MODEL).stem}.int8-{key[:12]}.onnx"


def sample_photos() -> Path:
    """The repository's sample grocery photos (``examples/sample/photos``), the default calibration set."""
    import crowdlens

    folder = Path(crowdlens.__file__).resolve().parents[2] / "examples" / "sample" / "photos"
    if not folder.is_dir():
        raise FileNotFoundError(
            f"no calibration photos at {folder} (this installation has no repository checkout beside it): "
            "run `python -m crowdlens.text.quantize PHOTO_FOLDER` once with a folder of "
            "ordinary photos, or set det_int8 = false in [text]"
        )
    return folder


def calibration_files(folder: Path | None = None, n: int = 12) -> list[Path]:
    """``n`` photos spread evenly over ``folder`` (default: :func:`sample_photos`)."""
    files = sorted((folder or sample_photos()).rglob("*.jpg"))
    if not files:
        raise FileNotFoundError(f"no .jpg photos under {folder} to calibrate the detector")
    step = max(1, len(files) // n)
    return files[::step][:n]


def calibration_images(files: list[Path], side: int = CALIBRATION_SIDE, seed: int = 0) -> list:
    """The ``files`` as 4:3 RGB images ``side`` wide, lines of text drawn on every other one.

    Real photos set the activation ranges of ordinary scenes (with synthetic
    colour fields alone, the int8 detector fired on a smooth gradient); the
    drawn lines (names, numbers, e-mails, 10-64 px high, some on paper) set
    those of text.
    """
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    rng = np.random.default_rng(seed)
    w, h = side, side * 3 // 4
    words = ("Maria Garcia", "+34 612 345 678", "j.okafor@mail.co.uk", "LAKTOSFRI 1,5%",
             "Tel: 020 7946 0958", "Best before 12/03", "EUR 2.49", "Rue de la Paix 12")  # fmt: skip
    out = []
    for i, f in enumerate(files):
        with Image.open(f) as im:
            im = im.convert("RGB")
            ch = im.width * 3 // 4
            top = max(0, (im.height - ch) // 2)
            img = im.crop((0, top, im.width, top + ch)).resize((w, h), Image.BICUBIC)
        draw = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(2, 7)) if i % 2 == 0 else 0):
            size = int(rng.integers(10, 64))
            font = ImageFont.load_default(size)
            text = words[int(rng.integers(len(words)))]
            x, y = int(rng.integers(0, w // 2)), int(rng.integers(0, h - size))
            if rng.random() < 0.5:  # a paper note behind the line
                box = draw.textbbox((x, y), text, font=font)
                draw.rectangle(
                    [box[0] - 6, box[1] - 6, box[2] + 6, box[3] + 6], fill=(245, 243, 235)
                )
            draw.text((x, y), text, fill=(20, 30, 90), font=font)
        out.append(np.asarray(img))
    return out


def _detector_inputs(images: list[np.ndarray], side: int) -> list[np.ndarray]:
    from rapidocr.ch_ppocr_det.utils import DetPreProcess

    pre = DetPreProcess(side, "max", [0.5, 0.5, 0.5], [0.5, 0.5, 0.5])
    return [pre(im) for im in images]


def build_int8(out: Path, images: list[np.ndarray]) -> Path:
    """Quantise the wheel's detector to int8 (static QDQ) into ``out``; returns ``out``.

    ``images`` (RGB arrays, :func:`calibration_images`) calibrate the
    activation ranges. Written under a
    unique temporary name, then renamed, so concurrent builders never
    leave half a model.
    """
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    feeds = _detector_inputs(images, CALIBRATION_SIDE)
    model = onnx.load(str(source_model()))
    name = model.graph.input[0].name

    class Feeds(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(feeds)

        def get_next(self) -> dict | None:
            x = next(self._it, None)
            return None if x is None else {name: x}

    out.parent.mkdir(parents=True, exist_ok=True)
    tag = f".tmp-{uuid.uuid4().hex}"
    op13, prepared, tmp = (out.with_suffix(f"{tag}.{s}.onnx") for s in ("op13", "pre", "q"))
    try:
        # Per-channel DequantizeLinear needs opset 13; the wheel's model is opset 11.
        onnx.save(version_converter.convert_version(model, 13), str(op13))
        quant_pre_process(str(op13), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            str(prepared),
            str(tmp),
            Feeds(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
        )
        os.replace(tmp, out)
    finally:
        for f in (op13, prepared, tmp):
            f.unlink(missing_ok=True)
    return out


def int8_detector(folder: Path | None = None) -> Path:
    """The cached int8 detector, built now (once, under a lock) if missing.

    ``folder``: the photos to calibrate on (default :func:`sample_photos`).
    """
    import fcntl

    files = calibration_files(folder)
    path = int8_path(files)
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another worker may be building it
        if not path.is_file():
            build_int8(path, calibration_images(files))
    return path


def main(argv: list[str] | None = None) -> None:
    """``python -m crowdlens.text.quantize [PHOTO_FOLDER]``: build the int8 detector, print its path."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    print(int8_detector(Path(args[0]) if args else None))


if __name__ == "__main__":
    main()
