"""Image -> model input tensor, written once for training, evaluation and inference.

Everything here is numpy + Pillow (no torchvision, no Spark), so the same
function runs in a Spark worker, a training data loader and the CLI. Using
one function everywhere is the point: the seed's proof of concept converted
channels to RGB in training and not in validation.

Evaluation (``train=False``): resize the shorter side to ``resize``, centre
crop ``input_size`` x ``input_size``, scale as ``(x - mean) / std`` with mean
and std in 0-255 pixel units. That covers both conventions in use:
ImageNet mean/std (``mean=(123.675, 116.28, 103.53)``) and the TF-Lite rule
``(x - 127) / 128`` (``mean=(127,)*3, std=(128,)*3``).

Training (``train=True``): random-resized crop, horizontal flip and colour
jitter, all drawn from a ``numpy.random.Generator`` so a seeded run repeats.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from crowdlens.config import check

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos")

IMAGENET_MEAN = (123.675, 116.28, 103.53)  # 0.485, 0.456, 0.406 x 255
IMAGENET_STD = (58.395, 57.12, 57.375)  # 0.229, 0.224, 0.225 x 255
TFLITE_MEAN = (127.0, 127.0, 127.0)  # (x - 127) / 128
TFLITE_STD = (128.0, 128.0, 128.0)


@dataclass(frozen=True)
class Augment:
    """Training-time augmentation, applied only when ``train=True``."""

    scale: tuple[float, float] = (0.25, 1.0)  # area fraction of the random crop
    ratio: tuple[float, float] = (3 / 4, 4 / 3)  # aspect ratio range of the crop
    hflip: float = 0.5  # probability of a horizontal flip
    brightness: float = 0.2  # factor drawn from [1 - b, 1 + b]
    contrast: float = 0.2
    saturation: float = 0.2

    def __post_init__(self) -> None:
        lo, hi = self.scale
        check(self, "scale", 0 < lo <= hi <= 1, "a pair (lo, hi) with 0 < lo <= hi <= 1")
        lo, hi = self.ratio
        check(self, "ratio", 0 < lo <= hi, "a pair (lo, hi) with 0 < lo <= hi")
        check(self, "hflip", 0 <= self.hflip <= 1, "a float in [0, 1]")
        for name in ("brightness", "contrast", "saturation"):
            check(self, name, 0 <= getattr(self, name) < 1, "a float in [0, 1)")


@dataclass(frozen=True)
class PreprocessSpec:
    """How a model wants its input; stored in every bundle's ``bundle.json``.

    Example::

        spec = PreprocessSpec(input_size=224, resize=256, mean=TFLITE_MEAN, std=TFLITE_STD)
        x = preprocess(image, spec)        # float32 [3, 224, 224]
    """

    input_size: int = 224
    resize: int = 256  # shorter side before the centre crop
    mean: tuple[float, float, float] = IMAGENET_MEAN  # 0-255 pixel units
    std: tuple[float, float, float] = IMAGENET_STD
    interpolation: str = "bilinear"
    augment: Augment = field(default_factory=Augment)

    def __post_init__(self) -> None:
        check(self, "input_size", self.input_size >= 8, "an int >= 8")
        check(
            self,
            "resize",
            self.resize >= self.input_size,
            f"an int >= input_size ({self.input_size})",
        )
        check(self, "mean", len(self.mean) == 3, "three numbers (R, G, B) in 0-255 units")
        check(
            self,
            "std",
            len(self.std) == 3 and all(s > 0 for s in self.std),
            "three positive numbers (R, G, B) in 0-255 units",
        )
        check(
            self, "interpolation", self.interpolation in INTERPOLATIONS, f"one of {INTERPOLATIONS}"
        )

    @property
    def draft_size(self) -> tuple[int, int]:
        """The size JPEG decoding may reduce to without losing what resize keeps."""
        return (self.resize, self.resize)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["mean"], d["std"] = list(self.mean), list(self.std)
        d["augment"] = {k: list(v) if isinstance(v, tuple) else v for k, v in d["augment"].items()}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PreprocessSpec:
        """Inverse of :meth:`to_dict`; unknown keys are an error that names them."""
        known = {"input_size", "resize", "mean", "std", "interpolation", "augment"}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(
                f"Unknown preprocessing setting(s) {unknown}. Valid settings: {sorted(known)}."
            )
        kw = dict(d)
        for key in ("mean", "std"):
            if key in kw:
                kw[key] = tuple(float(v) for v in kw[key])
        if "augment" in kw:
            kw["augment"] = Augment(
                **{k: tuple(v) if isinstance(v, list) else v for k, v in kw["augment"].items()}
            )
        return cls(**kw)


class HasPreprocess(Protocol):
    """Anything carrying a spec (a PretrainedConfig, a Bundle)."""

    @property
    def preprocess(self) -> PreprocessSpec: ...


def as_spec(cfg: PreprocessSpec | HasPreprocess) -> PreprocessSpec:
    """Accept a spec or an object that carries one (PretrainedConfig, Bundle)."""
    return cfg if isinstance(cfg, PreprocessSpec) else cfg.preprocess


def _resample(name: str) -> int:
    from PIL import Image

    return {
        "nearest": Image.Resampling.NEAREST,
        "bilinear": Image.Resampling.BILINEAR,
        "bicubic": Image.Resampling.BICUBIC,
        "lanczos": Image.Resampling.LANCZOS,
    }[name]


def _center_box(width: int, height: int, spec: PreprocessSpec) -> tuple[float, ...]:
    """The square of the photo that "shorter side to ``resize``, centre crop" keeps."""
    side = min(width, height) * spec.input_size / spec.resize
    left, top = (width - side) / 2, (height - side) / 2
    return (left, top, left + side, top + side)


def _resize_center_crop(image: Image.Image, spec: PreprocessSpec, resample: int) -> Image.Image:
    """Shorter side to ``spec.resize``, then the centre ``input_size`` square, in one pass.

    Pillow resamples only the box the crop keeps, straight to the model's
    size: 2-3x faster than resizing the whole photo and cropping after, and
    the same model answers (top-1 identical on the grocery val photos; see
    docs/benchmarks.md). ``reducing_gap``: big photos are first shrunk by an
    integer factor (a box filter), much faster and visually identical at 224 px.
    """
    size = (spec.input_size, spec.input_size)
    box = _center_box(image.width, image.height, spec)
    return image.resize(size, resample, box=box, reducing_gap=3.0)


def _random_resized_crop(
    image: Image.Image, size: int, aug: Augment, rng: np.random.Generator, resample: int
) -> Image.Image:
    w, h = image.size
    area = w * h
    log_ratio = (math.log(aug.ratio[0]), math.log(aug.ratio[1]))
    for _ in range(10):
        target = area * rng.uniform(*aug.scale)
        ratio = math.exp(rng.uniform(*log_ratio))
        cw, ch = round(math.sqrt(target * ratio)), round(math.sqrt(target / ratio))
        if 0 < cw <= w and 0 < ch <= h:
            left, top = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
            return image.resize((size, size), resample, box=(left, top, left + cw, top + ch))
    # No crop fitted in 10 draws (extreme aspect ratio): fall back to the centre.
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    return image.resize((size, size), resample, box=(left, top, left + side, top + side))


def _jitter(arr: np.ndarray, aug: Augment, rng: np.random.Generator) -> np.ndarray:
    """Brightness, contrast and saturation jitter on float HWC in 0-255, random order."""
    grey_w = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    for op in rng.permutation(3):
        if op == 0 and aug.brightness:
            arr = arr * rng.uniform(1 - aug.brightness, 1 + aug.brightness)
        elif op == 1 and aug.contrast:
            mean = float((arr @ grey_w).mean())
            arr = (arr - mean) * rng.uniform(1 - aug.contrast, 1 + aug.contrast) + mean
        elif op == 2 and aug.saturation:
            grey = (arr @ grey_w)[..., None]
            arr = (arr - grey) * rng.uniform(1 - aug.saturation, 1 + aug.saturation) + grey
        arr = np.clip(arr, 0.0, 255.0)
    return arr.astype(np.float32, copy=False)


def preprocess(
    image: Image.Image,
    cfg: PreprocessSpec | HasPreprocess,
    train: bool = False,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """One RGB PIL image -> float32 array ``[3, input_size, input_size]``.

    ``cfg`` is a :class:`PreprocessSpec` or anything with a ``preprocess``
    attribute (a ``PretrainedConfig`` or a ``Bundle``). ``train=True`` adds
    the augmentation of ``cfg.augment``, drawn from ``rng``. The input image
    is never modified.

    Example::

        from crowdlens.models.registry import get_pretrained_config
        x = preprocess(img, get_pretrained_config("efficientnet_lite0"))
        x.shape  # (3, 224, 224)
    """
    spec = as_spec(cfg)
    if image.mode != "RGB":
        image = image.convert("RGB")
    resample = _resample(spec.interpolation)
    if train:
        rng = rng if rng is not None else np.random.default_rng()
        image = _random_resized_crop(image, spec.input_size, spec.augment, rng, resample)
        if rng.random() < spec.augment.hflip:
            from PIL import Image as PILImage

            image = image.transpose(PILImage.Transpose.FLIP_LEFT_RIGHT)
        arr = _jitter(np.asarray(image, dtype=np.float32), spec.augment, rng)
    else:
        arr = eval_pixels(image, spec)
    return normalize(arr, spec)


def eval_pixels(image: Image.Image, cfg: PreprocessSpec | HasPreprocess) -> np.ndarray:
    """The evaluation crop as HWC uint8: :func:`preprocess` without the normalisation.

    Four times smaller than the float input; :func:`normalize_batch` turns a
    stack of them into the model's batch in one pass.
    """
    spec = as_spec(cfg)
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(_resize_center_crop(image, spec, _resample(spec.interpolation)))


def normalize(arr: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """HWC pixels (uint8 or float, 0-255) -> CHW float32 ``(x - mean) / std``."""
    return normalize_batch(arr[None], spec)[0]


def normalize_batch(arr: np.ndarray, cfg: PreprocessSpec | HasPreprocess) -> np.ndarray:
    """NHWC pixels (uint8 or float, 0-255) -> contiguous NCHW float32 ``(x - mean) / std``.

    Channels first, then the arithmetic: each channel is then one contiguous
    plane. Broadcasting over a last axis of length 3 is about 7x slower.
    """
    spec = as_spec(cfg)
    x = np.array(arr.transpose(0, 3, 1, 2), dtype=np.float32, order="C")  # never the input
    x -= np.asarray(spec.mean, dtype=np.float32)[:, None, None]
    x *= (1.0 / np.asarray(spec.std, dtype=np.float32))[:, None, None]
    return x


def load_image(
    data: bytes, cfg: PreprocessSpec | HasPreprocess, *, max_pixels: int | None = None
) -> Image.Image:
    """Decode photo bytes exactly as inference does (reduced-size JPEG decoding).

    Training code should read photos through this too, so that the pixels a
    model is trained on are the pixels it later sees in the Spark workers.
    Raises :class:`crowdlens.decode.DecodeError` for a bad photo.
    """
    from crowdlens.decode import DEFAULT_MAX_PIXELS, decode_image

    spec = as_spec(cfg)
    limit = max_pixels if max_pixels is not None else DEFAULT_MAX_PIXELS
    return decode_image(data, max_pixels=limit, draft_size=spec.draft_size).image


def preprocess_bytes(
    data: bytes,
    cfg: PreprocessSpec | HasPreprocess,
    train: bool = False,
    rng: np.random.Generator | None = None,
    *,
    max_pixels: int | None = None,
) -> np.ndarray:
    """Photo bytes -> model input, the path used by every consumer of a bundle."""
    return preprocess(load_image(data, cfg, max_pixels=max_pixels), cfg, train=train, rng=rng)


def stack(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Stack CHW arrays into one contiguous NCHW float32 batch."""
    return np.ascontiguousarray(np.stack(arrays).astype(np.float32, copy=False))
