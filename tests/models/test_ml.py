"""The Spark ML wrappers compose in a Pipeline and survive save/load."""

from __future__ import annotations

import pytest

from crowdlens import schema as S

pytestmark = pytest.mark.spark


def test_pipeline_of_transformers_saves_and_loads(spark, mobilenet_bundle, photo_bytes, tmp_path):
    from pyspark.ml import Pipeline, PipelineModel

    from crowdlens.errors import ConfigError
    from crowdlens.ml import ClassifyTransformer, EmbedTransformer

    rows = [(name, data, S.STATUS_OK) for name, data in sorted(photo_bytes.items())]
    df = spark.createDataFrame(rows, f"{S.IMAGE_ID} string, {S.CONTENT} binary, {S.STATUS} string")
    pipe = Pipeline(
        stages=[
            EmbedTransformer(bundlePath=str(mobilenet_bundle), batchSize=2),
            ClassifyTransformer(bundlePath=str(mobilenet_bundle), topk=2),
        ]
    )
    model = pipe.fit(df)
    model.write().overwrite().save(str(tmp_path / "pipe"))
    loaded = PipelineModel.load(str(tmp_path / "pipe"))
    assert loaded.stages[1].getOrDefault("topk") == 2
    out = {r[S.IMAGE_ID]: r for r in loaded.transform(df).collect()}
    for name in photo_bytes:
        assert out[name][S.PRED_LABEL] == name
        assert len(out[name][S.TOPK]) == 2 and len(out[name][S.EMBEDDING]) == 1280
    with pytest.raises(ConfigError, match="needs bundlePath"):
        ClassifyTransformer().transform(df)
