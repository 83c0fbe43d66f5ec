from __future__ import annotations

import logging

import pytest
import torch

from crowdlens.errors import CrowdlensError
from crowdlens.models.registry import (
    PretrainedConfig,
    create_model,
    get_pretrained_config,
    list_models,
    register_model,
)


def test_list_models_names_every_backbone():
    assert {
        "efficientnet_lite0",
        "efficientnet_lite1",
        "efficientnet_lite2",
        "mobilenet_v2",
        "inception_v1",
    } <= set(list_models())


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(CrowdlensError) as exc:
        create_model("resnet9000")
    msg = str(exc.value)
    assert "resnet9000" in msg
    for name in list_models():
        assert name in msg


@pytest.mark.parametrize("name", ["mobilenet_v2", "efficientnet_lite0", "inception_v1"])
def test_models_expose_features_and_classifier(name):
    cfg = get_pretrained_config(name)
    model = create_model(name, pretrained=False, num_classes=7)
    x = torch.randn(2, 3, cfg.input_size, cfg.input_size)
    with torch.no_grad():
        feats = model.forward_features(x)
        logits = model(x)
        assert torch.allclose(model.get_classifier()(feats), logits, atol=1e-5)
    assert feats.shape == (2, cfg.feature_dim)
    assert logits.shape == (2, 7)
    model.reset_classifier(0)
    with torch.no_grad():
        assert model(x).shape == (2, cfg.feature_dim)


def test_transfer_learning_keeps_backbone_and_says_so(caplog):
    pretrained = create_model("mobilenet_v2")
    with caplog.at_level(logging.INFO, logger="crowdlens.models.registry"):
        model = create_model("mobilenet_v2", num_classes=81)
    assert "dropped the pretrained 1000-class classifier" in caplog.text
    assert model.get_classifier().out_features == 81
    a, b = pretrained.state_dict(), model.state_dict()
    backbone = [k for k in a if not k.startswith("classifier")]
    assert backbone and all(torch.equal(a[k], b[k]) for k in backbone)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        assert torch.allclose(pretrained.forward_features(x), model.forward_features(x), atol=1e-5)


@pytest.mark.parametrize("name", ["efficientnet_lite0", "efficientnet_lite1"])
def test_pretrained_weights_differ_from_random_init(name):
    a = create_model(name, pretrained=True).state_dict()
    b = create_model(name, pretrained=False).state_dict()
    assert not torch.equal(a["_conv_stem.weight"], b["_conv_stem.weight"])


def test_inception_v1_has_no_offline_weights():
    with pytest.raises(CrowdlensError, match="pretrained=False"):
        create_model("inception_v1")


def test_registering_a_name_twice_is_an_error():
    cfg = get_pretrained_config("mobilenet_v2")
    with pytest.raises(ValueError, match="already registered"):
        register_model(cfg)(lambda num_classes=1000: None)


def test_pretrained_config_carries_preprocessing_and_labels():
    lite = get_pretrained_config("efficientnet_lite0")
    assert lite.preprocess.mean == (127.0, 127.0, 127.0)
    assert lite.preprocess.std == (128.0, 128.0, 128.0)
    assert lite.input_size == 224 and lite.feature_dim == 1280
    assert len(lite.labels) == 1000 and lite.labels[950] == "orange"
    assert get_pretrained_config("efficientnet_lite1").input_size == 240
    assert get_pretrained_config("efficientnet_lite2").input_size == 260


def test_pretrained_config_validates():
    with pytest.raises(ValueError, match="'feature_dim' parameter of PretrainedConfig"):
        PretrainedConfig(
            name="x", preprocess=get_pretrained_config("mobilenet_v2").preprocess, feature_dim=0
        )
