"""Spark ML ``Transformer`` wrappers, so the model stages compose in a ``Pipeline``.

The wrappers hold only parameters (the bundle path and inference settings);
``transform`` calls the same stage functions the ``moderate`` pipeline uses.
They subclass ``Params`` because Pipeline persistence needs it
(``DefaultParamsWritable``): a saved pipeline stores the bundle *path*, not
the model, so the bundle must be readable where the pipeline is loaded.

Example::

    from pyspark.ml import Pipeline
    from crowdlens.ml import ClassifyTransformer, EmbedTransformer

    pipe = Pipeline(stages=[ClassifyTransformer(bundlePath="models/grocery", topk=3)])
    scored = pipe.fit(decoded_df).transform(decoded_df)   # pred_label, pred_score, topk
    pipe.write().overwrite().save("pipelines/grocery")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyspark import keyword_only
from pyspark.ml import Transformer
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame

    from crowdlens.models.predict import InferenceConfig


class _BundleParams(Params):
    bundlePath: Param[str] = Param(
        Params._dummy(),
        "bundlePath",
        "model bundle folder (model.onnx + bundle.json) or a registry model name",
        typeConverter=TypeConverters.toString,
    )
    batchSize: Param[int] = Param(
        Params._dummy(),
        "batchSize",
        "photos per ONNX Runtime call",
        typeConverter=TypeConverters.toInt,
    )
    threads: Param[int] = Param(
        Params._dummy(),
        "threads",
        "intra-op threads per worker (0 = the cores a Spark task owns)",
        typeConverter=TypeConverters.toInt,
    )

    def __init__(self) -> None:
        super().__init__()
        self._setDefault(batchSize=4, threads=0)

    def getBundlePath(self) -> str:
        return self.getOrDefault(self.bundlePath)

    def _inference_config(self, **extra: Any) -> InferenceConfig:
        from crowdlens.models.predict import InferenceConfig

        if not self.isDefined(self.bundlePath):
            from crowdlens.errors import ConfigError

            raise ConfigError(
                f"{type(self).__name__} needs bundlePath: a bundle folder or a model name "
                "such as efficientnet_lite0."
            )
        return InferenceConfig(
            batch_size=self.getOrDefault(self.batchSize),
            threads=self.getOrDefault(self.threads),
            **extra,
        )


class ClassifyTransformer(Transformer, _BundleParams, DefaultParamsReadable, DefaultParamsWritable):
    """Adds ``pred_label``, ``pred_score``, ``topk`` (and ``embedding`` with ``embed=True``)."""

    topk: Param[int] = Param(
        Params._dummy(), "topk", "labels kept per photo", typeConverter=TypeConverters.toInt
    )
    embed: Param[bool] = Param(
        Params._dummy(),
        "embed",
        "also add the embedding column, in the same pass",
        typeConverter=TypeConverters.toBoolean,
    )

    @keyword_only
    def __init__(
        self,
        *,
        bundlePath: str | None = None,
        topk: int = 5,
        embed: bool = False,
        batchSize: int = 4,
        threads: int = 0,
    ) -> None:
        super().__init__()
        self._setDefault(topk=5, embed=False)
        self._set(**self._input_kwargs)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        from crowdlens.stages.classify import classify_stage

        cfg = self._inference_config(topk=self.getOrDefault(self.topk))
        return classify_stage(
            dataset, self.getBundlePath(), cfg, embed=self.getOrDefault(self.embed)
        )


class EmbedTransformer(Transformer, _BundleParams, DefaultParamsReadable, DefaultParamsWritable):
    """Adds ``embedding``: the bundle's pooled backbone features."""

    @keyword_only
    def __init__(
        self, *, bundlePath: str | None = None, batchSize: int = 4, threads: int = 0
    ) -> None:
        super().__init__()
        self._set(**self._input_kwargs)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        from crowdlens.stages.classify import inference_stage

        return inference_stage(
            dataset,
            self.getBundlePath(),
            self._inference_config(),
            embed=True,
            classify=False,
            name="embed",
        )
