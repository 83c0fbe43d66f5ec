"""Pretrained backbones, model bundles and ONNX Runtime inference.

* :mod:`crowdlens.models.registry` - ``create_model(name, ...)``, ``list_models()``.
* :mod:`crowdlens.models.preprocess` - the one image -> tensor function.
* :mod:`crowdlens.models.bundle` - ``model.onnx`` + ``bundle.json`` directories.
* :mod:`crowdlens.models.hub` - a bundle path or a registry name -> a bundle (cached).
* :mod:`crowdlens.models.runtime` - one ONNX Runtime session per Python worker.
* :mod:`crowdlens.models.predict` - photo bytes -> embedding / top-k, per batch.

Importing this package imports neither torch nor onnxruntime.
"""
