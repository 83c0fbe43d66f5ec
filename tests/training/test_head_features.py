"""``head`` mode's features on real Spark through the row layer: the pure per-batch
function (plain rows in, plain rows out) and the Spark job agree, and an
undecodable photo is an error row, never a failed job. Real pretrained
EfficientNet-Lite0, tiny photos generated in the test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from crowdlens import schema as S
from crowdlens.training.head import EMBED_COLUMNS, compute_features, embed_rows


@pytest.fixture()
def photos(tmp_path):
    paths = []
    for i, colour in enumerate([(0, 200, 0), (240, 220, 0), (250, 150, 150)]):
        path = tmp_path / f"p{i}.jpg"
        Image.new("RGB", (48, 36), colour).save(path)
        paths.append(str(path))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    paths.append(str(broken))
    return pd.DataFrame({S.PATH: paths, S.LABEL: ["a", "b", "c", "a"]})


def test_embed_rows_is_one_plain_row_per_photo(photos):
    rows = [{S.PATH: p} for p in photos[S.PATH]]
    out = embed_rows(rows, "efficientnet_lite0", flip=True)
    assert len(out) == 4 and all(set(r) == set(EMBED_COLUMNS) for r in out)
    assert [r[S.STATUS] for r in out] == [S.STATUS_OK] * 3 + [S.STATUS_ERROR]
    assert out[3][S.ERROR] and out[3][S.EMBEDDING] is None
    first, mirror = np.asarray(out[0][S.EMBEDDING]), np.asarray(out[0][S.EMBEDDING_FLIP])
    assert first.shape == (1280,) and mirror.shape == (1280,)
    assert not np.allclose(np.asarray(out[1][S.EMBEDDING]), first)  # another photo


@pytest.mark.spark
def test_compute_features_runs_through_the_row_layer(spark, photos, monkeypatch):
    import crowdlens.spark.rows as rows

    names: list[str] = []
    real = rows.map_batches

    def spy(df, fn, inputs, outputs, **options):
        names.append(options["name"])
        return real(df, fn, inputs, outputs, **options)

    monkeypatch.setattr(rows, "map_batches", spy)
    feats = compute_features(spark, photos, "efficientnet_lite0", flip=True)
    assert names == ["train_embed"]
    assert list(feats[S.PATH]) == list(photos[S.PATH]) and list(feats[S.LABEL]) == [
        "a",
        "b",
        "c",
        "a",
    ]
    assert list(feats[S.STATUS]) == [S.STATUS_OK] * 3 + [S.STATUS_ERROR]
    local = embed_rows([{S.PATH: p} for p in photos[S.PATH]], "efficientnet_lite0", flip=True)
    assert feats[S.ERROR].iloc[3] == local[3][S.ERROR] and "cannot open image" in local[3][S.ERROR]
    for i in range(3):  # the Spark workers compute what the pure function computes
        for column in (S.EMBEDDING, S.EMBEDDING_FLIP):
            np.testing.assert_allclose(
                np.asarray(feats[column].iloc[i], dtype=np.float32),
                np.asarray(local[i][column]),
                rtol=1e-4,
                atol=1e-5,
            )
    assert feats[S.EMBEDDING].iloc[3] is None


def test_augmented_views_are_the_same_for_the_same_photo_and_view(shared_data):
    """Tail mode's extra training views: drawn per (view, photo path), so every worker and
    every run computes the same view whatever the batch or its order."""
    paths = [str(p) for p in sorted((shared_data / "train").rglob("Banana/*.jpg"))[:3]]
    rows = [{S.PATH: p} for p in paths]

    def view(augment, order=rows):
        out = embed_rows(order, "efficientnet_lite0", flip=False, augment=augment)
        return {r[S.PATH]: np.asarray(o[S.EMBEDDING]) for r, o in zip(order, out)}

    first, again, reordered = view(0), view(0), view(0, rows[::-1])
    other, plain = view(1), view(None)
    for p in paths:
        np.testing.assert_array_equal(first[p], again[p])
        np.testing.assert_array_equal(first[p], reordered[p])
        assert not np.allclose(first[p], other[p], atol=1e-3)  # another draw
        assert not np.allclose(first[p], plain[p], atol=1e-3)  # not the evaluation crop


@pytest.mark.spark
def test_feature_views_appends_augmented_views_and_caches_each(spark, photos, tmp_path):
    from crowdlens.training.head import feature_views

    cache = tmp_path / "cache"
    views, table = feature_views(
        spark, photos, ["efficientnet_lite0"], cache=cache, augment_views=2
    )
    assert len(views) == 4 and all(v.shape == (4, 1280) for v in views)
    assert list(table[S.STATUS]) == [S.STATUS_OK] * 3 + [S.STATUS_ERROR]
    assert all(not v[3].any() for v in views)  # the broken photo: zeros in every view
    assert len(list(cache.glob("*.parquet"))) == 3  # photo + mirror, then one per augmented view
    plain, _ = feature_views(spark, photos, ["efficientnet_lite0"], cache=cache)
    assert len(plain) == 2
    np.testing.assert_array_equal(plain[0], views[0])


def test_without_spark_features_come_from_the_cache_or_a_clear_error(photos, tmp_path):
    from crowdlens.errors import CrowdlensError

    with pytest.raises(CrowdlensError, match="4 photos are not in the cache .* no Spark session"):
        compute_features(None, photos[[S.PATH]], "efficientnet_lite0", cache=tmp_path / "empty")
