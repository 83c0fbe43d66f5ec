"""Pure quality helpers on real photos and synthetic distortions (no Spark)."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from crowdlens import schema as S
from crowdlens.errors import ConfigError
from crowdlens.quality import synthetic
from crowdlens.quality.config import QualityConfig
from crowdlens.quality.duplicates import Node, check_banding, group_duplicates, probe_masks
from crowdlens.quality.flags import VOCABULARY, explain, quality_flags
from crowdlens.quality.hashing import hamming, phash
from crowdlens.quality.measures import (
    blur_extent,
    laplacian_variance,
    measure,
    noise_sigma,
    to_gray,
)
from crowdlens.stages.quality import assess_photo


def val_photos(root: Path, n: int) -> list[Image.Image]:
    files = sorted((root / "val").rglob("*.jpg"))
    step = max(1, len(files) // n)
    return [Image.open(f).convert("RGB") for f in files[::step][:n]]


def test_phash_matches_imagehash_bit_for_bit(shared_data: Path) -> None:
    imagehash = pytest.importorskip("imagehash")
    for photo in val_photos(shared_data, 12):
        assert phash(photo) == str(imagehash.phash(photo))


def test_hamming_counts_bits_and_rejects_mixed_lengths() -> None:
    assert hamming("0" * 16, "f" * 16) == 64
    assert hamming("8000000000000001", "0000000000000000") == 2
    with pytest.raises(ValueError, match="different lengths"):
        hamming("ff", "fff")


def test_blur_extent_grows_with_blur_and_ignores_contrast(shared_data: Path) -> None:
    from PIL import ImageFilter

    photo = val_photos(shared_data, 1)[0]
    values = [blur_extent(to_gray(photo.filter(ImageFilter.GaussianBlur(s)))) for s in (0, 1, 3, 6)]
    assert values == sorted(values)
    # Halving the contrast quarters the Laplacian variance but barely moves
    # blur extent, a ratio of edge variations (8-bit rounding moves it a little).
    arr = np.asarray(photo, np.float32)
    flat = Image.fromarray((arr * 0.5 + 64).astype(np.uint8))
    assert abs(blur_extent(to_gray(flat)) - values[0]) < 0.1
    assert laplacian_variance(to_gray(flat)) < 0.3 * laplacian_variance(to_gray(photo))
    assert blur_extent(np.full((64, 64), 90, np.uint8)) == 0.0


def test_measures_do_not_depend_on_resolution(shared_data: Path) -> None:
    photo = val_photos(shared_data, 2)[1]
    big = photo.resize((photo.width * 3, photo.height * 3), Image.Resampling.LANCZOS)
    small, large = measure(photo), measure(big)
    assert large.short_side == 3 * small.short_side
    assert abs(large.brightness - small.brightness) < 0.01
    assert abs(large.blur_extent - small.blur_extent) < 0.06


def test_noise_estimate_follows_added_noise() -> None:
    rng = np.random.default_rng(0)
    base = np.tile(np.linspace(40, 200, 256, dtype=np.float32), (256, 1))
    est = [
        noise_sigma(np.clip(base + rng.normal(0, s, base.shape), 0, 255).astype(np.uint8))
        for s in (0, 4, 12)
    ]
    assert est[0] < 1 < est[1] < est[2]
    assert abs(est[2] - 12) < 3


@pytest.mark.parametrize("name", sorted(k for k in synthetic.DISTORTIONS if k != "near_copy"))
def test_each_distortion_raises_exactly_its_flag(shared_data: Path, name: str) -> None:
    distort, flag = synthetic.DISTORTIONS[name]
    expected = sorted({flag, *synthetic.ALSO_FLAGS.get(name, ())}, key=VOCABULARY.index)
    rng = np.random.default_rng(7)
    cfg = QualityConfig()
    for photo in val_photos(shared_data, 8):
        m = measure(distort(photo, rng)).as_dict()
        assert quality_flags(m, cfg) == expected, (name, m)
        assert explain(flag, m, cfg).startswith(flag + ":")


def test_clean_photos_are_unflagged(shared_data: Path) -> None:
    cfg = QualityConfig()
    flagged = [
        m for p in val_photos(shared_data, 8) if quality_flags(m := measure(p).as_dict(), cfg)
    ]
    assert flagged == []


def test_assess_photo_passes_error_rows_and_reports_failures() -> None:
    cfg = QualityConfig()
    error_row = assess_photo(b"whatever", S.STATUS_ERROR, None, None, cfg)
    assert all(v is None for v in error_row.values())
    broken = assess_photo(b"not a photo", S.STATUS_OK, 10, 10, cfg)
    assert broken[S.QUALITY_FLAGS] == [] and broken[S.SHARPNESS] is None
    assert "quality measures failed" in broken[S.QUALITY_ERROR]


def test_resolution_flag_uses_the_true_size() -> None:
    cfg = QualityConfig()
    # Decoded at reduced size (JPEG draft) but 4000x3000 in truth: not low resolution.
    image = synthetic.jpeg_bytes(Image.new("RGB", (80, 60), (120, 110, 100)))
    row = assess_photo(image, S.STATUS_OK, 4000, 3000, cfg)
    assert row[S.SHORT_SIDE] == 3000 and "low_resolution" not in row[S.QUALITY_FLAGS]


def test_config_messages_name_the_parameter() -> None:
    with pytest.raises(ConfigError, match=r"The 'blur_extent_max' parameter of QualityConfig"):
        QualityConfig(blur_extent_max=-1)
    with pytest.raises(ConfigError, match=r"'hash_bands'.*one of 2, 4, 8, 16 .*Got 3\."):
        QualityConfig(hash_bands=3)
    with pytest.raises(ConfigError, match="raise quality.hash_bands"):
        check_banding(QualityConfig(hash_distance=20, hash_bands=2))


def test_every_optional_flag_is_in_the_vocabulary() -> None:
    cfg = QualityConfig(contrast_min=0.3, noise_max=0.1)
    m = measure(np.full((200, 300, 3), 128, np.uint8)).as_dict()
    m[S.NOISE] = 5.0
    # A flat grey frame: nothing in it (low_information), so its greyness is not judged.
    assert quality_flags(m, cfg) == ["low_contrast", "noisy", "low_information"]
    assert set(quality_flags(m, cfg)) <= set(VOCABULARY)


def test_banding_finds_every_pair_within_the_distance() -> None:
    """The pigeonhole argument behind the Spark join, checked on random hashes."""
    cfg = QualityConfig(hash_distance=10, hash_bands=4)
    bits, _ = check_banding(cfg)
    masks = set(probe_masks(bits, cfg.band_radius))
    rnd = random.Random(0)
    for _ in range(2000):
        a = rnd.getrandbits(64)
        flips = rnd.sample(range(64), rnd.randint(0, cfg.hash_distance))
        b = a ^ sum(1 << p for p in flips)
        bands = [((a >> s) & 0xFFFF, (b >> s) & 0xFFFF) for s in range(0, 64, bits)]
        assert any((x ^ y) in masks for x, y in bands)


def test_group_duplicates_roots_chains_at_the_first_photo() -> None:
    nodes = {
        "p3": Node("p3", 3, "s1", "ann"),
        "p1": Node("p1", 1, "s1", "bob"),
        "p2": Node("p2", 2, "s2", "bob"),
        "p9": Node("p9", None, "s9", None),
        "p0": Node("p0", 0, "s0", "ann"),
    }
    edges = [("p3", "p1"), ("p2", "p3"), ("p9", "p2")]
    got = group_duplicates(nodes, edges)
    assert got == {
        "p3": ("p1", "exact_cross_contributor"),
        "p2": ("p1", "near"),
        "p9": ("p1", "near"),
    }
    # The result does not depend on the order in which edges arrive.
    for perm in itertools.permutations(edges):
        assert group_duplicates(nodes, list(perm)) == got
