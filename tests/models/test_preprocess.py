from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from crowdlens.errors import ConfigError
from crowdlens.models.preprocess import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    TFLITE_MEAN,
    TFLITE_STD,
    PreprocessSpec,
    eval_pixels,
    load_image,
    normalize_batch,
    preprocess,
    preprocess_bytes,
    stack,
)
from crowdlens.models.registry import get_pretrained_config


def _solid(rgb, size=(300, 200)):
    return Image.new("RGB", size, rgb)


def test_shape_dtype_and_tflite_rule():
    spec = PreprocessSpec(input_size=32, resize=40, mean=TFLITE_MEAN, std=TFLITE_STD)
    x = preprocess(_solid((127, 255, 0)), spec)
    assert x.shape == (3, 32, 32) and x.dtype == np.float32 and x.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(x[0], 0.0, atol=1e-6)
    np.testing.assert_allclose(x[1], 128 / 128, atol=1e-6)
    np.testing.assert_allclose(x[2], -127 / 128, atol=1e-6)


def test_imagenet_mean_std_per_channel():
    spec = PreprocessSpec(input_size=16, resize=16, mean=IMAGENET_MEAN, std=IMAGENET_STD)
    x = preprocess(_solid((10, 100, 200)), spec)
    for c, v in enumerate((10, 100, 200)):
        np.testing.assert_allclose(x[c], (v - IMAGENET_MEAN[c]) / IMAGENET_STD[c], rtol=1e-5)


def test_resize_shorter_side_then_centre_crop():
    # A wide photo: red | green | blue thirds. The centre crop sees only green.
    img = Image.new("RGB", (300, 100))
    for i, rgb in enumerate([(255, 0, 0), (0, 255, 0), (0, 0, 255)]):
        img.paste(rgb, (i * 100, 0, (i + 1) * 100, 100))
    spec = PreprocessSpec(input_size=64, resize=72, mean=(0, 0, 0), std=(255, 255, 255))
    x = preprocess(img, spec)
    assert x.shape == (3, 64, 64)
    assert x[1].mean() > 0.95 and x[0].mean() < 0.05 and x[2].mean() < 0.05


def test_grey_and_rgba_inputs_become_rgb_and_input_is_not_modified():
    spec = get_pretrained_config("mobilenet_v2")
    grey = Image.new("L", (50, 60), 90)
    before = np.asarray(grey).copy()
    assert preprocess(grey, spec).shape == (3, 224, 224)
    assert np.array_equal(np.asarray(grey), before) and grey.mode == "L"


def test_train_augmentation_is_seeded_and_random():
    rng_img = np.random.default_rng(1).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    img = Image.fromarray(rng_img)
    spec = get_pretrained_config("efficientnet_lite0")
    a = preprocess(img, spec, train=True, rng=np.random.default_rng(7))
    b = preprocess(img, spec, train=True, rng=np.random.default_rng(7))
    c = preprocess(img, spec, train=True, rng=np.random.default_rng(8))
    assert a.shape == (3, 224, 224)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a, preprocess(img, spec))
    assert np.array_equal(np.asarray(img), rng_img)


def test_bytes_path_equals_image_path_for_a_real_photo(photo_bytes):
    spec = get_pretrained_config("efficientnet_lite0")
    data = photo_bytes["orange"]
    via_bytes = preprocess_bytes(data, spec)
    via_image = preprocess(Image.open(io.BytesIO(data)).convert("RGB"), spec)
    np.testing.assert_array_equal(via_bytes, via_image)


def test_uint8_crops_normalised_per_batch_equal_per_photo_inputs(photo_bytes):
    # The Spark workers' path (uint8 crops, one normalisation per batch) must
    # give the model exactly what preprocess() gives it photo by photo.
    spec = get_pretrained_config("mobilenet_v2")  # ImageNet mean/std: per-channel values
    images = [load_image(data, spec) for data in photo_bytes.values()]
    crops = [eval_pixels(im, spec) for im in images]
    assert all(c.dtype == np.uint8 and c.shape == (224, 224, 3) for c in crops)
    batch = normalize_batch(np.stack(crops), spec)
    assert batch.flags["C_CONTIGUOUS"] and batch.dtype == np.float32
    np.testing.assert_array_equal(batch, stack([preprocess(im, spec) for im in images]))
    assert not np.array_equal(batch[0], batch[1])  # real, different photos


def test_spec_round_trips_through_json_dict():
    spec = PreprocessSpec(
        input_size=260, resize=292, mean=TFLITE_MEAN, std=TFLITE_STD, interpolation="bicubic"
    )
    assert PreprocessSpec.from_dict(spec.to_dict()) == spec


def test_spec_validation_messages():
    with pytest.raises(
        ConfigError, match="'resize' parameter of PreprocessSpec must be an int >= input_size"
    ):
        PreprocessSpec(input_size=224, resize=200)
    with pytest.raises(ConfigError, match="'interpolation' parameter"):
        PreprocessSpec(interpolation="cubic")
    with pytest.raises(ValueError, match="Unknown preprocessing setting"):
        PreprocessSpec.from_dict({"input_size": 224, "crop_pct": 0.9})
