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
